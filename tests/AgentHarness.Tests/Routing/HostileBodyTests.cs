using System.Net;
using System.Net.Http.Headers;
using System.Text;
using AgentHarness.Catalog.Internal;
using AgentHarness.Internal;
using AgentHarness.Routing.Internal;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Time.Testing;
using OpenAI.Chat;

namespace AgentHarness.Tests.Routing;

/// <summary>
/// Upstreams that send bytes no real provider would: text that is not UTF-8, events without output
/// before an error, endless and inflating bodies. Each is a failure of that candidate (or malformed
/// input), never a crash, an unbounded allocation or a lost record.
/// </summary>
public sealed class HostileBodyTests
{
    private const string ChatUrl = "https://openai.test/v1/chat/completions";
    private const string MistralUrl = "https://mistral.test/v1/chat/completions";
    private const string RoleOnly = """data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}""" + "\n\n";
    private const string ErrorEvent = """data: {"error":{"message":"overloaded","type":"server_error","code":"server_error"}}""" + "\n\n";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The text as UTF-8, with every § replaced by the byte 0xE9: Latin-1 for é, and not UTF-8.</summary>
    private static byte[] Latin1(string text) =>
        [.. Encoding.UTF8.GetBytes(text.Replace('\u00a7', '\u0001')).Select(static b => b == 1 ? (byte)0xE9 : b)];

