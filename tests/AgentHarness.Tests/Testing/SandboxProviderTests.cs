using System.Net;
using System.Text.Json;
using AgentHarness.Testing;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using OpenAI.Chat;
using Xunit;

namespace AgentHarness.Tests.Testing;

public sealed class SandboxProviderTests
{
    private static readonly DateTimeOffset Start = new(2025, 3, 4, 5, 6, 7, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CompleteChatAsync_OfficialClient_ReturnsAnswerWithUsage()
    {
        var sandbox = new SandboxProvider(new FakeTimeProvider(Start));
        sandbox.Model("openai/gpt-4.1-nano").Reply("Hello from the sandbox");

        ChatCompletion completion = await SandboxClients.Chat(sandbox).CompleteChatAsync(
            [new SystemChatMessage("Be brief"), new UserChatMessage("Hi there")],
            cancellationToken: Ct);

        Assert.Equal("Hello from the sandbox", completion.Content[0].Text);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal("openai/gpt-4.1-nano", completion.Model);
        Assert.StartsWith("chatcmpl-sbx-", completion.Id, StringComparison.Ordinal);
        Assert.Equal(Start, completion.CreatedAt);

        // Each message costs its content (8 chars = 2 tokens) plus 3; the answer has 22 chars = 6 tokens.
        Assert.Equal(10, completion.Usage.InputTokenCount);
        Assert.Equal(6, completion.Usage.OutputTokenCount);
        Assert.Equal(16, completion.Usage.TotalTokenCount);
        Assert.Equal(0, completion.Usage.InputTokenDetails.CachedTokenCount);
        Assert.Equal(0, completion.Usage.OutputTokenDetails.ReasoningTokenCount);
    }

    [Fact]
    public void CompleteChat_SynchronousOfficialClient_ReturnsAnswer()
    {
        var sandbox = new SandboxProvider();
        sandbox.Default.Reply("sync works");

        ChatCompletion completion = SandboxClients.Chat(sandbox).CompleteChat([new UserChatMessage("Hi")], cancellationToken: Ct);

        Assert.Equal("sync works", completion.Content[0].Text);
    }

    [Fact]
    public async Task CompleteChatAsync_NoReplyScripted_AnswersWithDefaultText()
    {
        var sandbox = new SandboxProvider();
        var question = new string('q', 59) + "0123456789";

        ChatCompletion completion = await SandboxClients.Chat(sandbox, "any/model").CompleteChatAsync(
            [new UserChatMessage(question)],
            cancellationToken: Ct);

        Assert.Equal($"Sandbox answer from any/model to: {new string('q', 59)}0", completion.Content[0].Text);
    }

    [Fact]
    public async Task CompleteChatAsync_ModelWithoutScript_UsesDefaultScript()
    {
        var sandbox = new SandboxProvider();
        sandbox.Default.Reply("from default");
        sandbox.Model("scripted").Reply("from scripted");

        ChatCompletion unscripted = await SandboxClients.Chat(sandbox, "other").CompleteChatAsync([new UserChatMessage("x")], cancellationToken: Ct);
        ChatCompletion scripted = await SandboxClients.Chat(sandbox, "scripted").CompleteChatAsync([new UserChatMessage("x")], cancellationToken: Ct);

        Assert.Equal("from default", unscripted.Content[0].Text);
        Assert.Equal("other", unscripted.Model);
        Assert.Equal("from scripted", scripted.Content[0].Text);
    }

    [Fact]
    public async Task CompleteChatStreamingAsync_OfficialClient_StreamsAnswerAndFinalUsage()
    {
        var sandbox = new SandboxProvider();
        const string answer = "The quick  brown fox jumps.";
        sandbox.Model("openai/gpt-4.1-nano").Reply(answer);

        var text = new System.Text.StringBuilder();
        var contentUpdates = 0;
        ChatTokenUsage? usage = null;
        ChatFinishReason? finishReason = null;
        await foreach (var update in SandboxClients.Chat(sandbox).CompleteChatStreamingAsync([new UserChatMessage("Tell me")], cancellationToken: Ct))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
                contentUpdates++;
            }

            usage ??= update.Usage;
            finishReason ??= update.FinishReason;
        }

