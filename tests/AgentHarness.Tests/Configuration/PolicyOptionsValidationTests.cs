using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AgentHarness.Tests.Configuration;

public sealed class PolicyOptionsValidationTests
{
    private static OptionsValidationException Fails(Action<AgentHarnessOptions> configure)
    {
        var services = new ServiceCollection();
        services.AddAgentHarness()
            .AddProvider("openai", p => { p.BaseUrl = new Uri("https://api.openai.com/v1"); p.ApiKey = "k"; })
            .Configure(configure);
        using var provider = services.BuildServiceProvider();
        return Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IAgentHarness>());
    }

    private static PolicyOptions Policy(params string[] models)
    {
        var policy = new PolicyOptions();
        foreach (var model in models)
        {
            policy.Models.Add(new PolicyMemberOptions { Model = model });
        }

        return policy;
    }

    [Fact]
    public void Validate_EmptyPolicy_Refused()
    {
        var ex = Fails(o => o.Policies["empty"] = new PolicyOptions());

        Assert.Contains("AgentHarness:Policies:empty:Models is empty", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_MemberNothingCanServe_NamesTheMember()
    {
        var ex = Fails(o => o.Policies["p"] = Policy("openai/gpt-4.1", "anthropic/claude-sonnet-4-5"));

        Assert.Contains("AgentHarness:Policies:p:Models:1:Model is 'anthropic/claude-sonnet-4-5', which no configured provider, policy or gateway can serve", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_UnknownPolicyMemberWithoutGateway_Refused()
    {
        var ex = Fails(o => o.Policies["p"] = Policy("policy/missing"));

        Assert.Contains("'policy/missing', which no configured provider, policy or gateway can serve", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_MemberListedTwice_NamesBothPlaces()
    {
        var ex = Fails(o => o.Policies["p"] = Policy("openai/gpt-4.1", "openai/gpt-4.1-mini", "OpenAI/GPT-4.1"));

        Assert.Contains("AgentHarness:Policies:p:Models:2:Model is 'OpenAI/GPT-4.1', which AgentHarness:Policies:p:Models:0 already is", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Models:1:Model", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_Cycle_ShowsThePath()
    {
        var ex = Fails(o =>
        {
            o.Policies["a"] = Policy("policy/b");
            o.Policies["b"] = Policy("openai/gpt-4.1", "policy/c");
            o.Policies["c"] = Policy("policy/a");
        });

        Assert.Contains("AgentHarness:Policies:a refers back to itself: policy/a -> policy/b -> policy/c -> policy/a", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_StickyOnFallback_AndBadWeightAndAttempts_AllReported()
    {
        var ex = Fails(o =>
        {
            var policy = Policy("openai/gpt-4.1");
            policy.Sticky = true;
            policy.AttemptsPerModel = 0;
            policy.Models[0].Weight = -1;
            o.Policies["p"] = policy;
        });

        Assert.Contains("AgentHarness:Policies:p:Sticky is true but AgentHarness:Policies:p:Strategy is Fallback", ex.Message, StringComparison.Ordinal);
        Assert.Contains("AgentHarness:Policies:p:AttemptsPerModel must be between 1 and 10; got 0", ex.Message, StringComparison.Ordinal);
        Assert.Contains("AgentHarness:Policies:p:Models:0:Weight must be a finite number greater than zero; got -1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_PolicyFromConfiguration_BindsMembersAndFlags()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AgentHarness:Providers:openai:BaseUrl"] = "https://api.openai.com/v1",
            ["AgentHarness:Providers:openai:ApiKey"] = "k",
            ["AgentHarness:Policies:claude-4:Strategy"] = "Weighted",
            ["AgentHarness:Policies:claude-4:FallbackOn"] = "Transient, ContentFilter",
            ["AgentHarness:Policies:claude-4:Models:0:Model"] = "openai/gpt-4.1",
            ["AgentHarness:Policies:claude-4:Models:0:Weight"] = "3",
            ["AgentHarness:Policies:claude-4:Models:1:Model"] = "openai/gpt-4.1-mini",
            ["AgentHarness:Policies:claude-4:Models:1:ContextWindow"] = "128000",
        }).Build();
        var services = new ServiceCollection();
        services.AddAgentHarness(configuration.GetSection("AgentHarness"));
        using var provider = services.BuildServiceProvider();

        var policy = provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value.Policies["claude-4"];

        Assert.Equal(RoutingStrategy.Weighted, policy.Strategy);
        Assert.Equal(FallbackTriggers.Transient | FallbackTriggers.ContentFilter, policy.FallbackOn);
        Assert.Equal([("openai/gpt-4.1", 3d, (int?)null), ("openai/gpt-4.1-mini", 1d, 128_000)], policy.Models.Select(m => (m.Model, m.Weight, m.ContextWindow)));
        Assert.NotNull(provider.GetRequiredService<IAgentHarness>().GetChatClient("policy/claude-4"));
    }
}
