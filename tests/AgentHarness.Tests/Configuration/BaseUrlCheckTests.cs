using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace AgentHarness.Tests.Configuration;

public sealed class BaseUrlCheckTests
{
    private static IReadOnlyList<FakeLogRecord> Start(string section, Dictionary<string, string?> settings)
    {
        var logs = new FakeLogCollector();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging(l => l.AddProvider(new FakeLoggerProvider(logs)));
        services.AddAgentHarness(configuration.GetSection(section));
        using var provider = services.BuildServiceProvider();
        _ = provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value;
        _ = provider.GetRequiredService<IOptionsMonitor<AgentHarnessOptions>>().CurrentValue;
        return [.. logs.GetSnapshot().Where(static r => r.Category == AgentHarnessLogCategories.Configuration)];
    }

    private static Dictionary<string, string?> Provider(string section, string name, string baseUrl) => new()
    {
        [$"{section}:Providers:{name}:BaseUrl"] = baseUrl,
        [$"{section}:Providers:{name}:RequiresApiKey"] = "false",
    };

    [Theory]
    [InlineData("https://api.openai.com")]
    [InlineData("https://api.openai.com/")]
    [InlineData("http://localhost:11434")]
    public void Validate_BaseUrlWithoutPath_WarnsOnceNamingProviderSettingAndValue(string baseUrl)
    {
        var records = Start("Llm", Provider("Llm", "openai", baseUrl));

        var warning = Assert.Single(records);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("Provider openai: Llm:Providers:openai:BaseUrl is '" + baseUrl + "', which has no path", warning.Message, StringComparison.Ordinal);
        Assert.Contains("https://api.openai.com/v1", warning.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://api.openai.com/v1")]
    [InlineData("https://my-resource.openai.azure.com/openai/v1/")]
    [InlineData("https://generativelanguage.googleapis.com/v1beta/openai/")]
    [InlineData("http://localhost:11434/v1")]
    [InlineData("https://router.requesty.ai/v1")]
    public void Validate_BaseUrlWithVersionPath_DoesNotWarn(string baseUrl)
    {
        Assert.Empty(Start("AgentHarness", Provider("AgentHarness", "p", baseUrl)));
    }
}
