using Microsoft.Extensions.Options;

namespace AgentHarness.ReadmeTests.Support;

public sealed class HarnessConfigurationTests
{
    [Fact]
    public void BindAndStart_MisspeltKey_ThrowsNamingItsPath()
    {
        var e = Assert.Throws<OptionsValidationException>(() => HarnessConfiguration.BindAndStart(
            """{ "AgentHarness": { "Budgets": { "x": { "Dimension": "global", "Window": "Day", "Limt": 5 } } } }""",
            baseJson: null));

        Assert.Contains("AgentHarness:Budgets:x:Limt is not a setting", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BindAndStart_PolicyOverBaseProviders_Starts()
    {
        HarnessConfiguration.BindAndStart(
            """{ "AgentHarness": { "Policies": { "p": { "Models": [ { "Model": "openai/gpt-4.1" } ] } } } }""",
            """{ "AgentHarness": { "Providers": { "openai": { "BaseUrl": "https://api.openai.com/v1", "ApiKeyEnvironmentVariable": "README_TEST_UNSET_KEY" } } } }""");
    }

    [Theory]
    [InlineData("""{ "AgentHarness": {} }""", true)]
    [InlineData("""{ "Logging": {} }""", false)]
    [InlineData("""[ 1 ]""", false)]
    public void IsHarnessConfiguration_Document_TellsByItsRootSection(string json, bool expected)
    {
        Assert.Equal(expected, HarnessConfiguration.IsHarnessConfiguration(json));
    }
}