    private static HttpResponseMessage Bytes(byte[] body, HttpStatusCode status = HttpStatusCode.OK, string mediaType = "application/json")
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return new HttpResponseMessage(status) { Content = content };
    }

    private static void Chain(IAgentHarnessBuilder builder) => builder.Configure(static o =>
    {
        var policy = new PolicyOptions { RetryBaseDelay = TimeSpan.Zero, AttemptsPerModel = 1 };
        policy.Models.Add(new PolicyMemberOptions { Model = "openai/gpt-4.1" });
        policy.Models.Add(new PolicyMemberOptions { Model = "mistral/mistral-large" });
        o.Policies["chain"] = policy;
    });

    /// <summary>Sends a raw request through the harness's pipeline, as an official client would, without the client parsing the answer.</summary>
    private static Task<HttpResponseMessage> SendAsync(TestHarness host, byte[] body)
    {
        var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient(DefaultAgentHarness.HttpClientName);
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return client.PostAsync(new Uri(RoutingHandler.VirtualEndpoint + "/chat/completions"), content, Ct);
    }

    private static async Task<string> StreamTextAsync(ChatClient client)
    {
        var text = new StringBuilder();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        return text.ToString();
    }

    // ---- Text that is not UTF-8 ----

    [Fact]
    public async Task Direct_503WithLatin1ByteInItsMessage_RetriedThenAnswered()
    {
        var mock = new RecordingMock();
        mock.RespondSequence(
            ChatUrl,
            _ => Bytes(Latin1("""{"error":{"message":"Service indisponible, r§essayez","type":"server_error"}}"""), HttpStatusCode.ServiceUnavailable),
            _ => Responses.Json(Responses.ChatJson("gpt-4.1", content: "ok")));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        var completion = await host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        Assert.Equal("ok", completion.Value.Content[0].Text);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Succeeded, record.Outcome);
        Assert.Equal([(AttemptOutcome.Failed, 503, "HTTP 503 server_error"), (AttemptOutcome.Succeeded, 200, null)], record.Attempts.Select(a => (a.Outcome, a.StatusCode ?? 0, a.Error)));
    }

    [Fact]
    public async Task Policy_503WithLatin1ByteInItsMessage_FallsBackToTheNextMember()
    {
        var mock = new RecordingMock();
        mock.Respond(ChatUrl, _ => Bytes(Latin1("""{"error":{"message":"r§essayez"}}"""), HttpStatusCode.ServiceUnavailable));
        mock.Respond(MistralUrl, _ => Responses.Json(Responses.ChatJson("mistral-large", content: "from B")));
        using var host = TestHarness.Create(mock.Handler, b => { TestHarness.ThreeProviders(b); Chain(b); });

        var completion = await host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        Assert.Equal("from B", completion.Value.Content[0].Text);
        Assert.Equal(UsageOutcome.Succeeded, Assert.Single(host.Ledger.GetRecords()).Outcome);
    }

    [Fact]
    public async Task Completion_ModelNotUtf8WithUsage_RecordedSucceededAndPricedFromItsUsage()
    {
        var mock = new RecordingMock();
        mock.Respond(ChatUrl, _ => Bytes(Latin1(Responses.ChatJson("gpt-4.1-caf§", promptTokens: 1000, completionTokens: 2000))));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            b.Configure(static o => o.Catalog.Models["openai/gpt-4.1"] = new ModelPriceOptions { InputPerToken = 0.000001m, OutputPerToken = 0.000002m });
        });

        using var response = await SendAsync(host, """{"model":"openai/gpt-4.1","messages":[{"role":"user","content":"a"}]}"""u8.ToArray());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Succeeded, null, 1000, 2000), (record.Outcome, record.ModelUsed, record.InputTokens, record.OutputTokens));
        Assert.Equal((0.005m, CostBasis.Catalog), (record.CostUsd, record.CostBasis));
    }

    [Fact]
    public async Task Request_ModelNotUtf8_OneRejectedRecordAndUnroutableModelExceptionBeforeAnyRequest()
    {
        var mock = new RecordingMock();
        mock.Respond(ChatUrl, _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = TestHarness.Create(mock.Handler, b => { TestHarness.ThreeProviders(b); b.Configure(static o => o.DefaultProvider = "openai"); });

        var ex = await Assert.ThrowsAsync<UnroutableModelException>(() => SendAsync(host, Latin1("""{"model":"openai/gpt-4.1-caf§","messages":[]}""")));

        Assert.Contains("not valid text", ex.Message, StringComparison.Ordinal);
        Assert.Empty(mock.Requests);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Rejected, ex.Message), (record.Outcome, record.Error));
    }

    [Fact]
    public async Task Completion_NegativeTokenCounts_TreatedAsAbsentAndEstimated()
    {
        var mock = new RecordingMock();
        mock.Respond(ChatUrl, _ => Responses.Json(Responses.ChatJson("gpt-4.1", promptTokens: -1_000_000, completionTokens: 5, cachedTokens: -3)));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        await host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        // An absent input count is estimated from the request, not charged as zero; the output count stands.
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((5, 0, CostBasis.Estimated), (record.OutputTokens, record.CachedInputTokens, record.CostBasis));
        Assert.InRange(record.InputTokens, 1, 64);
        Assert.True(record.CostUsd > 0m);
    }

    // ---- Events without output ----

    [Fact]
    public async Task Streaming_RoleOnlyChunkThenErrorEvent_FallsBackToTheNextMember()
    {
        var mock = new RecordingMock();
        // The role-only chunk arrives alone, as a provider flushes it, before the error event.
        mock.Respond(ChatUrl, _ => StallingStream.Response([RoleOnly, ErrorEvent], end: true));
        mock.Respond(MistralUrl, _ => Responses.EventStream(Responses.ChatStream("mistral-large", ["o", "k"])));
        using var host = TestHarness.Create(mock.Handler, b => { TestHarness.ThreeProviders(b); Chain(b); });

        var text = await StreamTextAsync(host.Harness.GetChatClient("policy/chain"));

        Assert.Equal("ok", text);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Succeeded, "mistral"), (record.Outcome, record.Provider));
        Assert.Equal("HTTP 500 server_error", record.Attempts[0].Error);
    }

    [Fact]
    public async Task Streaming_NoOutputThenDone_CommittedAsAnEmptyAnswer()
    {
        var mock = new RecordingMock();
        mock.Respond(ChatUrl, _ => Responses.EventStream(RoleOnly + Responses.ChatStream("gpt-4.1", [], promptTokens: 4, completionTokens: 0)));
        mock.Respond(MistralUrl, _ => Responses.EventStream(Responses.ChatStream("mistral-large", ["other"])));
        using var host = TestHarness.Create(mock.Handler, b => { TestHarness.ThreeProviders(b); Chain(b); });

        var text = await StreamTextAsync(host.Harness.GetChatClient("policy/chain"));

        Assert.Equal(string.Empty, text);
        Assert.DoesNotContain(mock.Requests, r => r.Uri.Host == "mistral.test");
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Succeeded, "openai", 4), (record.Outcome, record.Provider, record.InputTokens));
    }

    // ---- Bodies without end ----

    [Fact]
    public async Task Policy_EndlessAnswer_FallsBackAndTheReadStoppedAtTheLimit()
    {
        EndlessStream? body = null;
        var mock = new RecordingMock();
        mock.Respond(ChatUrl, _ =>
        {
            var (response, stream) = EndlessStream.Response("""{"id":"x","choices":[{"message":{"content":" """, "a", "application/json");
            body = stream;
            return response;
        });
        mock.Respond(MistralUrl, _ => Responses.Json(Responses.ChatJson("mistral-large", content: "from B")));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Chain(b);
            b.Configure(static o => o.MaxResponseBytes = 1024 * 1024);
        });

        var completion = await host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        Assert.Equal("from B", completion.Value.Content[0].Text);
        Assert.Equal((1024 * 1024) + 1, body!.Pulled);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal("answer larger than MaxResponseBytes (1048576 bytes)", record.Attempts[0].Error);
    }

    // ---- A success status on something that is no answer ----

    [Theory]
    [InlineData("<html><body>Service temporarily unavailable</body></html>", "text/html", "the answer was not a whole JSON object")]
    [InlineData("""{"id":"c","object":"chat.completion","choices":[""", "application/json", "the answer was not a whole JSON object")]
    [InlineData("", "application/json", "the answer was empty")]
    [InlineData("data: {\"id\":\"c1\"}\n\n", "application/json", "the answer was not a whole JSON object")]
    [InlineData("data: {\"id\":\"c1\"}\n\ndata: [DONE]\n\n", "text/event-stream", "the answer was not a whole JSON object")]
    public async Task Policy_SuccessStatusOnNoAnswer_FallsBackToTheNextMember(string body, string mediaType, string reason)
    {
        var mock = new RecordingMock();
        mock.Respond(ChatUrl, _ => Bytes(Encoding.UTF8.GetBytes(body), mediaType: mediaType));
        mock.Respond(MistralUrl, _ => Responses.Json(Responses.ChatJson("mistral-large", "fine")));
        using var host = TestHarness.Create(mock.Handler, b => { TestHarness.ThreeProviders(b); Chain(b); });

        var completion = await host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        Assert.Equal("fine", completion.Value.Content[0].Text);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Succeeded, "mistral"), (record.Outcome, record.Provider));
        Assert.Equal((AttemptOutcome.Failed, 200, reason), (record.Attempts[0].Outcome, record.Attempts[0].StatusCode, record.Attempts[0].Error));
    }

    [Fact]
    public async Task Streaming_WholeJsonChatAnswerToAStreamedRequest_HandedOnAsTheStreamWithItsUsage()
    {
        var mock = new RecordingMock();
        // A server that ignores "stream": 200, application/json, the whole completion, once.
        mock.Respond(ChatUrl, _ => Responses.Json(Responses.ChatJson("gpt-4.1", content: "whole answer", promptTokens: 40, completionTokens: 9)));
        mock.Respond(MistralUrl, _ => Responses.EventStream(Responses.ChatStream("mistral-large", ["o", "k"])));
        using var host = TestHarness.Create(mock.Handler, b => { TestHarness.ThreeProviders(b); Chain(b); });

        var text = await StreamTextAsync(host.Harness.GetChatClient("policy/chain"));

        Assert.Equal("whole answer", text);
        Assert.Single(mock.Requests);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Succeeded, "openai", true), (record.Outcome, record.Provider, record.Streaming));
        Assert.Equal((40, 9, CostBasis.Catalog), (record.InputTokens, record.OutputTokens, record.CostBasis));
    }

    [Fact]
    public async Task Streaming_WholeJsonErrorObjectToAStreamedRequest_FallsBackToTheNextMember()
    {
        var mock = new RecordingMock();
        mock.Respond(ChatUrl, _ => Responses.Json("""{"error":{"message":"overloaded","type":"server_error","code":"server_error"}}"""));
        mock.Respond(MistralUrl, _ => Responses.EventStream(Responses.ChatStream("mistral-large", ["o", "k"])));
        using var host = TestHarness.Create(mock.Handler, b => { TestHarness.ThreeProviders(b); Chain(b); });

        var text = await StreamTextAsync(host.Harness.GetChatClient("policy/chain"));

        Assert.Equal("ok", text);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Succeeded, "mistral"), (record.Outcome, record.Provider));
        Assert.Equal(AttemptOutcome.Failed, record.Attempts[0].Outcome);
    }

    [Fact]
    public async Task Policy_SuccessStatusOnACompressedBodyNobodyAskedFor_FallsBackToTheNextMember()
    {
        using var compressed = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(Responses.ChatJson("gpt-4.1")));
        }

        var mock = new RecordingMock();
        mock.Respond(ChatUrl, _ =>
        {
            var response = Bytes(compressed.ToArray());
            response.Content.Headers.ContentEncoding.Add("gzip");
            return response;
        });
        mock.Respond(MistralUrl, _ => Responses.Json(Responses.ChatJson("mistral-large", "fine")));
        using var host = TestHarness.Create(mock.Handler, b => { TestHarness.ThreeProviders(b); Chain(b); });

        await host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(("mistral", "the answer was not a whole JSON object"), (record.Provider, record.Attempts[0].Error));
    }

    [Fact]
    public async Task Policy_SuccessStatusOnAnErrorObject_ClassifiedByItsCodeAndFallsBack()
    {
        var mock = new RecordingMock();
        mock.Respond(ChatUrl, _ => Responses.Json("""{"error":{"message":"overloaded, key-openai","type":"server_error","code":"server_error"}}"""));
        mock.Respond(MistralUrl, _ => Responses.Json(Responses.ChatJson("mistral-large", "fine")));
        using var host = TestHarness.Create(mock.Handler, b => { TestHarness.ThreeProviders(b); Chain(b); });

        await host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal("mistral", record.Provider);
        Assert.Equal((200, "HTTP 500 server_error"), (record.Attempts[0].StatusCode, record.Attempts[0].Error));
    }

    [Fact]
    public async Task Direct_SuccessStatusOnNoAnswer_RetriedThenAnswered()
    {
        var calls = 0;
        var mock = new RecordingMock();
        mock.Respond(ChatUrl, _ => Interlocked.Increment(ref calls) == 1
            ? Bytes("""{"id":"c","choices":[{"message":{"content":"cut"""u8.ToArray())
            : Responses.Json(Responses.ChatJson("gpt-4.1", "whole")));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b, maxRetries: 1));

        var completion = await host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        Assert.Equal("whole", completion.Value.Content[0].Text);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal([AttemptOutcome.Failed, AttemptOutcome.Succeeded], record.Attempts.Select(static a => a.Outcome));
    }

    [Fact]
    public async Task Direct_SuccessStatusOnNoAnswerEveryTime_FailsNamingWhyAndRecordsAFailure()
    {
        var mock = new RecordingMock();
        mock.Respond(ChatUrl, _ => Bytes("<html>Bad gateway</html>"u8.ToArray(), mediaType: "text/html"));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b, maxRetries: 1));

        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => SendAsync(host, """{"model":"openai/gpt-4.1","messages":[]}"""u8.ToArray()));

        Assert.Equal("Model 'gpt-4.1' via 'openai' did not answer: the answer was not a whole JSON object.", ex.Message);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Failed, 0m, 2), (record.Outcome, record.CostUsd, record.Attempts.Count));
    }

    [Fact]
    public async Task Direct_EndlessAnswer_HttpRequestExceptionNamingTheLimit()
    {
        var bodies = new List<EndlessStream>();
        var mock = new RecordingMock();
        mock.Respond(ChatUrl, _ =>
        {
            var (response, stream) = EndlessStream.Response("{", " ", "application/json");
            lock (bodies)
            {
                bodies.Add(stream);
            }

            return response;
        });
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b, maxRetries: 1);
            b.Configure(static o => o.MaxResponseBytes = 64 * 1024);
        });

        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => SendAsync(host, """{"model":"openai/gpt-4.1","messages":[]}"""u8.ToArray()));

        Assert.Contains("answer larger than MaxResponseBytes (65536 bytes)", ex.Message, StringComparison.Ordinal);
        Assert.All(bodies, body => Assert.Equal((64 * 1024) + 1, body.Pulled));
        Assert.Equal(2, bodies.Count);
        Assert.Equal(UsageOutcome.Failed, Assert.Single(host.Ledger.GetRecords()).Outcome);
    }

    [Fact]
    public async Task Streaming_HugeEventBeforeOutput_FallsBackToTheNextMember()
    {
        var mock = new RecordingMock();
        mock.Respond(ChatUrl, _ => EndlessStream.Response(RoleOnly + "data: {\"choices\":[{\"delta\":{\"content\":\"", "x", "text/event-stream").Response);
        mock.Respond(MistralUrl, _ => Responses.EventStream(Responses.ChatStream("mistral-large", ["ok"])));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Chain(b);
            b.Configure(static o => o.MaxStreamEventBytes = 64 * 1024);
        });

        var text = await StreamTextAsync(host.Harness.GetChatClient("policy/chain"));

        Assert.Equal("ok", text);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal("the stream sent an event larger than MaxStreamEventBytes (65536 bytes) before any output", record.Attempts[0].Error);
    }

    [Fact]
    public async Task Streaming_HugeEventAfterOutput_StreamInterruptedExceptionNamingTheLimitAndTheReadStoppedNearIt()
    {
        const int Limit = 64 * 1024;
        EndlessStream? body = null;
        var mock = new RecordingMock();
        mock.Respond(ChatUrl, _ =>
        {
            var (response, stream) = EndlessStream.Response(Responses.ChatStream("gpt-4.1", ["Hi"], done: false, usage: false) + "data: {\"choices\":[{\"delta\":{\"content\":\"", "x", "text/event-stream");
            body = stream;
            return response;
        });
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Chain(b);
            b.Configure(static o => o.MaxStreamEventBytes = Limit);
        });

        var received = new StringBuilder();
        var ex = await Assert.ThrowsAsync<StreamInterruptedException>(async () =>
        {
            await foreach (var update in host.Harness.GetChatClient("policy/chain").CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct))
            {
                received.Append(string.Concat(update.ContentUpdate.Select(p => p.Text)));
            }
        });

        Assert.Equal("Hi", received.ToString());
        Assert.Equal("an event larger than MaxStreamEventBytes (65536 bytes)", ex.Reason);
        Assert.True(body!.Pulled < 4 * Limit, $"pulled {body.Pulled} bytes");
        Assert.Equal(UsageOutcome.Incomplete, Assert.Single(host.Ledger.GetRecords()).Outcome);
    }

    // ---- Management answers ----

    [Fact]
    public async Task ListModelsAsync_EndlessModelList_ThrowsAtTheLimitAndStopsReading()
    {
        EndlessStream? body = null;
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/models", _ =>
        {
            var (response, stream) = EndlessStream.Response("""{"data":[""", """{"id":"m"},""", "application/json");
            body = stream;
            return response;
        });
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(new FakeTimeProvider());
        var builder = services.AddAgentHarness();
        TestHarness.ThreeProviders(builder);
        builder.Configure(static o => o.MaxResponseBytes = 64 * 1024);
        services.AddHttpClient(ModelListClient.ManagementClientName).ConfigurePrimaryHttpMessageHandler(() => mock.Handler);
        services.Configure<HttpStandardResilienceOptions>(ModelListClient.ManagementClientName + "-standard", static o => o.Retry.ShouldHandle = static _ => ValueTask.FromResult(false));
        using var provider = services.BuildServiceProvider();

        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => provider.GetRequiredService<IModelDiscovery>().ListModelsAsync("openai", Ct));

        Assert.Contains("65536", ex.Message, StringComparison.Ordinal);
        Assert.True(body!.Pulled <= 2 * 64 * 1024, $"pulled {body.Pulled} bytes");
    }
}
