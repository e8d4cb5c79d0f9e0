using AgentHarness.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenAI.Chat;

namespace AgentHarness.Tests.DependencyInjection;

public sealed class AgentHarnessHostApplicationBuilderExtensionsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static HostApplicationBuilder Host(Dictionary<string, string?> settings)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        return builder;
    }

    private static Dictionary<string, string?> Provider(string section, string name) => new()
    {
        [$"{section}:Providers:{name}:BaseUrl"] = "https://api.openai.com/v1",
        [$"{section}:Providers:{name}:ApiKey"] = "key-" + name,
        [$"{section}:DefaultProvider"] = name,
    };

    [Fact]
    public void AddAgentHarness_HostConfiguration_BindsAgentHarnessSection()
    {
        var builder = Host(Provider("AgentHarness", "openai"));

        builder.AddAgentHarness();

        using var host = builder.Build();
        var options = host.Services.GetRequiredService<IOptions<AgentHarnessOptions>>().Value;
        Assert.Equal(new Uri("https://api.openai.com/v1"), options.Providers["openai"].BaseUrl);
        Assert.Equal("openai", options.DefaultProvider);
    }

    [Fact]
    public void AddAgentHarness_SectionNameAndDelegate_BindsThatSectionThenRunsDelegate()
    {
        var builder = Host(Provider("Llm:Gateway", "openai"));

        builder.AddAgentHarness("Llm:Gateway", o => o.Providers["openai"].MaxRetries = 5);

        using var host = builder.Build();
        var options = host.Services.GetRequiredService<IOptions<AgentHarnessOptions>>().Value;
        Assert.Equal("key-openai", options.Providers["openai"].ApiKey);
        Assert.Equal(5, options.Providers["openai"].MaxRetries);
    }

    [Fact]
    public void AddAgentHarness_NamedSectionInvalid_ValidationNamesThatSection()
    {
        var builder = Host(new() { ["Llm:Gateway:Providers:openai:ApiKey"] = "key-openai" });

        builder.AddAgentHarness("Llm:Gateway");

        using var host = builder.Build();
        var ex = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IOptions<AgentHarnessOptions>>().Value);
        Assert.Contains("Llm:Gateway:Providers:openai:BaseUrl is missing", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddAgentHarness_HostThenServices_ReturnsSameBuilderAndRegistersOnce()
    {
        var builder = Host(Provider("AgentHarness", "openai"));

        var first = builder.AddAgentHarness();
        var registered = builder.Services.Select(static d => d.ServiceType).ToList();
        var second = builder.Services.AddAgentHarness();
        var third = builder.AddAgentHarness();

        Assert.Same(first, second);
        Assert.Same(first, third);
        Assert.Equal(registered, builder.Services.Select(static d => d.ServiceType));
    }

    [Fact]
    public async Task AddAgentHarness_ThenServicesUseSandbox_CallsReachTheSandbox()
    {
        var builder = Host(Provider("AgentHarness", "openai"));
        var sandbox = new SandboxProvider();
        sandbox.Default.Reply("from the sandbox");

        builder.AddAgentHarness();
        builder.Services.AddAgentHarness().UseSandbox(sandbox);

        using var host = builder.Build();
        var chat = host.Services.GetRequiredService<IAgentHarness>().GetChatClient("openai/gpt-4.1-nano");
        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);
        Assert.Equal("from the sandbox", completion.Content[0].Text);
        Assert.Single(sandbox.Requests);
    }

    [Fact]
    public void AddAgentHarness_SecondCallNamesAnotherSection_ThrowsNamingBothPaths()
    {
        var builder = Host(Provider("AgentHarness", "openai"));
        builder.AddAgentHarness();

        var ex = Assert.Throws<InvalidOperationException>(() => builder.AddAgentHarness("Llm"));

        Assert.Contains("'AgentHarness'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'Llm'", ex.Message, StringComparison.Ordinal);
    }
}
