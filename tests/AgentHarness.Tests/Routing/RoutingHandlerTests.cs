using System.ClientModel;
using System.Net;
using System.Text.Json;
using AgentHarness.Tests.Budget;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using OpenAI.Chat;
using OpenAI.Embeddings;
using RichardSzalay.MockHttp;

namespace AgentHarness.Tests.Routing;

public sealed partial class RoutingHandlerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SendAsync_CallsOnTheSystemClock_AfterACancelledAndASucceededCallTheNextStartsClean()
    {
        // The system clock's timers can be reset, so a call that ends without its deadline firing hands its source on.
        var transport = new ScriptedCalls();
        using var host = TestHarness.Create(transport, b => TestHarness.ThreeProviders(b), s => s.AddSingleton(TimeProvider.System));
        var client = host.Harness.GetChatClient("openai/gpt-4.1");

        using var cancelling = new CancellationTokenSource();
        var cancelled = client.CompleteChatAsync([new UserChatMessage("first")], cancellationToken: cancelling.Token);
        await transport.Held.Task.WaitAsync(Ct);
        cancelling.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);

        using var earlierCaller = new CancellationTokenSource();
        await client.CompleteChatAsync([new UserChatMessage("second")], cancellationToken: earlierCaller.Token);

        var next = client.CompleteChatAsync([new UserChatMessage("third")], cancellationToken: Ct);
        await transport.Third.Task.WaitAsync(Ct);

        // The earlier call's caller cancels after its call ended: the call that holds its source now goes on.
        earlierCaller.Cancel();
        transport.Release.SetResult();
        var completion = await next;

        Assert.Equal("ok", completion.Value.Content[0].Text);
        Assert.False(transport.ThirdSawCancellation);
        var records = host.Ledger.GetRecords();
        Assert.Equal([UsageOutcome.Canceled, UsageOutcome.Succeeded, UsageOutcome.Succeeded], records.Select(r => r.Outcome));
        Assert.Equal([AttemptOutcome.Succeeded], records[2].Attempts.Select(a => a.Outcome));
    }

    /// <summary>Holds the first call until it is cancelled, answers the second, and holds the third until released.</summary>
    private sealed class ScriptedCalls : HttpMessageHandler
    {
        private int _calls;

        public TaskCompletionSource Held { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Third { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool ThirdSawCancellation { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            switch (Interlocked.Increment(ref _calls))
            {
                case 1:
                    Held.SetResult();
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                    break;
                case 3:
                    Third.SetResult();
                    await Release.Task.WaitAsync(TestContext.Current.CancellationToken);
                    ThirdSawCancellation = cancellationToken.IsCancellationRequested;
                    break;
            }

            return Responses.Json(Responses.ChatJson("gpt-4.1"));
        }
    }

    [Fact]
    public async Task SendAsync_TwoProviders_EachRequestCarriesOnlyItsOwnProvidersKey()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-small")));
        mock.Respond("https://gateway.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("claude")));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        await host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
        await host.Harness.GetChatClient("mistral/mistral-small").CompleteChatAsync([new UserChatMessage("b")], cancellationToken: Ct);
        await host.Harness.GetChatClient("anthropic/claude").CompleteChatAsync([new UserChatMessage("c")], cancellationToken: Ct);

        var byHost = mock.Requests.ToDictionary(r => r.Uri.Host, r => Assert.Single(r.HeaderValues("Authorization")));
        Assert.Equal("Bearer key-openai", byHost["openai.test"]);
        Assert.Equal("Bearer key-mistral", byHost["mistral.test"]);
        Assert.Equal("Bearer key-gateway", byHost["gateway.test"]);
    }

    [Fact]
    public async Task SendAsync_RetriesOnProviderB_EveryAttemptCarriesBsKeyOnce()
    {
        var mock = new RecordingMock();
        mock.RespondSequence(
            "https://mistral.test/v1/chat/completions",
            _ => Responses.Error(HttpStatusCode.InternalServerError),
            _ => Responses.Error(HttpStatusCode.TooManyRequests),
            _ => Responses.Json(Responses.ChatJson("mistral-small")));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        await host.Harness.GetChatClient("mistral/mistral-small").CompleteChatAsync([new UserChatMessage("b")], cancellationToken: Ct);

        Assert.Equal(3, mock.Requests.Count);
        Assert.All(mock.Requests, r => Assert.Equal(["Bearer key-mistral"], r.HeaderValues("Authorization")));
        Assert.Equal(3, Assert.Single(host.Ledger.GetRecords()).Attempts.Count);
    }

    [Fact]
    public async Task SendAsync_ProviderPrefixedModel_SendsBareModelToThatProvidersAddress()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1-nano-2025-04-14")));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        var completion = await host.Harness.GetChatClient("openai/gpt-4.1-nano").CompleteChatAsync(
            [new SystemChatMessage("Classify."), new UserChatMessage("diff")],
            new ChatCompletionOptions { MaxOutputTokenCount = 10 },
            Ct);

        var request = Assert.Single(mock.Requests);
        using var body = JsonDocument.Parse(request.Body);
        Assert.Equal("gpt-4.1-nano", body.RootElement.GetProperty("model").GetString());
        Assert.Equal(2, body.RootElement.GetProperty("messages").GetArrayLength());
        Assert.Equal("gpt-4.1-nano-2025-04-14", completion.Value.Model);
    }

    [Fact]
    public async Task SendAsync_UnconfiguredProviderOrPolicy_GoesToGatewayWithFullId()
    {
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("claude-sonnet-4-20250514")));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        await host.Harness.GetChatClient("policy/claude-4").CompleteChatAsync([new UserChatMessage("r")], cancellationToken: Ct);
        await host.Harness.GetChatClient("google/gemini-2.5-flash").CompleteChatAsync([new UserChatMessage("s")], cancellationToken: Ct);

        Assert.Equal(
            ["policy/claude-4", "google/gemini-2.5-flash"],
            mock.Requests.Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("model").GetString()));
    }

    [Fact]
    public async Task SendAsync_UnroutableModel_ThrowsBeforeAnyRequestAndRecordsRejection()
    {
        var mock = new RecordingMock();
        using var host = TestHarness.Create(mock.Handler, b => b.AddProvider("openai", p =>
        {
            p.BaseUrl = new Uri("https://openai.test/v1");
            p.ApiKey = "key-openai";
        }));

        var direct = Assert.Throws<UnroutableModelException>(() => host.Harness.GetChatClient("anthropic/claude-sonnet-4-5"));
        Assert.Contains("anthropic/claude-sonnet-4-5", direct.Message, StringComparison.Ordinal);
        Assert.Contains("no gateway", direct.Message, StringComparison.Ordinal);

        // A client made from the root client routes per request: the same refusal, before any byte is sent.
        var viaRoot = host.Harness.GetOpenAIClient().GetChatClient("anthropic/claude-sonnet-4-5");
        var sent = await Assert.ThrowsAsync<UnroutableModelException>(() => viaRoot.CompleteChatAsync([new UserChatMessage("x")], cancellationToken: Ct));
        Assert.Equal("anthropic/claude-sonnet-4-5", sent.Model);
        Assert.Empty(mock.Requests);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Rejected, record.Outcome);
        Assert.Empty(record.Attempts);
    }

    [Fact]
    public async Task SendAsync_ModelIdOverTheLimit_RefusedBeforeSendingWithOneRejectedRecord()
    {
        var mock = new RecordingMock();
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));
        var viaRoot = host.Harness.GetOpenAIClient().GetChatClient("acme/" + new string('x', 4_000_000));

        var refused = await Assert.ThrowsAsync<UnroutableModelException>(() => viaRoot.CompleteChatAsync([new UserChatMessage("x")], cancellationToken: Ct));

        Assert.Contains("4,000,005 characters long", refused.Message, StringComparison.Ordinal);
        Assert.Empty(mock.Requests);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Rejected, record.Outcome);
        Assert.Equal(refused.Model, record.ModelRequested);
        Assert.True(record.ModelRequested.Length < 100);
        Assert.Empty(record.Attempts);
    }

    [Fact]
    public async Task SendAsync_ModelIdWithLineBreak_RefusedAndQuotedOnlyEscaped()
    {
        var logs = new FakeLogCollector();
        var mock = new RecordingMock();
        using var host = TestHarness.Create(
            mock.Handler,
            b => TestHarness.ThreeProviders(b),
            s => s.AddLogging(l => l.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(logs))));
        var viaRoot = host.Harness.GetOpenAIClient().GetChatClient("acme/model\r\nINFO forged");

        var refused = await Assert.ThrowsAsync<UnroutableModelException>(() => viaRoot.CompleteChatAsync([new UserChatMessage("x")], cancellationToken: Ct));

        Assert.Contains("'acme/model\\r\\nINFO forged' contains control characters", refused.Message, StringComparison.Ordinal);
        Assert.Empty(mock.Requests);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Rejected, "acme/model\\r\\nINFO forged"), (record.Outcome, record.ModelRequested));
        Assert.NotEmpty(logs.GetSnapshot());
        Assert.All(LogState.Texts(logs), t => Assert.DoesNotContain("\nINFO forged", t, StringComparison.Ordinal));
    }

    [Fact]
    public async Task SendAsync_RefusedBeforeSending_LogsThatNothingWasSentInsteadOfNullProvider()
    {
        var logs = new FakeLogCollector();
        var mock = new RecordingMock();
        using var host = TestHarness.Create(
            mock.Handler,
            b => b.AddProvider("openai", p => { p.BaseUrl = new Uri("https://openai.test/v1"); p.ApiKey = "key-openai"; }),
            s => s.AddLogging(l => l.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(logs))));

        using (var run = host.Harness.BeginRun("agent", static r => r.MaxCostUsd = 0m))
        {
            await Assert.ThrowsAsync<BudgetExceededException>(() => host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("x")], cancellationToken: Ct));
        }

        Assert.Empty(mock.Requests);
        var warning = Assert.Single(logs.GetSnapshot(), static r => r.Level == LogLevel.Warning);
        Assert.StartsWith("Call to openai/gpt-4.1 (chat/completions) ended Rejected before anything was sent to a provider: The call to 'openai/gpt-4.1' was refused before sending", warning.Message, StringComparison.Ordinal);
        Assert.All(logs.GetSnapshot(), static r => Assert.DoesNotContain("(null)", r.Message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task SendAsync_Completion_RecordsTokensModelUsedLatencyAndRunMetadata()
    {
        var mock = new RecordingMock();
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));
        mock.Respond("https://gateway.test/v1/chat/completions", _ =>
        {
            host.Time.Advance(TimeSpan.FromMilliseconds(250));
            return Responses.Json(Responses.ChatJson("claude-sonnet-4-20250514", promptTokens: 120, completionTokens: 40, cachedTokens: 100));
        });

        using (var run = host.Harness.BeginRun("code-review-agent", r => { r.Branch = "feat/x"; r.Customer = "acme"; r.SetExtra("Ticket", "T-1"); }))
        using (run.BeginTask("review"))
        {
            await host.Harness.GetChatClient("policy/claude-4").CompleteChatAsync([new UserChatMessage("r")], cancellationToken: Ct);
            Assert.Single(run.Calls);
        }

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal("policy/claude-4", record.ModelRequested);
        Assert.Equal("claude-sonnet-4-20250514", record.ModelUsed);
        Assert.Equal("requesty", record.Provider);
        Assert.Equal("chat/completions", record.Operation);
        Assert.Equal((120, 40, 100), (record.InputTokens, record.OutputTokens, record.CachedInputTokens));
        Assert.Equal(TimeSpan.FromMilliseconds(250), record.Latency);
        Assert.Equal(UsageOutcome.Succeeded, record.Outcome);
        Assert.Equal("code-review-agent", record.Agent);
        Assert.Equal("review", record.Task);
        Assert.Equal("feat/x", record.Metadata["branch"]);
        Assert.Equal("acme", record.Metadata["customer"]);
        Assert.Equal("T-1", record.Metadata["ticket"]);
        Assert.Equal("review", record.Metadata["task"]);
        Assert.Equal(host.Time.GetUtcNow() - TimeSpan.FromMilliseconds(250), record.Timestamp);
    }

    [Fact]
    public async Task SendAsync_Streaming_RecordsUsageFromFinalEventAfterTheCallerReadsTheStream()
    {
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/chat/completions", _ => Responses.EventStream(Responses.ChatStream("gemini-2.5-flash-001", ["Hel", "lo"], promptTokens: 30, completionTokens: 2)));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        var text = "";
        await foreach (var update in host.Harness.GetChatClient("google/gemini-2.5-flash").CompleteChatStreamingAsync([new UserChatMessage("s")], cancellationToken: Ct))
        {
            Assert.Empty(host.Ledger.GetRecords());
            text += string.Concat(update.ContentUpdate.Select(p => p.Text));
        }

        Assert.Equal("Hello", text);
        using var body = JsonDocument.Parse(Assert.Single(mock.Requests).Body);
        Assert.True(body.RootElement.GetProperty("stream").GetBoolean());
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.True(record.Streaming);
        Assert.Equal(UsageOutcome.Succeeded, record.Outcome);
        Assert.Equal("gemini-2.5-flash-001", record.ModelUsed);
        Assert.Equal((30, 2), (record.InputTokens, record.OutputTokens));
    }

    [Fact]
    public async Task SendAsync_StreamEndsWithoutDone_ThrowsAndRecordsIncomplete()
    {
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/chat/completions", _ => Responses.EventStream(Responses.ChatStream("m", ["a", "b", "c"], done: false, usage: false)));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        await Assert.ThrowsAsync<StreamInterruptedException>(async () =>
        {
            await foreach (var _ in host.Harness.GetChatClient("x/m").CompleteChatStreamingAsync([new UserChatMessage("s")], cancellationToken: Ct))
            {
            }
        });

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Incomplete, record.Outcome);
        Assert.Contains("end marker", record.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendAsync_CallerStopsReadingMidStream_RecordedIncomplete()
    {
        var mock = new RecordingMock();
        // Long enough that the client's first read cannot reach the end marker.
        var parts = Enumerable.Repeat("word ", 5000).ToArray();
        mock.Respond("https://gateway.test/v1/chat/completions", _ => Responses.EventStream(Responses.ChatStream("m", parts)));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        await foreach (var _ in host.Harness.GetChatClient("x/m").CompleteChatStreamingAsync([new UserChatMessage("s")], cancellationToken: Ct))
        {
            break;
        }

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Incomplete, record.Outcome);
        Assert.Contains("closed the stream", record.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Send_SynchronousClientCall_IsRoutedKeyedTaggedAndRecorded()
    {
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("claude")));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        using (host.Harness.BeginRun("sync-agent"))
        {
            host.Harness.GetChatClient("policy/claude-4").CompleteChat([new UserChatMessage("a")], cancellationToken: Ct);
        }

        var request = Assert.Single(mock.Requests);
        Assert.Equal(["Bearer key-gateway"], request.HeaderValues("Authorization"));
        Assert.Equal(["sync-agent"], request.HeaderValues("X-Requesty-Agent"));
        Assert.Equal(UsageOutcome.Succeeded, Assert.Single(host.Ledger.GetRecords()).Outcome);
    }

    [Fact]
    public async Task SendAsync_CallerCancelsMidStream_RecordedCanceled()
    {
        var mock = new RecordingMock();
        var parts = Enumerable.Repeat("word ", 5000).ToArray();
        mock.Respond("https://gateway.test/v1/chat/completions", _ => Responses.EventStream(Responses.ChatStream("m", parts)));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in host.Harness.GetChatClient("x/m").CompleteChatStreamingAsync([new UserChatMessage("s")], cancellationToken: cts.Token))
            {
                await cts.CancelAsync();
            }
        });

        Assert.Equal(UsageOutcome.Canceled, Assert.Single(host.Ledger.GetRecords()).Outcome);
    }

    [Fact]
    public async Task SendAsync_ProviderError_SdkDoesNotRetryAndCallIsRecordedFailed()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.InternalServerError));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b, maxRetries: 0));

        var ex = await Assert.ThrowsAsync<ClientResultException>(() => host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct));

        Assert.Equal(500, ex.Status);
        Assert.Single(mock.Requests);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Failed, 500), (record.Outcome, record.StatusCode));
    }

    [Fact]
    public async Task SendAsync_NonTransientError_IsNotRetried()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.Unauthorized));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        await Assert.ThrowsAsync<ClientResultException>(() => host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct));

        Assert.Single(mock.Requests);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SendAsync_DirectCallWhoseBodyIsCutShort_RetriedThenTheClientsErrorNamingTheConnectionFailure(bool stream)
    {
        // A whole answer cut short, or a stream cut after its role-only chunk, before any output: the read throws an
        // HttpIOException inside the attempt, a connection failure like any other.
        var sent = 0;
        var transport = new DelegateHandler((_, _) =>
        {
            Interlocked.Increment(ref sent);
            return Task.FromResult(stream
                ? CutStream.Response("""data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}""" + "\n\n", "text/event-stream")
                : CutStream.Response("""{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4.1","choi""", "application/json"));
        });
        using var host = TestHarness.Create(transport, b => TestHarness.ThreeProviders(b, maxRetries: 1));
        var client = host.Harness.GetChatClient("openai/gpt-4.1");

        var ex = await Assert.ThrowsAsync<ClientResultException>(async () =>
        {
            if (stream)
            {
                await foreach (var _ in client.CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct))
                {
                }
            }
            else
            {
                await client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
            }
        });

        const string Message = "Model 'gpt-4.1' via 'openai' did not answer: connection failed (ResponseEnded).";
        var inner = Assert.IsType<HttpRequestException>(ex.InnerException);
        Assert.Equal(Message, inner.Message);
        Assert.IsType<HttpIOException>(inner.InnerException);
        Assert.Equal(2, sent);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Failed, Message), (record.Outcome, record.Error));
        Assert.All(record.Attempts, static a => Assert.Equal("connection failed (ResponseEnded)", a.Error));
    }

    [Fact]
    public async Task SendAsync_AttemptTimeoutOnFakeClock_FailsTheCallAndRecordsTheTimeout()
    {
        var hanging = new HangingHandler();
        var mock = new MockHttpMessageHandler();
        mock.When("https://openai.test/v1/chat/completions").Respond(hanging);
        using var host = TestHarness.Create(mock, b => b.AddProvider("openai", p =>
        {
            p.BaseUrl = new Uri("https://openai.test/v1");
            p.ApiKey = "k";
            p.MaxRetries = 0;
            p.AttemptTimeout = TimeSpan.FromSeconds(30);
        }));

        var call = host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
        await hanging.Entered.WaitAsync(Ct);
        host.Time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(call.IsCompleted);
        host.Time.Advance(TimeSpan.FromSeconds(1));

        await Assert.ThrowsAnyAsync<Exception>(() => call);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Failed, record.Outcome);
        Assert.Contains("timed out", record.Error, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(30), record.Latency);
    }

    [Fact]
    public async Task SendAsync_CallerCancels_ThrowsOperationCanceledAndRecordsCanceled()
    {
        var hanging = new HangingHandler();
        var mock = new MockHttpMessageHandler();
        mock.When("https://openai.test/v1/chat/completions").Respond(hanging);
        using var host = TestHarness.Create(mock, b => TestHarness.ThreeProviders(b));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var call = host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: cts.Token);
        await hanging.Entered.WaitAsync(Ct);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.Equal(UsageOutcome.Canceled, Assert.Single(host.Ledger.GetRecords()).Outcome);
    }

    [Fact]
    public async Task SendAsync_Embeddings_RoutedAndRecorded()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/embeddings", _ => Responses.Json(
            """{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,0.25]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":7,"total_tokens":7}}"""));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        OpenAIEmbedding embedding = await host.Harness.GetEmbeddingClient("openai/text-embedding-3-small").GenerateEmbeddingAsync("hello", new EmbeddingGenerationOptions(), Ct);

        Assert.Equal([0.5f, 0.25f], embedding.ToFloats().ToArray());
        using var body = JsonDocument.Parse(Assert.Single(mock.Requests).Body);
        Assert.Equal("text-embedding-3-small", body.RootElement.GetProperty("model").GetString());
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(("embeddings", 7), (record.Operation, record.InputTokens));
    }

    [Fact]
    public async Task SendAsync_RetryAfterWithinCap_NextAttemptAtExactlyThatTime()
    {
        var mock = new RecordingMock();
        mock.RespondSequence(
            "https://openai.test/v1/chat/completions",
            _ =>
            {
                var response = Responses.Error(HttpStatusCode.TooManyRequests);
                response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(7));
                return response;
            },
            _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        var call = host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
        await host.Time.WaitForTimerAsync(TimeSpan.FromSeconds(7), Ct);

        host.Time.Advance(TimeSpan.FromSeconds(7) - TimeSpan.FromMilliseconds(10));
        Assert.Single(mock.Requests);
        host.Time.Advance(TimeSpan.FromMilliseconds(10));
        await call;

        Assert.Equal(2, mock.Requests.Count);
    }

    [Fact]
    public async Task SendAsync_RetryAfterAboveCap_ReturnsTheAnswerWithoutWaiting()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ =>
        {
            var response = Responses.Error(HttpStatusCode.TooManyRequests);
            response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromHours(1));
            return response;
        });
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        var ex = await Assert.ThrowsAsync<ClientResultException>(() => host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct));

        Assert.Equal(429, ex.Status);
        Assert.Single(mock.Requests);
        Assert.Equal(TimeSpan.Zero, Assert.Single(host.Ledger.GetRecords()).Latency);
    }

    [Fact]
    public async Task SendAsync_AttemptTimeoutWithRetry_EachAttemptRecordedAsTimedOut()
    {
        var hanging = new HangingHandler();
        using var host = TestHarness.Create(hanging, b => b.AddProvider("openai", p =>
        {
            p.BaseUrl = new Uri("https://openai.test/v1");
            p.ApiKey = "k";
            p.MaxRetries = 1;
            p.RetryBaseDelay = TimeSpan.Zero;
            p.AttemptTimeout = TimeSpan.FromSeconds(10);
        }));

        var call = host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
        for (var i = 0; i < 2; i++)
        {
            await hanging.WaitForRequestAsync(Ct);
            host.Time.Advance(TimeSpan.FromSeconds(10));
        }

        await Assert.ThrowsAnyAsync<Exception>(() => call);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(2, record.Attempts.Count);
        Assert.All(record.Attempts, a => Assert.Equal("attempt timed out after 00:00:10", a.Error));
    }

    [Fact]
    public async Task SendAsync_RequestWithoutModel_GoesToTheGateway()
    {
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/models", _ => Responses.Json("""{"object":"list","data":[{"id":"openai/gpt-4.1","object":"model","created":1,"owned_by":"openai"}]}"""));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        var models = await host.Harness.GetOpenAIClient().GetOpenAIModelClient().GetModelsAsync(Ct);

        Assert.Equal("openai/gpt-4.1", Assert.Single(models.Value).Id);
        Assert.Equal(["Bearer key-gateway"], Assert.Single(mock.Requests).HeaderValues("Authorization"));
    }

    [Fact]
    public async Task SendAsync_AppWideResilienceHandler_DoesNotMultiplyAttemptsOrRecords()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        var services = new ServiceCollection();
        services.ConfigureHttpClientDefaults(b => b.AddStandardResilienceHandler());
        services.AddAgentHarness()
            .AddProvider("openai", p => { p.BaseUrl = new Uri("https://openai.test/v1"); p.ApiKey = "k"; p.MaxRetries = 1; p.RetryBaseDelay = TimeSpan.Zero; })
            .ConfigureHttpClient(b => b.ConfigurePrimaryHttpMessageHandler(() => mock.Handler));
        await using var provider = services.BuildServiceProvider();
        var harness = provider.GetRequiredService<IAgentHarness>();

        await Assert.ThrowsAsync<ClientResultException>(() => harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct));

        Assert.Equal(2, mock.Requests.Count);
        Assert.Single(provider.GetRequiredService<IUsageLedger>().GetRecords());
    }

    [Fact]
    public async Task Send_SynchronousCall_UsesOnlyTheSynchronousInnerSendOnTheCallersThread()
    {
        var thread = Environment.CurrentManagedThreadId;
        var syncOnly = new ScriptedHandler(allowAsync: false);
        var both = new ScriptedHandler(allowAsync: true);
        using var syncHost = FallbackHost(syncOnly);
        using var asyncHost = FallbackHost(both);

        using (syncHost.Harness.BeginRun("sync-agent", r => r.Customer = "acme"))
        {
            var completion = syncHost.Harness.GetChatClient("policy/chain").CompleteChat([new UserChatMessage("a")], cancellationToken: Ct);
            Assert.Equal("claude", completion.Value.Model);
            var text = string.Concat(syncHost.Harness.GetChatClient("policy/chain").CompleteChatStreaming([new UserChatMessage("a")], cancellationToken: Ct)
                .SelectMany(u => u.ContentUpdate).Select(p => p.Text));
            Assert.Equal("hello", text);
        }

        using (asyncHost.Harness.BeginRun("sync-agent", r => r.Customer = "acme"))
        {
            await asyncHost.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
            await foreach (var _ in asyncHost.Harness.GetChatClient("policy/chain").CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct))
            {
            }
        }

        // Every attempt went through Send on the caller's thread: nothing waited on another pool thread.
        Assert.Equal(6, syncOnly.Sent.Count);
        Assert.All(syncOnly.Sent, s => Assert.Equal((true, thread), (s.Synchronous, s.Thread)));
        Assert.All(both.Sent, s => Assert.False(s.Synchronous));

        // The same routing, keys, metadata headers and bodies as the asynchronous path.
        Assert.Equal(both.Sent.Select(Describe), syncOnly.Sent.Select(Describe));
        Assert.Contains(syncOnly.Sent, s => s.Headers.Contains("X-Requesty-Agent=sync-agent", StringComparer.Ordinal));
        Assert.Equal(asyncHost.Ledger.GetRecords().Select(Summary), syncHost.Ledger.GetRecords().Select(Summary));
        Assert.Equal(
            [AttemptOutcome.Failed, AttemptOutcome.Failed, AttemptOutcome.Succeeded],
            syncHost.Ledger.GetRecords()[0].Attempts.Select(a => a.Outcome));

        static string Describe(ScriptedHandler.Request r) => $"{r.Uri} {string.Join(",", r.Headers)} {r.Body}";

        static string Summary(UsageRecord r) =>
            $"{r.ModelRequested} {r.ModelUsed} {r.Provider} {r.Outcome} {r.Streaming} {r.InputTokens} {r.OutputTokens} {r.Agent} {string.Join(",", r.Metadata)} "
            + string.Join(";", r.Attempts.Select(a => $"{a.Provider}/{a.Model} {a.Outcome} {a.StatusCode} {a.Error}"));

        static TestHarness FallbackHost(ScriptedHandler transport) => TestHarness.Create(transport, b =>
        {
            TestHarness.ThreeProviders(b);
            b.Configure(o => o.Policies["chain"] = new PolicyOptions
            {
                RetryBaseDelay = TimeSpan.Zero,
                AttemptsPerModel = 2,
                Models = { new PolicyMemberOptions { Model = "openai/gpt-4.1" }, new PolicyMemberOptions { Model = "anthropic/claude" } },
            });
        });
    }

    [Fact]
    public async Task SendAsync_StreamsFirstEventIsErrorEchoingKeys_ReasonsRecordExceptionsAndWarningHaveNoKey()
    {
        const string OpenAIKey = "key-openai+secret/2";
        const string GoogleKey = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q";
        string[] keys = [OpenAIKey, GoogleKey];
        var logs = new FakeLogCollector();
        var mock = new RecordingMock();

        // A 200 stream whose first event is an error, echoing keys raw, JSON-escaped and URL-encoded in code and param.
        var errorEvent = "data: " + $$$"""{"error":{"message":"Incorrect API key provided: {{{OpenAIKey.Replace("+", "\\u002b", StringComparison.Ordinal)}}}","type":"invalid_request_error","param":"{{{Uri.EscapeDataString(OpenAIKey)}}}","code":"{{{GoogleKey}}}"}}""" + "\n\n";
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.EventStream(errorEvent));
        mock.Respond("https://google.test/v1/chat/completions", _ => Responses.EventStream(errorEvent.Replace("invalid_request_error", "server_error", StringComparison.Ordinal)));
        using var host = TestHarness.Create(
            mock.Handler,
            b => b
                .AddProvider("openai", p => { p.BaseUrl = new Uri("https://openai.test/v1"); p.ApiKey = OpenAIKey; p.MaxRetries = 0; })
                .AddProvider("google", p => { p.BaseUrl = new Uri("https://google.test/v1"); p.ApiKey = GoogleKey; p.MaxRetries = 0; })
                .Configure(static o => o.Policies["review"] = new PolicyOptions
                {
                    AttemptsPerModel = 1,
                    Models = { new PolicyMemberOptions { Model = "openai/gpt-4.1" }, new PolicyMemberOptions { Model = "google/gemini-2.5-pro" } },
                }),
            s => s.AddLogging(l => l.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(logs))));

        var failed = await Assert.ThrowsAsync<AllCandidatesFailedException>(async () =>
        {
            await foreach (var _ in host.Harness.GetChatClient("policy/review").CompleteChatStreamingAsync([new UserChatMessage("s")], cancellationToken: Ct))
            {
            }
        });
        var direct = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await foreach (var _ in host.Harness.GetChatClient("google/gemini-2.5-pro").CompleteChatStreamingAsync([new UserChatMessage("s")], cancellationToken: Ct))
            {
            }
        });

        Assert.Equal(3, mock.Requests.Count);
        Assert.Contains(logs.GetSnapshot(), r => r.Id.Id == 3);
        var records = host.Ledger.GetRecords();
        Assert.Equal(2, records.Count);
        Assert.All(records, r => Assert.NotEmpty(r.Attempts));
        var texts = new List<string?> { failed.Message, direct.ToString() };
        texts.AddRange(records.Select(r => r.Error));
        texts.AddRange(records.SelectMany(r => r.Attempts).Select(a => a.Error));
        texts.AddRange(LogState.Texts(logs));

        // A removed key is no identifier, so the reason falls back to the event's type.
        Assert.Equal(["HTTP 500 invalid_request_error", "HTTP 500 server_error"], records[0].Attempts.Select(a => a.Error));
        foreach (var text in texts)
        {
            foreach (var key in keys)
            {
                Assert.DoesNotContain(key, text ?? string.Empty, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain(Uri.EscapeDataString(key), text ?? string.Empty, StringComparison.OrdinalIgnoreCase);
            }
        }
    }

    [Fact]
    public async Task SendAsync_ClientFromGetChatClient_SendsTheOfficialClientsOwnBodyAndRequest()
    {
        var seen = new List<(bool Rewritten, bool Routed, string Body)>();
        var transport = new AgentHarness.Tests.Budget.DelegateHandler(async (request, ct) =>
        {
            seen.Add((request.Content is AgentHarness.Http.Internal.AttemptContent, request.Options.TryGetValue(AgentHarness.Routing.Internal.ClientRoute.OptionsKey, out _), await request.Content!.ReadAsStringAsync(ct)));
            return Responses.Json(Responses.ChatJson("gpt-4.1-nano"));
        });
        using var host = TestHarness.Create(transport, b => TestHarness.ThreeProviders(b));

        await host.Harness.GetChatClient("openai/gpt-4.1-nano").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        // Routed by the route the client was built for: its body already names the provider's model, and is sent as written.
        var (rewritten, routed, body) = Assert.Single(seen);
        Assert.False(rewritten);
        Assert.True(routed);
        Assert.Equal("gpt-4.1-nano", JsonDocument.Parse(body).RootElement.GetProperty("model").GetString());
        Assert.Equal("openai/gpt-4.1-nano", Assert.Single(host.Ledger.GetRecords()).ModelRequested);
    }

    [Fact]
    public async Task SendAsync_ProtocolBodyNamingAnotherModelOnAClientFromGetChatClient_IsRoutedByItsBody()
    {
        var mock = new RecordingMock();
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large")));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));
        using var content = BinaryContent.Create(BinaryData.FromString("""{"model":"mistral/mistral-large","messages":[{"role":"user","content":"hi"}]}"""));

        await host.Harness.GetChatClient("openai/gpt-4.1-nano").CompleteChatAsync(content, new System.ClientModel.Primitives.RequestOptions());

        var sent = Assert.Single(mock.Requests);
        Assert.Equal("mistral.test", sent.Uri.Host);
        Assert.Equal("mistral-large", JsonDocument.Parse(sent.Body).RootElement.GetProperty("model").GetString());
        Assert.Equal("mistral/mistral-large", Assert.Single(host.Ledger.GetRecords()).ModelRequested);
    }

    [Fact]
    public async Task SendAsync_FirstAttemptIsTheOfficialClientsRequest_TheKeyIsTakenOffOnceSent()
    {
        HttpRequestMessage? sent = null;
        string? keyWhileSending = null;
        var transport = new AgentHarness.Tests.Budget.DelegateHandler((request, _) =>
        {
            sent = request;
            keyWhileSending = request.Headers.Authorization?.ToString();
            return Task.FromResult(Responses.Json(Responses.ChatJson("gpt-4.1-nano")));
        });
        using var host = TestHarness.Create(transport, b => TestHarness.ThreeProviders(b));

        await host.Harness.GetChatClient("openai/gpt-4.1-nano").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        // The request the official client keeps as its answer's RequestMessage carries no key after the call.
        Assert.Equal("Bearer key-openai", keyWhileSending);
        Assert.NotNull(sent);
        Assert.Null(sent.Headers.Authorization);
        Assert.DoesNotContain("key-openai", sent.ToString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// A provider transport that answers openai with 503 and the gateway with an answer or a stream,
    /// recording whether each request came through <c>Send</c> or <c>SendAsync</c>.
    /// </summary>
    private sealed class ScriptedHandler(bool allowAsync) : HttpMessageHandler
    {
        public List<Request> Sent { get; } = [];

        protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Answer(request, synchronous: true);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            allowAsync
                ? Task.FromResult(Answer(request, synchronous: false))
                : throw new InvalidOperationException("A synchronous call used the asynchronous send.");

        private HttpResponseMessage Answer(HttpRequestMessage request, bool synchronous)
        {
            using var reader = new StreamReader(request.Content!.ReadAsStream());
            var body = reader.ReadToEnd();
            var headers = request.Headers.Select(h => $"{h.Key}={string.Join("|", h.Value)}").Order(StringComparer.Ordinal).ToArray();
            lock (Sent)
            {
                Sent.Add(new Request(request.RequestUri!, headers, body, synchronous, Environment.CurrentManagedThreadId));
            }

            if (request.RequestUri!.Host == "openai.test")
            {
                return Responses.Error(HttpStatusCode.ServiceUnavailable);
            }

            return body.Contains("\"stream\":true", StringComparison.Ordinal)
                ? Responses.EventStream(Responses.ChatStream("claude", ["hel", "lo"]))
                : Responses.Json(Responses.ChatJson("claude"));
        }

        public sealed record Request(Uri Uri, string[] Headers, string Body, bool Synchronous, int Thread);
    }
}