        Assert.Equal(answer, text.ToString());
        Assert.True(contentUpdates >= 4, $"expected the answer in several deltas, got {contentUpdates}");
        Assert.Equal(ChatFinishReason.Stop, finishReason);
        Assert.NotNull(usage);
        Assert.Equal(SandboxTokens.Count("Tell me") + 3, usage.InputTokenCount);
        Assert.Equal(SandboxTokens.Count(answer), usage.OutputTokenCount);
        Assert.True(sandbox.Requests[0].Stream);
    }

    [Fact]
    public async Task PostAsync_StreamWithUsage_SendsOpenAIChunkSequence()
    {
        var sandbox = new SandboxProvider(new FakeTimeProvider(Start));
        sandbox.Model("m").Reply("one two");
        using var http = SandboxClients.Http(sandbox);

        using var response = await http.PostAsync("v1/chat/completions", SandboxClients.Json(SandboxClients.ChatBody("m", "hi", stream: true, includeUsage: true)), Ct);
        var events = await SandboxClients.ReadEventsAsync(response);

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.Equal(5, chunks.Count);
        Assert.All(chunks, chunk =>
        {
            Assert.Equal("chat.completion.chunk", chunk.GetProperty("object").GetString());
            Assert.Equal(chunks[0].GetProperty("id").GetString(), chunk.GetProperty("id").GetString());
            Assert.Equal(Start.ToUnixTimeSeconds(), chunk.GetProperty("created").GetInt64());
            Assert.Equal("m", chunk.GetProperty("model").GetString());
        });
        var first = chunks[0].GetProperty("choices")[0].GetProperty("delta");
        Assert.Equal("assistant", first.GetProperty("role").GetString());
        Assert.Equal(string.Empty, first.GetProperty("content").GetString());
        Assert.Equal("one ", chunks[1].GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString());
        Assert.Equal("two", chunks[2].GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString());
        var last = chunks[3].GetProperty("choices")[0];
        Assert.Empty(last.GetProperty("delta").EnumerateObject());
        Assert.Equal("stop", last.GetProperty("finish_reason").GetString());
        Assert.Equal(0, chunks[4].GetProperty("choices").GetArrayLength());
        Assert.Equal(2, chunks[4].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task PostAsync_StreamWithoutIncludeUsage_SendsNoUsageChunk()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("m").Reply("one two");
        using var http = SandboxClients.Http(sandbox);

        using var response = await http.PostAsync("chat/completions", SandboxClients.Json(SandboxClients.ChatBody("m", "hi", stream: true)), Ct);
        var events = await SandboxClients.ReadEventsAsync(response);

        Assert.Equal("[DONE]", events[^1]);
        Assert.DoesNotContain(events, e => e.Contains("\"usage\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ReadAsStreamAsync_StreamedAnswer_DeliversOneEventPerRead()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("m").Reply("a b c d e f");
        using var http = SandboxClients.Http(sandbox);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = SandboxClients.Json(SandboxClients.ChatBody("m", "hi", stream: true)),
        };

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        await using var body = await response.Content.ReadAsStreamAsync(Ct);
        var buffer = new byte[64 * 1024];
        var first = System.Text.Encoding.UTF8.GetString(buffer, 0, await body.ReadAsync(buffer, Ct));
        using var reader = new StreamReader(body);
        var rest = await reader.ReadToEndAsync(Ct);

        // A pre-buffered body would hand the whole stream to the first read.
        Assert.StartsWith("data: {", first, StringComparison.Ordinal);
        Assert.EndsWith("\n\n", first, StringComparison.Ordinal);
        Assert.Equal(1, first.Split("data: ").Length - 1);
        Assert.Contains("\"role\":\"assistant\"", first, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", rest, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GenerateEmbeddingAsync_OfficialClientBase64Default_DecodesUnitVector()
    {
        var sandbox = new SandboxProvider();
        using var http = SandboxClients.Http(sandbox);

        var embedding = await SandboxClients.Embeddings(sandbox).GenerateEmbeddingAsync("hello world", cancellationToken: Ct);
        using var raw = await http.PostAsync(
            "v1/embeddings",
            SandboxClients.Json(new { model = "openai/text-embedding-3-small", input = "hello world", encoding_format = "float" }),
            Ct);
        var floats = (await SandboxClients.ReadJsonAsync(raw)).GetProperty("data")[0].GetProperty("embedding")
            .EnumerateArray().Select(value => value.GetSingle()).ToArray();

        Assert.Contains("\"encoding_format\":\"base64\"", sandbox.Requests[0].Body, StringComparison.Ordinal);
        var vector = embedding.Value.ToFloats().ToArray();
        Assert.Equal(8, vector.Length);
        Assert.Equal(floats, vector);
        Assert.Equal(1.0, Math.Sqrt(vector.Sum(v => (double)v * v)), 5);
    }

    [Fact]
    public async Task PostAsync_EmbeddingsFloatArrayInput_ReturnsDeterministicVectorsPerInput()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("emb").AnswerAs("text-embedding-3-small");
        using var http = SandboxClients.Http(sandbox);
        var body = new { model = "emb", input = new[] { "alpha", "beta", "alpha" }, dimensions = 16, encoding_format = "float" };

        using var response = await http.PostAsync("v1/embeddings", SandboxClients.Json(body), Ct);
        var json = await SandboxClients.ReadJsonAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("list", json.GetProperty("object").GetString());
        Assert.Equal("text-embedding-3-small", json.GetProperty("model").GetString());
        var vectors = json.GetProperty("data").EnumerateArray()
            .Select(item => item.GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle()).ToArray())
            .ToList();
        Assert.Equal(3, vectors.Count);
        Assert.All(vectors, v => Assert.Equal(16, v.Length));
        Assert.All(vectors, v => Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 5));
        Assert.Equal(vectors[0], vectors[2]);
        Assert.NotEqual(vectors[0], vectors[1]);
        Assert.Equal([0, 1, 2], json.GetProperty("data").EnumerateArray().Select(item => item.GetProperty("index").GetInt32()));
        var expectedTokens = SandboxTokens.Count("alpha") * 2 + SandboxTokens.Count("beta");
        Assert.Equal(expectedTokens, json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(expectedTokens, json.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task GenerateEmbeddingsAsync_OfficialClient_ReportsUsage()
    {
        var sandbox = new SandboxProvider();

        var embeddings = await SandboxClients.Embeddings(sandbox).GenerateEmbeddingsAsync(["first text", "second"], cancellationToken: Ct);

        Assert.Equal(2, embeddings.Value.Count);
        Assert.Equal(SandboxTokens.Count("first text") + SandboxTokens.Count("second"), embeddings.Value.Usage.InputTokenCount);
        Assert.Equal(["first text", "second"], sandbox.Requests[0].Inputs);
    }

    [Fact]
    public async Task PostAsync_EmbeddingsWithoutTextInput_Returns400()
    {
        var sandbox = new SandboxProvider();
        using var http = SandboxClients.Http(sandbox);

        using var response = await http.PostAsync("v1/embeddings", SandboxClients.Json(new { model = "emb", input = new[] { 1, 2 } }), Ct);
        var error = (await SandboxClients.ReadJsonAsync(response)).GetProperty("error");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("input", error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task GetModelsAsync_OfficialClient_ListsScriptedModels()
    {
        var sandbox = new SandboxProvider(new FakeTimeProvider(Start));
        sandbox.Model("policy/claude-4");
        sandbox.Model("openai/gpt-4.1-nano");

        var models = await SandboxClients.Models(sandbox).GetModelsAsync(Ct);

        Assert.Equal(["openai/gpt-4.1-nano", "policy/claude-4"], models.Value.Select(m => m.Id));
        Assert.All(models.Value, m => Assert.Equal("sandbox", m.OwnedBy));
        Assert.All(models.Value, m => Assert.Equal(Start, m.CreatedAt));
    }

    [Fact]
    public async Task GetAsync_Models_ReturnsOpenAIListShape()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("a");
        using var http = SandboxClients.Http(sandbox);

        using var response = await http.GetAsync("models", Ct);
        var json = await SandboxClients.ReadJsonAsync(response);

        Assert.Equal("list", json.GetProperty("object").GetString());
        var model = Assert.Single(json.GetProperty("data").EnumerateArray());
        Assert.Equal("a", model.GetProperty("id").GetString());
        Assert.Equal("model", model.GetProperty("object").GetString());
    }

    [Fact]
    public async Task PostAsync_UnknownPath_Returns404WithOpenAIError()
    {
        var sandbox = new SandboxProvider();
        using var http = SandboxClients.Http(sandbox);

        using var response = await http.PostAsync("v1/completions", SandboxClients.Json(new { model = "m" }), Ct);
        var error = (await SandboxClients.ReadJsonAsync(response)).GetProperty("error");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("Invalid URL (POST /v1/completions)", error.GetProperty("message").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Single(sandbox.Requests);
    }

    [Fact]
    public async Task PostAsync_MalformedJson_Returns400WithOpenAIError()
    {
        var sandbox = new SandboxProvider();
        using var http = SandboxClients.Http(sandbox);
        using var content = new StringContent("{\"model\": ", System.Text.Encoding.UTF8, "application/json");

        using var response = await http.PostAsync("v1/chat/completions", content, Ct);
        var error = (await SandboxClients.ReadJsonAsync(response)).GetProperty("error");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        Assert.Equal(JsonValueKind.Null, error.GetProperty("code").ValueKind);
        var recorded = Assert.Single(sandbox.Requests);
        Assert.Null(recorded.Model);
        Assert.Equal("{\"model\": ", recorded.Body);
    }

    [Fact]
    public async Task PostAsync_MissingModel_Returns400()
    {
        var sandbox = new SandboxProvider();
        using var http = SandboxClients.Http(sandbox);

        using var response = await http.PostAsync("v1/chat/completions", SandboxClients.Json(new { messages = Array.Empty<object>() }), Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("model", (await SandboxClients.ReadJsonAsync(response)).GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Requests_RepeatedHeader_RecordsEveryValueCaseInsensitively()
    {
        var sandbox = new SandboxProvider();
        using var http = SandboxClients.Http(sandbox);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = SandboxClients.Json(SandboxClients.ChatBody("m", "hi")),
        };
        request.Headers.TryAddWithoutValidation("X-Requesty-Agent", "agent-a");
        request.Headers.TryAddWithoutValidation("X-Requesty-Agent", "agent-b");
        request.Headers.TryAddWithoutValidation("X-Single", "only");

        using var response = await http.SendAsync(request, Ct);

        var recorded = Assert.Single(sandbox.Requests);
        Assert.Equal(["agent-a", "agent-b"], recorded.Headers["x-requesty-agent"]);
        Assert.Equal(["only"], recorded.Headers["X-SINGLE"]);
        Assert.Equal("application/json; charset=utf-8", Assert.Single(recorded.Headers["Content-Type"]));
    }

    [Fact]
    public async Task RequestsFor_SeveralModels_ReturnsOnlyThatModelsRequestsInOrder()
    {
        var sandbox = new SandboxProvider();
        using var http = SandboxClients.Http(sandbox);
        foreach (var (model, text) in new[] { ("a", "1"), ("b", "2"), ("a", "3") })
        {
            using var response = await http.PostAsync("v1/chat/completions", SandboxClients.Json(SandboxClients.ChatBody(model, text)), Ct);
        }

        Assert.Equal(["1", "3"], sandbox.RequestsFor("a").Select(r => r.LastUserMessage));
        Assert.Equal(["1", "2", "3"], sandbox.Requests.Select(r => r.LastUserMessage));
        Assert.Empty(sandbox.RequestsFor("A"));
    }

    [Fact]
    public async Task HandleAsync_ConcurrentRequestsAgainstCountedFailure_ConsumeExactlyThatMany()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("m").FailWith(503, times: 5);
        using var http = SandboxClients.Http(sandbox);

        var statuses = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(
            async () =>
            {
                using var response = await http.PostAsync("v1/chat/completions", SandboxClients.Json(SandboxClients.ChatBody("m", $"q{i}")), Ct);
                return response.StatusCode;
            },
            Ct)));

        Assert.Equal(5, statuses.Count(s => s == HttpStatusCode.ServiceUnavailable));
        Assert.Equal(35, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(40, sandbox.Requests.Count);
    }

    [Fact]
    public async Task CreateHandler_TwoHandlers_ShareScriptsAndRequestLog()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("m").Reply("shared");
        using var first = SandboxClients.Http(sandbox);
        using var second = SandboxClients.Http(sandbox);

        using var a = await first.PostAsync("v1/chat/completions", SandboxClients.Json(SandboxClients.ChatBody("m", "1")), Ct);
        using var b = await second.PostAsync("v1/chat/completions", SandboxClients.Json(SandboxClients.ChatBody("m", "2")), Ct);

        Assert.Equal("shared", (await SandboxClients.ReadJsonAsync(b)).GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(2, sandbox.Requests.Count);
        Assert.NotEqual(
            (await SandboxClients.ReadJsonAsync(a)).GetProperty("id").GetString(),
            (await SandboxClients.ReadJsonAsync(b)).GetProperty("id").GetString());
    }

    [Fact]
    public void Model_SameIdTwice_ReturnsSameScript()
    {
        var sandbox = new SandboxProvider();

        Assert.Same(sandbox.Model("m"), sandbox.Model("m"));
        Assert.NotSame(sandbox.Model("m"), sandbox.Model("M"));
        Assert.Equal("m", sandbox.Model("m").Id);
    }

    [Fact]
    public async Task HandleAsync_ThroughHarnessToAConfiguredProvider_MatchesTheRequestedId()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("openai/gpt-4.1-nano").Reply("matched by the requested id");
        using var host = PolicyHarness(sandbox);

        ChatCompletion completion = await host.Harness.GetChatClient("openai/gpt-4.1-nano").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal("matched by the requested id", completion.Content[0].Text);
        Assert.Equal("gpt-4.1-nano", sandbox.Requests.Single().Model);
    }

    [Theory]
    [InlineData("policy/claude-4", "policy/claude-4", "anthropic/claude-sonnet-4-5", "claude-sonnet-4-5")]
    [InlineData("anthropic/claude-sonnet-4-5", "anthropic/claude-sonnet-4-5", "claude-sonnet-4-5")]
    [InlineData("claude-sonnet-4-5", "claude-sonnet-4-5")]
    [InlineData("default")]
    public async Task HandleAsync_ThroughHarness_AnswersFromRequestedIdThenCandidateThenModelAsSentThenDefault(string expected, params string[] scripted)
    {
        var sandbox = new SandboxProvider();
        sandbox.Default.Reply("default");
        foreach (var id in scripted)
        {
            sandbox.Model(id).Reply(id);
        }

        using var host = PolicyHarness(sandbox);

        ChatCompletion completion = await host.Harness.GetChatClient("policy/claude-4").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal(expected, completion.Content[0].Text);
    }

    [Fact]
    public async Task HandleAsync_PolicyMemberScriptedToFail_FallsBackToTheNextMembersScript()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("anthropic/claude-sonnet-4-5").FailWith(500);
        sandbox.Model("openai/gpt-4.1").Reply("openai answered");
        using var host = PolicyHarness(sandbox);

        ChatCompletion completion = await host.Harness.GetChatClient("policy/claude-4").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal("openai answered", completion.Content[0].Text);
        Assert.Equal(["anthropic", "openai"], sandbox.Requests.Select(static r => r.Provider).Distinct());
    }

    [Fact]
    public async Task RequestsFor_ThroughHarness_MatchesRequestedIdCandidateOrModelAsSent()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("anthropic/claude-sonnet-4-5").FailWith(500, times: 1);
        using var host = PolicyHarness(sandbox);
        await host.Harness.GetChatClient("policy/claude-4").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);
        await host.Harness.GetChatClient("openai/gpt-4.1-nano").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal(3, sandbox.Requests.Count);
        Assert.Equal(2, sandbox.RequestsFor("policy/claude-4").Count);
        Assert.Equal(2, sandbox.RequestsFor("anthropic/claude-sonnet-4-5").Count);
        Assert.Equal(2, sandbox.RequestsFor("claude-sonnet-4-5").Count);
        Assert.Equal("gpt-4.1-nano", sandbox.RequestsFor("openai/gpt-4.1-nano").Single().Model);
        Assert.Empty(sandbox.RequestsFor("openai/gpt-4.1"));
    }

    /// <summary>
    /// A harness over the sandbox with providers requesty (a gateway), openai, mistral and anthropic, and a local policy
    /// claude-4 of anthropic/claude-sonnet-4-5 then openai/gpt-4.1 that falls back on a 500 after one retry.
    /// </summary>
    private static TestHarness PolicyHarness(SandboxProvider sandbox) => TestHarness.Create(new RealTransport(), b =>
    {
        TestHarness.ThreeProviders(b);
        b.AddProvider("anthropic", static p =>
        {
            p.BaseUrl = new Uri("https://anthropic.test/v1");
            p.RetryBaseDelay = TimeSpan.Zero;
        });
        b.Configure(static o =>
        {
            var policy = new PolicyOptions { RetryBaseDelay = TimeSpan.Zero, AttemptsPerModel = 2 };
            policy.Models.Add(new PolicyMemberOptions { Model = "anthropic/claude-sonnet-4-5" });
            policy.Models.Add(new PolicyMemberOptions { Model = "openai/gpt-4.1" });
            o.Policies["claude-4"] = policy;
        });
        b.UseSandbox(sandbox);
    });
}
