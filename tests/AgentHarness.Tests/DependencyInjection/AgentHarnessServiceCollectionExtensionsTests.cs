using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AgentHarness.Tests.DependencyInjection;

public sealed class AgentHarnessServiceCollectionExtensionsTests
{
    private static IConfiguration Configuration(Dictionary<string, string?> settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings).Build();

    private static AgentHarnessOptions Options(IServiceCollection services)
    {
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value;
    }

    [Fact]
    public void AddAgentHarness_CalledTwice_ReturnsSameBuilderAndRegistersEachServiceOnce()
    {
        var configuration = Configuration(new() { ["AgentHarness:Providers:openai:BaseUrl"] = "https://api.openai.com/v1" });
        var services = new ServiceCollection();

        var first = services.AddAgentHarness(configuration.GetSection("AgentHarness"));
        var registered = services.Select(static d => d.ServiceType).ToList();
        var second = services.AddAgentHarness(configuration.GetSection("AgentHarness"));
        var third = services.AddAgentHarness();

        Assert.Same(first, second);
        Assert.Same(first, third);
        Assert.Equal(registered, services.Select(static d => d.ServiceType));
    }

    [Fact]
    public void AddAgentHarness_TwoDifferentSections_ThrowsNamingBothPaths()
    {
        var configuration = Configuration(new()
        {
            ["AgentHarness:Providers:openai:BaseUrl"] = "https://api.openai.com/v1",
            ["Llm:Gateway:Providers:mistral:BaseUrl"] = "https://api.mistral.ai/v1",
        });
        var services = new ServiceCollection();
        services.AddAgentHarness(configuration.GetSection("AgentHarness"));

        var ex = Assert.Throws<InvalidOperationException>(() => services.AddAgentHarness(configuration.GetSection("Llm:Gateway")));

        Assert.Contains("'AgentHarness'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'Llm:Gateway'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddAgentHarness_SameSectionTwiceInOtherCase_BindsOnce()
    {
        var configuration = Configuration(new()
        {
            ["AgentHarness:Providers:openai:BaseUrl"] = "https://api.openai.com/v1",
            ["AgentHarness:Providers:openai:RequiresApiKey"] = "false",
            ["AgentHarness:BudgetThresholds:0"] = "0.5",
        });
        var services = new ServiceCollection();

        services.AddAgentHarness(configuration.GetSection("AgentHarness"));
        services.AddAgentHarness(configuration.GetSection("agentharness"));

        // A list bound twice would hold its item twice.
        Assert.Equal([0.5], Options(services).BudgetThresholds!);
    }

    [Fact]
    public void AddAgentHarness_DelegatesAndSection_ApplyInCallOrder()
    {
        var configuration = Configuration(new()
        {
            ["AgentHarness:Providers:openai:BaseUrl"] = "https://api.openai.com/v1",
            ["AgentHarness:Providers:openai:RequiresApiKey"] = "false",
            ["AgentHarness:FailuresBeforeCooldown"] = "7",
        });
        var services = new ServiceCollection();
        var order = new List<string>();

        services.AddAgentHarness(o => order.Add($"first saw {o.FailuresBeforeCooldown}"));
        services.AddAgentHarness(configuration.GetSection("AgentHarness"));
        services.AddAgentHarness(o => order.Add($"second saw {o.FailuresBeforeCooldown}"));
        services.AddAgentHarness().Configure(o => order.Add($"third saw {o.FailuresBeforeCooldown}"));
        Options(services);

        Assert.Equal(["first saw 3", "second saw 7", "third saw 7"], order);
    }

    [Fact]
    public void AddAgentHarness_SectionAfterCodeOnlyCall_ValidationNamesTheSection()
    {
        var configuration = Configuration(new() { ["Llm:Providers:openai:ApiKey"] = "key-openai" });
        var services = new ServiceCollection();
        services.AddAgentHarness();
        services.AddAgentHarness(configuration.GetSection("Llm"));

        var ex = Assert.Throws<OptionsValidationException>(() => Options(services));

        Assert.Contains("Llm:Providers:openai:BaseUrl is missing", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddAgentHarness_ModelClientsTransport_NoRedirectNoDecompressionShortDrain()
    {
        var services = new ServiceCollection();
        services.AddAgentHarness().AddProvider("openai", static p => { p.BaseUrl = new Uri("https://openai.test/v1"); p.ApiKey = "key-openai-1"; });
        using var provider = services.BuildServiceProvider();

        HttpMessageHandler handler = provider.GetRequiredService<IHttpMessageHandlerFactory>().CreateHandler(AgentHarness.Internal.DefaultAgentHarness.HttpClientName);
        while (handler is DelegatingHandler delegating)
        {
            handler = delegating.InnerHandler!;
        }

        // A given-up answer is drained for a moment at most, so a synchronous read it blocked ends near its timeout.
        var sockets = Assert.IsType<SocketsHttpHandler>(handler);
        Assert.Equal(
            (false, System.Net.DecompressionMethods.None, TimeSpan.FromMilliseconds(100)),
            (sockets.AllowAutoRedirect, sockets.AutomaticDecompression, sockets.ResponseDrainTimeout));
    }
}
