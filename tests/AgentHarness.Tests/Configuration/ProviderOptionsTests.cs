using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AgentHarness.Tests.Configuration;

public sealed partial class ProviderOptionsTests
{
    [Fact]
    public void MetadataHeaderPrefix_EmptyEnvironmentOverride_ClearsPrefixFromAppSettings()
    {
        // appsettings.json sets the prefix; AgentHarness__Providers__requesty__MetadataHeaderPrefix= (empty) overrides it.
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["AgentHarness:Providers:requesty:BaseUrl"] = "https://router.requesty.ai/v1",
                ["AgentHarness:Providers:requesty:ApiKey"] = "key-requesty",
                ["AgentHarness:Providers:requesty:IsGateway"] = "true",
                ["AgentHarness:Providers:requesty:MetadataHeaderPrefix"] = "X-Requesty-",
            })
            .AddInMemoryCollection(new Dictionary<string, string?> { ["AgentHarness:Providers:requesty:MetadataHeaderPrefix"] = string.Empty })
            .Build();
        var services = new ServiceCollection();
        services.AddAgentHarness(configuration.GetSection("AgentHarness"));
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value;

        Assert.Null(options.Providers["requesty"].MetadataHeaderPrefix);
    }

    [Fact]
    public void MetadataHeaderPrefix_SetEmptyInCode_IsNull()
    {
        var options = new ProviderOptions { MetadataHeaderPrefix = "X-Requesty-" };

        options.MetadataHeaderPrefix = string.Empty;

        Assert.Null(options.MetadataHeaderPrefix);
    }
}
