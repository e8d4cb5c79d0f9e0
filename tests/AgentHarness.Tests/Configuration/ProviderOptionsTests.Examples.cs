using System.Text;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace AgentHarness.Tests.Configuration;

/// <summary>
/// The README's provider examples (section "Providers"), bound from JSON as an application binds appsettings.json, each
/// checked for the shape of the request the provider receives: its address, its credential, its headers and its model.
/// Keys are inline here; the README names environment variables instead.
/// </summary>
public sealed partial class ProviderOptionsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<CapturedRequest> SendAsync(string providersJson, string model, string expectedUrl)
    {
        var json = $$"""{ "AgentHarness": { "Providers": {{{providersJson}}} } }""";
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        var mock = new RecordingMock();
        mock.Respond(expectedUrl, _ => Responses.Json(Responses.ChatJson("answered")));
        using var host = TestHarness.Create(mock.Handler, b => b.Services.AddAgentHarness(configuration.GetSection("AgentHarness")));

        await host.Harness.GetChatClient(model).CompleteChatAsync([new UserChatMessage("Review this diff.")], cancellationToken: Ct);

        var request = Assert.Single(mock.Requests);
        Assert.Equal(new Uri(expectedUrl), request.Uri);
        return request;
    }

    private static string BodyModel(CapturedRequest request) =>
        System.Text.Json.JsonDocument.Parse(request.Body).RootElement.GetProperty("model").GetString()!;

    [Fact]
    public async Task Example_AzureOpenAIWithKey_ApiKeyHeaderAndNoAuthorizationAtTheV1Endpoint()
    {
        var request = await SendAsync(
            """
            "azure": {
              "BaseUrl": "https://contoso.openai.azure.com/openai/v1/",
              "Authentication": "ApiKeyHeader",
              "ApiKey": "azure-key-0123456789"
            }
            """,
            "azure/gpt-4.1-mini",
            "https://contoso.openai.azure.com/openai/v1/chat/completions");

        Assert.Equal(["azure-key-0123456789"], request.HeaderValues("api-key"));
        Assert.Empty(request.HeaderValues("Authorization"));
        Assert.Equal("gpt-4.1-mini", BodyModel(request));
    }

    [Fact]
    public async Task Example_AnthropicOpenAICompatible_BearerKeyAtItsV1Endpoint()
    {
        var request = await SendAsync(
            """
            "anthropic": { "BaseUrl": "https://api.anthropic.com/v1/", "ApiKey": "sk-ant-api03-0123456789" }
            """,
            "anthropic/claude-sonnet-4-5",
            "https://api.anthropic.com/v1/chat/completions");

        Assert.Equal(["Bearer sk-ant-api03-0123456789"], request.HeaderValues("Authorization"));
        Assert.Equal("claude-sonnet-4-5", BodyModel(request));
    }

    [Fact]
    public async Task Example_GeminiOpenAICompatible_BearerKeyUnderV1betaOpenAI()
    {
        var request = await SendAsync(
            """
            "gemini": { "BaseUrl": "https://generativelanguage.googleapis.com/v1beta/openai/", "ApiKey": "AIzaSy-test-0123456789" }
            """,
            "gemini/gemini-2.5-flash",
            "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions");

        Assert.Equal(["Bearer AIzaSy-test-0123456789"], request.HeaderValues("Authorization"));
        Assert.Equal("gemini-2.5-flash", BodyModel(request));
    }

    [Fact]
    public async Task Example_LocalOllama_NoKeyAndNoAuthorizationHeader()
    {
        var request = await SendAsync(
            """
            "ollama": { "BaseUrl": "http://localhost:11434/v1", "RequiresApiKey": false }
            """,
            "ollama/llama3.2",
            "http://localhost:11434/v1/chat/completions");

        Assert.Empty(request.HeaderValues("Authorization"));
        Assert.Equal("llama3.2", BodyModel(request));
    }

    [Fact]
    public async Task Example_OpenRouter_BearerKeyAttributionHeadersAndTheVendorsModelId()
    {
        var request = await SendAsync(
            """
            "openrouter": {
              "BaseUrl": "https://openrouter.ai/api/v1",
              "ApiKey": "sk-or-v1-0123456789",
              "IsGateway": true,
              "Headers": { "HTTP-Referer": "https://example.com/code-review", "X-Title": "Code Review Agent" }
            }
            """,
            "openrouter/anthropic/claude-sonnet-4.5",
            "https://openrouter.ai/api/v1/chat/completions");

        Assert.Equal(["Bearer sk-or-v1-0123456789"], request.HeaderValues("Authorization"));
        Assert.Equal(["https://example.com/code-review"], request.HeaderValues("HTTP-Referer"));
        Assert.Equal(["Code Review Agent"], request.HeaderValues("X-Title"));
        Assert.Equal("anthropic/claude-sonnet-4.5", BodyModel(request));
    }

    [Fact]
    public async Task Example_Portkey_KeyInItsOwnHeaderAndItsRoutingHeaders()
    {
        var request = await SendAsync(
            """
            "portkey": {
              "BaseUrl": "https://api.portkey.ai/v1",
              "Authentication": "ApiKeyHeader",
              "ApiKeyHeader": "x-portkey-api-key",
              "ApiKey": "pk-test-0123456789",
              "IsGateway": true,
              "Headers": { "x-portkey-config": "pc-review-1a2b3c" }
            }
            """,
            "portkey/gpt-4.1",
            "https://api.portkey.ai/v1/chat/completions");

        Assert.Equal(["pk-test-0123456789"], request.HeaderValues("x-portkey-api-key"));
        Assert.Equal(["pc-review-1a2b3c"], request.HeaderValues("x-portkey-config"));
        Assert.Empty(request.HeaderValues("Authorization"));
    }
}
