using AgentHarness.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AgentHarness.Tests.Configuration;

/// <summary>Credential settings and fixed provider headers are checked at start, with the setting's path and the bad value.</summary>
public sealed class ProviderCredentialsCheckTests
{
    private static string Fails(Dictionary<string, string?> settings, Action<IAgentHarnessBuilder>? configure = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["AgentHarness:Providers:openrouter:BaseUrl"] = "https://openrouter.ai/api/v1",
            ["AgentHarness:Providers:openrouter:ApiKey"] = "sk-or-v1-0123456789",
            ["AgentHarness:Providers:requesty:BaseUrl"] = "https://router.requesty.ai/v1",
            ["AgentHarness:Providers:requesty:ApiKey"] = "rq-key-0123456789",
            ["AgentHarness:Providers:requesty:IsGateway"] = "true",
            ["AgentHarness:Providers:requesty:MetadataHeaderPrefix"] = "X-Requesty-",
            ["AgentHarness:DefaultGateway"] = "requesty",
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(all).Build();
        var services = new ServiceCollection();
        var builder = services.AddAgentHarness(configuration.GetSection("AgentHarness"));
        configure?.Invoke(builder);
        using var provider = services.BuildServiceProvider();
        return Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value).Message;
    }

    [Theory]
    [InlineData("Authorization")]
    [InlineData("api-key")]
    [InlineData("X-Api-Key")]
    [InlineData("Proxy-Authorization")]
    public void Validate_HeaderThatCarriesACredential_RefusedWithItsPathAndNotItsValue(string header)
    {
        var message = Fails(new() { [$"AgentHarness:Providers:openrouter:Headers:{header}"] = "Bearer sk-smuggled-value" });

        Assert.Contains($"AgentHarness:Providers:openrouter:Headers:{header} is refused: {header} carries a credential", message, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-smuggled-value", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_HeaderNamedAsAnotherProvidersKeyHeader_Refused()
    {
        var message = Fails(new()
        {
            ["AgentHarness:Providers:azure:BaseUrl"] = "https://contoso.openai.azure.com/openai/v1/",
            ["AgentHarness:Providers:azure:ApiKey"] = "azure-key-0123456789",
            ["AgentHarness:Providers:azure:Authentication"] = "ApiKeyHeader",
            ["AgentHarness:Providers:azure:ApiKeyHeader"] = "Ocp-Key",
            ["AgentHarness:Providers:openrouter:Headers:ocp-key"] = "x",
        });

        Assert.Contains("AgentHarness:Providers:openrouter:Headers:ocp-key is refused: ocp-key carries the key of the provider 'azure' (AgentHarness:Providers:azure:ApiKeyHeader)", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_HeaderWithAGatewaysMetadataPrefix_Refused()
    {
        var message = Fails(new() { ["AgentHarness:Providers:openrouter:Headers:X-Requesty-Agent"] = "spoofed" });

        Assert.Contains("AgentHarness:Providers:openrouter:Headers:X-Requesty-Agent is refused: headers starting with 'X-Requesty-' carry the harness's run metadata to the gateway 'requesty'", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_HeaderValueWithLineBreak_RefusedShowingTheValueEscaped()
    {
        var message = Fails(new() { ["AgentHarness:Providers:openrouter:Headers:X-Title"] = "Agent\r\nX-Injected: 1" });

        Assert.Contains(@"AgentHarness:Providers:openrouter:Headers:X-Title is 'Agent\r\nX-Injected: 1', which cannot be sent as a header value: it contains a carriage return (CR) at position 5", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_HeaderValueHoldingAnotherProvidersKey_Refused()
    {
        var message = Fails(new() { ["AgentHarness:Providers:openrouter:Headers:X-Upstream"] = "rq-key-0123456789" });

        Assert.Contains("AgentHarness:Providers:openrouter:Headers:X-Upstream is refused: its value holds the API key of the provider 'requesty'", message, StringComparison.Ordinal);
        Assert.DoesNotContain("rq-key-0123456789", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Host")]
    [InlineData("Content-Type")]
    [InlineData("Transfer-Encoding")]
    public void Validate_HeaderTheTransportWrites_Refused(string header)
    {
        var message = Fails(new() { [$"AgentHarness:Providers:openrouter:Headers:{header}"] = "x" });

        Assert.Contains($"AgentHarness:Providers:openrouter:Headers:{header} is refused: {header} is written by the HTTP transport", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_HeaderNameNotAToken_RefusedShowingTheName()
    {
        var message = Fails(new() { ["AgentHarness:Providers:openrouter:Headers:X Title"] = "x" });

        Assert.Contains("AgentHarness:Providers:openrouter:Headers has an entry named 'X Title', which cannot be a header name: it contains the character ' ' at position 1", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_UnknownAuthentication_NamesTheSettingAndTheValue()
    {
        var message = Fails(new() { ["AgentHarness:Providers:openrouter:Authentication"] = "Basic" });

        Assert.Contains("AgentHarness:Providers:openrouter:Authentication is 'Basic'; use Bearer, ApiKeyHeader or Token", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ApiKeyHeaderWithBearer_AsksForApiKeyHeaderAuthentication()
    {
        var message = Fails(new() { ["AgentHarness:Providers:openrouter:ApiKeyHeader"] = "api-key" });

        Assert.Contains("AgentHarness:Providers:openrouter:ApiKeyHeader is 'api-key' but AgentHarness:Providers:openrouter:Authentication is Bearer", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Authorization", "a key in Authorization is sent by Authentication Bearer")]
    [InlineData("Content-Type", "Content-Type is written by the HTTP transport")]
    [InlineData("X-Requesty-Key", "headers starting with 'X-Requesty-'")]
    [InlineData("api key", "it contains the character ' ' at position 3")]
    public void Validate_KeyHeaderThatCannotCarryAKey_Refused(string header, string problem)
    {
        var message = Fails(new()
        {
            ["AgentHarness:Providers:openrouter:Authentication"] = "ApiKeyHeader",
            ["AgentHarness:Providers:openrouter:ApiKeyHeader"] = header,
        });

        Assert.Contains($"AgentHarness:Providers:openrouter:ApiKeyHeader is '{header}', which cannot carry the key: {problem}", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_TokenProviderWithoutSource_NamesTheProviderAndTheFix()
    {
        var message = Fails(new()
        {
            ["AgentHarness:Providers:azure:BaseUrl"] = "https://contoso.openai.azure.com/openai/v1/",
            ["AgentHarness:Providers:azure:Authentication"] = "Token",
        });

        Assert.Contains("AgentHarness:Providers:azure:Authentication is Token, but no token source is registered for 'azure': call AddAzureCredential(\"azure\", credential)", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_TokenProviderWithKey_RefusedWithoutShowingTheKey()
    {
        var message = Fails(
            new()
            {
                ["AgentHarness:Providers:azure:BaseUrl"] = "https://contoso.openai.azure.com/openai/v1/",
                ["AgentHarness:Providers:azure:ApiKey"] = "azure-key-0123456789",
            },
            b => b.AddProviderTokenSource("azure", new FakeTokenSource(TimeProvider.System)));

        Assert.Contains("AgentHarness:Providers:azure:Authentication is Token, but AgentHarness:Providers:azure:ApiKey is set", message, StringComparison.Ordinal);
        Assert.DoesNotContain("azure-key-0123456789", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_TokenSourceForUnconfiguredProvider_AsksForItsBaseUrl()
    {
        var message = Fails(new(), b => b.AddProviderTokenSource("azur", new FakeTokenSource(TimeProvider.System)));

        Assert.Contains("AgentHarness:Providers:azur:BaseUrl is missing", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_TokenScopeWithoutTokenAuthentication_Refused()
    {
        var message = Fails(new() { ["AgentHarness:Providers:openrouter:TokenScope"] = "https://cognitiveservices.azure.com/.default" });

        Assert.Contains("AgentHarness:Providers:openrouter:TokenScope is 'https://cognitiveservices.azure.com/.default' but AgentHarness:Providers:openrouter:Authentication is Bearer", message, StringComparison.Ordinal);
    }
}
