using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text;
using System.Text.Json;
using AgentHarness.Testing;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;
using OpenAI.Models;
using Xunit;

namespace AgentHarness.Tests.Testing;

/// <summary>Clients wired to a sandbox in process: the official OpenAI ones, and raw HTTP for wire-level checks.</summary>
internal static class SandboxClients
{
    public static readonly Uri Endpoint = new("https://sandbox.test/v1");

    public static ChatClient Chat(SandboxProvider sandbox, string model = "openai/gpt-4.1-nano") =>
        new(model, new ApiKeyCredential("k"), Options(sandbox));

    public static EmbeddingClient Embeddings(SandboxProvider sandbox, string model = "openai/text-embedding-3-small") =>
        new(model, new ApiKeyCredential("k"), Options(sandbox));

    public static OpenAIModelClient Models(SandboxProvider sandbox) => new(new ApiKeyCredential("k"), Options(sandbox));

    public static HttpClient Http(SandboxProvider sandbox) => new(sandbox.CreateHandler()) { BaseAddress = new Uri("https://sandbox.test/") };

    public static StringContent Json(object body) =>
        new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    public static object ChatBody(string model, string user, bool stream = false, bool includeUsage = false) =>
        includeUsage
            ? new { model, stream, stream_options = new { include_usage = true }, messages = new[] { new { role = "user", content = user } } }
            : new { model, stream, messages = new[] { new { role = "user", content = user } } };

    public static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return JsonDocument.Parse(text).RootElement;
    }

    /// <summary>Reads a server-sent-events body into the payloads of its <c>data:</c> lines.</summary>
    public static async Task<List<string>> ReadEventsAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.All(events, e => Assert.StartsWith("data: ", e, StringComparison.Ordinal));
        return [.. events.Select(e => e["data: ".Length..])];
    }

    private static OpenAIClientOptions Options(SandboxProvider sandbox) => new()
    {
        Endpoint = Endpoint,
        Transport = new HttpClientPipelineTransport(new HttpClient(sandbox.CreateHandler())),

        // Fault tests must see every scripted failure themselves, not have the SDK retry past it.
        RetryPolicy = new ClientRetryPolicy(0),
    };
}
