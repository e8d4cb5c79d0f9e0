using System.Net;
using System.Text;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace AgentHarness.Tests.Caching;

public sealed class ResponseCacheStageTests
{
    private const string OpenAiChat = "https://openai.test/v1/chat/completions";
    private const string MistralChat = "https://mistral.test/v1/chat/completions";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static TestHarness Create(RecordingMock mock, Action<AgentHarnessOptions>? configure = null, Action<IAgentHarnessBuilder>? more = null) =>
        Create(mock.Handler, configure, more);

    private static TestHarness Create(HttpMessageHandler handler, Action<AgentHarnessOptions>? configure = null, Action<IAgentHarnessBuilder>? more = null) =>
        TestHarness.Create(
            handler,
            b =>
            {
                TestHarness.ThreeProviders(b);
                b.AddResponseCache().Configure(o =>
                {
                    o.ResponseCache.Enabled = true;
                    configure?.Invoke(o);
                });
                more?.Invoke(b);
            },
            static services => services.AddHybridCache());

    private static Task<System.ClientModel.ClientResult<ChatCompletion>> AskAsync(TestHarness host, string model = "openai/gpt-4.1", string prompt = "classify this diff") =>
        host.Harness.GetChatClient(model).CompleteChatAsync([new UserChatMessage(prompt)], cancellationToken: Ct);

    private static async Task<(string Text, ChatTokenUsage? Usage, int Updates)> StreamAsync(TestHarness host, string model = "openai/gpt-4.1", string prompt = "classify this diff")
    {
        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        var updates = 0;
        await foreach (var update in host.Harness.GetChatClient(model).CompleteChatStreamingAsync([new UserChatMessage(prompt)], cancellationToken: Ct))
        {
            updates++;
            usage = update.Usage ?? usage;
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        return (text.ToString(), usage, updates);
    }

    private static void Policy(AgentHarnessOptions o, string name, params string[] models)
    {
        var policy = new PolicyOptions { RetryBaseDelay = TimeSpan.Zero, AttemptsPerModel = 1 };
        foreach (var model in models)
        {
            policy.Models.Add(new PolicyMemberOptions { Model = model });
        }

        o.Policies[name] = policy;
    }

    [Fact]
    public async Task LookupAsync_SameRequestTwice_SecondMakesNoUpstreamRequest()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Json(Responses.ChatJson("gpt-4.1", content: "feature")));
        using var host = Create(mock);

        var first = await AskAsync(host);
        var second = await AskAsync(host);

        Assert.Single(mock.Requests);
        Assert.Equal("feature", second.Value.Content[0].Text);
        Assert.Equal(first.Value.Model, second.Value.Model);
        var records = host.Ledger.GetRecords();
        Assert.Equal([false, true], records.Select(r => r.FromCache));
        Assert.Equal(("gpt-4.1", "openai"), (records[1].ModelUsed, records[1].Provider));
        Assert.Empty(records[1].Attempts);
        Assert.Equal(records[0].CacheKey, records[1].CacheKey);
    }

    [Fact]
    public async Task LookupAsync_DifferentPrompt_GoesUpstream()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = Create(mock);

        await AskAsync(host, prompt: "one");
        await AskAsync(host, prompt: "two");

        Assert.Equal(2, mock.Requests.Count);
    }

    [Fact]
    public async Task LookupAsync_TwoCustomers_NeverShare()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = Create(mock);

        foreach (var customer in new[] { "acme", "globex", "acme" })
        {
            using var run = host.Harness.BeginRun("agent", r => r.Customer = customer);
            await AskAsync(host);
        }

        Assert.Equal(2, mock.Requests.Count);
        Assert.Equal([false, false, true], host.Ledger.GetRecords().Select(r => r.FromCache));
    }

    [Fact]
    public async Task LookupAsync_ScopeByCleared_TenantsShare()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = Create(mock, o => o.ResponseCache.ScopeBy.Clear());

        foreach (var customer in new[] { "acme", "globex" })
        {
            using var run = host.Harness.BeginRun("agent", r => r.Customer = customer);
            await AskAsync(host);
        }

        Assert.Single(mock.Requests);
    }

    [Fact]
    public async Task LookupAsync_ScopeByAnExtraKeyWrittenWithItsPrefix_TenantsNeverShareAndRemoveScopeTakesTheSameSpelling()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = Create(mock, static o =>
        {
            o.ResponseCache.ScopeBy.Clear();
            o.ResponseCache.ScopeBy.Add("extra.tenant");
        });

        foreach (var tenant in new[] { "a", "b", "a" })
        {
            using var run = host.Harness.BeginRun("agent", r => r.SetExtra("tenant", tenant));
            await AskAsync(host);
        }

        await host.Services.GetRequiredService<IResponseCache>().RemoveScopeAsync(new Dictionary<string, string> { ["extra.tenant"] = "a" }, Ct);
        using (host.Harness.BeginRun("agent", static r => r.SetExtra("tenant", "a")))
        {
            await AskAsync(host);
        }

        Assert.Equal(3, mock.Requests.Count);
        Assert.Equal([false, false, true, false], host.Ledger.GetRecords().Select(r => r.FromCache));
    }

    [Fact]
    public async Task OnCallEnded_503Answer_IsNotStored()
    {
        var mock = new RecordingMock();
        mock.RespondSequence(
            OpenAiChat,
            _ => Responses.Error(HttpStatusCode.ServiceUnavailable),
            _ => Responses.Json(Responses.ChatJson("gpt-4.1", content: "good")));
        using var host = Create(mock, o => o.Providers["openai"].MaxRetries = 0);

        await Assert.ThrowsAnyAsync<Exception>(() => AskAsync(host));
        var after = await AskAsync(host);

        Assert.Equal(2, mock.Requests.Count);
        Assert.Equal("good", after.Value.Content[0].Text);
    }

    [Fact]
    public async Task OnCallEnded_EmptyChoiceList_IsNotStored()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Json("""{"id":"x","object":"chat.completion","created":1,"model":"gpt-4.1","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":0,"total_tokens":5}}"""));
        using var host = Create(mock);

        await AskAsync(host);
        await AskAsync(host);

        Assert.Equal(2, mock.Requests.Count);
    }

    [Fact]
    public async Task OnCallEnded_ChoiceWithoutContent_IsNotStored()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Json(Responses.ChatJson("gpt-4.1", content: "")));
        using var host = Create(mock);

        await AskAsync(host);
        await AskAsync(host);

        Assert.Equal(2, mock.Requests.Count);
    }

    [Fact]
    public async Task OnCallEnded_AnswerToABodyTheBudgetLimited_IsNotStoredForCallsWithoutThatLimit()
    {
        var mock = new RecordingMock();
        mock.RespondSequence(
            OpenAiChat,
            _ => Responses.Json(Responses.ChatJson("gpt-4.1", content: "cut short").Replace("\"stop\"", "\"length\"", StringComparison.Ordinal)),
            _ => Responses.Json(Responses.ChatJson("gpt-4.1", content: "the whole essay")));
        using var host = Create(mock, o => o.Catalog.Models["openai/gpt-4.1"] = new ModelPriceOptions { InputPerToken = 0.000002m, OutputPerToken = 0.000008m, MaxOutputTokens = 100_000 });

        // The cap does not fit the model's whole output: the budget asks for less, in this call's body only.
        using (host.Harness.BeginRun("agent", r => r.MaxCostUsd = 0.01m))
        {
            Assert.Equal("cut short", (await AskAsync(host)).Value.Content[0].Text);
        }

        var uncapped = await AskAsync(host);

        Assert.Contains("\"max_completion_tokens\":", mock.Requests[0].Body, StringComparison.Ordinal);
        Assert.Equal(2, mock.Requests.Count);
        Assert.DoesNotContain("max_completion_tokens", mock.Requests[1].Body, StringComparison.Ordinal);
        Assert.Equal("the whole essay", uncapped.Value.Content[0].Text);
        Assert.Equal([false, false], host.Ledger.GetRecords().Select(r => r.FromCache));
    }

    [Fact]
    public async Task OnCallEnded_AnswerCutAtTheCallersOwnLimit_IsStored()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Json(Responses.ChatJson("gpt-4.1", content: "bug").Replace("\"stop\"", "\"length\"", StringComparison.Ordinal)));
        using var host = Create(mock);
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 1 };
        var client = host.Harness.GetChatClient("openai/gpt-4.1");

        // A one-token classification ends at its limit by design: the same request gets the same answer.
        await client.CompleteChatAsync([new UserChatMessage("classify this diff")], options, Ct);
        var second = await client.CompleteChatAsync([new UserChatMessage("classify this diff")], options, Ct);

        Assert.Single(mock.Requests);
        Assert.Equal(ChatFinishReason.Length, second.Value.FinishReason);
    }

    [Fact]
    public async Task OnCallEnded_ContentFilteredAnswer_IsNotStored()
    {
        var mock = new RecordingMock();
        mock.RespondSequence(
            OpenAiChat,
            _ => Responses.Json(Responses.ChatJson("gpt-4.1", content: "I can't").Replace("\"stop\"", "\"content_filter\"", StringComparison.Ordinal)),
            _ => Responses.Json(Responses.ChatJson("gpt-4.1", content: "feature")));
        using var host = Create(mock);

        await AskAsync(host);
        var second = await AskAsync(host);

        Assert.Equal(2, mock.Requests.Count);
        Assert.Equal("feature", second.Value.Content[0].Text);
    }

    [Fact]
    public async Task OnCallEnded_CutStream_IsNotStored()
    {
        var mock = new RecordingMock();
        mock.RespondSequence(
            OpenAiChat,
            _ => Responses.EventStream(Responses.ChatStream("gpt-4.1", ["par", "tial"], done: false)),
            _ => Responses.EventStream(Responses.ChatStream("gpt-4.1", ["who", "le"])));
        using var host = Create(mock);

        await Assert.ThrowsAnyAsync<Exception>(() => StreamAsync(host));
        var second = await StreamAsync(host);
        var third = await StreamAsync(host);

        Assert.Equal(2, mock.Requests.Count);
        Assert.Equal(("whole", "whole"), (second.Text, third.Text));
    }

    [Fact]
    public async Task OnCallEnded_CancelledStream_IsNotStored()
    {
        var mock = new RecordingMock();
        mock.RespondSequence(
            OpenAiChat,
            _ => StallingStream.Response([.. Events(Responses.ChatStream("gpt-4.1", ["a", "b", "c"])).Take(2)]),
            _ => Responses.EventStream(Responses.ChatStream("gpt-4.1", ["a", "b", "c"])));
        using var host = Create(mock);

        using (var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var update in host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatStreamingAsync([new UserChatMessage("classify this diff")], cancellationToken: cts.Token))
                {
                    if (update.ContentUpdate.Count > 0)
                    {
                        await cts.CancelAsync();
                    }
                }
            });
        }

        await StreamAsync(host);
        await StreamAsync(host);

        Assert.Equal(2, mock.Requests.Count);
        Assert.Equal([UsageOutcome.Canceled, UsageOutcome.Succeeded, UsageOutcome.Succeeded], host.Ledger.GetRecords().Select(r => r.Outcome));
    }

    [Fact]
    public async Task OnCallEnded_StreamClosedEarly_IsNotStored()
    {
        var mock = new RecordingMock();
        mock.RespondSequence(
            OpenAiChat,
            _ => StallingStream.Response([.. Events(Responses.ChatStream("gpt-4.1", ["a", "b", "c"]))], end: true),
            _ => Responses.EventStream(Responses.ChatStream("gpt-4.1", ["a", "b", "c"])));
        using var host = Create(mock);

        await foreach (var update in host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatStreamingAsync([new UserChatMessage("classify this diff")], cancellationToken: Ct))
        {
            if (update.ContentUpdate.Count > 0)
            {
                break;
            }
        }

        await StreamAsync(host);
        await StreamAsync(host);

        Assert.Equal(2, mock.Requests.Count);
        Assert.Equal(UsageOutcome.Incomplete, host.Ledger.GetRecords()[0].Outcome);
    }

    /// <summary>A stream's events, each a chunk of its own, so that a test decides what has arrived.</summary>
    private static IEnumerable<string> Events(string stream) =>
        stream.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e + "\n\n");

    [Fact]
    public async Task OnCallEnded_FallbackAnswer_IsNotStoredByDefault()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Error(HttpStatusCode.InternalServerError));
        mock.Respond(MistralChat, _ => Responses.Json(Responses.ChatJson("mistral-large-2411", content: "from B")));
        using var host = Create(mock, o => Policy(o, "chain", "openai/gpt-4.1", "mistral/mistral-large"), more: b => b.Configure(o => o.Providers["openai"].MaxRetries = 0));

        await AskAsync(host, "policy/chain");
        await AskAsync(host, "policy/chain");

        Assert.Equal(4, mock.Requests.Count);
        Assert.All(host.Ledger.GetRecords(), r => Assert.False(r.FromCache));
    }

    [Fact]
    public async Task OnCallEnded_FallbackAnswerWithStoreFallbackAnswers_IsServedToTheSamePolicyWithTheModelThatAnswered()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Error(HttpStatusCode.InternalServerError));
        mock.Respond(MistralChat, _ => Responses.Json(Responses.ChatJson("mistral-large-2411", content: "from B")));
        using var host = Create(
            mock,
            o =>
            {
                o.ResponseCache.StoreFallbackAnswers = true;
                Policy(o, "chain", "openai/gpt-4.1", "mistral/mistral-large");
            },
            b => b.Configure(o => o.Providers["openai"].MaxRetries = 0));

        await AskAsync(host, "policy/chain");
        var hit = await AskAsync(host, "policy/chain");
        await Assert.ThrowsAnyAsync<System.ClientModel.ClientResultException>(() => AskAsync(host, "openai/gpt-4.1"));

        // The policy's second call is a hit naming the fallback; a direct call to the primary never gets that answer.
        Assert.Equal(["openai.test", "mistral.test", "openai.test"], mock.Requests.Select(r => r.Uri.Host));
        Assert.Equal(("from B", "mistral-large-2411"), (hit.Value.Content[0].Text, hit.Value.Model));
        var record = host.Ledger.GetRecords()[1];
        Assert.Equal((true, "mistral-large-2411", "mistral"), (record.FromCache, record.ModelUsed, record.Provider));
    }

    [Fact]
    public async Task LookupAsync_StreamedHit_ReplaysAStreamTheClientReadsWithTheSameTextAndUsage()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.EventStream(Responses.ChatStream("gpt-4.1", ["Hel", "lo", " world"], promptTokens: 40, completionTokens: 7)));
        using var host = Create(mock);

        var first = await StreamAsync(host);
        var second = await StreamAsync(host);

        Assert.Single(mock.Requests);
        Assert.Equal(("Hello world", "Hello world"), (first.Text, second.Text));
        Assert.Equal((40, 7), (second.Usage!.InputTokenCount, second.Usage.OutputTokenCount));
        Assert.True(host.Ledger.GetRecords()[1] is { FromCache: true, Streaming: true, Outcome: UsageOutcome.Succeeded });
    }

    [Fact]
    public async Task LookupAsync_WholeAnswer_ServesAStreamedRequestAndTheReverse()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Json(Responses.ChatJson("gpt-4.1", content: "whole", promptTokens: 20, completionTokens: 2)));
        mock.Respond(MistralChat, _ => Responses.EventStream(Responses.ChatStream("mistral-large-2411", ["stre", "amed"])));
        using var host = Create(mock);

        await AskAsync(host);
        var streamed = await StreamAsync(host);
        await StreamAsync(host, "mistral/mistral-large");
        var whole = await AskAsync(host, "mistral/mistral-large");

        Assert.Equal(2, mock.Requests.Count);
        Assert.Equal("whole", streamed.Text);
        Assert.Equal((20, 2), (streamed.Usage!.InputTokenCount, streamed.Usage.OutputTokenCount));
        Assert.Equal(("streamed", "mistral-large-2411"), (whole.Value.Content[0].Text, whole.Value.Model));
        Assert.Equal(12, whole.Value.Usage.InputTokenCount);
    }

    [Fact]
    public async Task LookupAsync_StreamedToolCall_ReplaysTheToolCall()
    {
        var stream = """
            data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"q\":"}}]},"finish_reason":null}]}

            data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"x\"}"}}]},"finish_reason":"tool_calls"}]}

            data: [DONE]


            """;
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.EventStream(stream));
        using var host = Create(mock);

        await StreamAsync(host);
        var whole = await AskAsync(host);

        Assert.Single(mock.Requests);
        var call = Assert.Single(whole.Value.ToolCalls);
        Assert.Equal(("call_1", "lookup", "{\"q\":\"x\"}"), (call.Id, call.FunctionName, call.FunctionArguments.ToString()));
        Assert.Equal(ChatFinishReason.ToolCalls, whole.Value.FinishReason);
    }

    [Fact]
    public async Task LookupAsync_AfterTimeToLive_GoesUpstreamAgain()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = Create(mock, o => o.ResponseCache.Models["openai/gpt-4.1"] = new ResponseCacheModelOptions { TimeToLive = TimeSpan.FromMinutes(10) });

        await AskAsync(host);
        host.Time.Advance(TimeSpan.FromMinutes(9));
        await AskAsync(host);
        host.Time.Advance(TimeSpan.FromMinutes(1));
        await AskAsync(host);
        await AskAsync(host);

        Assert.Equal(2, mock.Requests.Count);
        Assert.Equal([false, true, false, true], host.Ledger.GetRecords().Select(r => r.FromCache));
    }

    [Fact]
    public async Task LookupAsync_InMemoryDistributedCacheRegistered_EntryServedForItsWholeTimeToLive()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Json(Responses.ChatJson("gpt-4.1")));

        // HybridCache ignores the in-memory IDistributedCache (an ASP.NET app's sessions register one): memory is the only copy.
        using var host = CreateOver(mock, static services => services.AddDistributedMemoryCache());

        await AskAsync(host);
        host.Time.Advance(TimeSpan.FromMinutes(30));
        await AskAsync(host);

        Assert.Single(mock.Requests);
        Assert.Equal([false, true], host.Ledger.GetRecords().Select(r => r.FromCache));
    }

    [Fact]
    public async Task LookupAsync_SecondLevelUnreachable_MemoryCopyServedPastItsTimeInMemory()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Json(Responses.ChatJson("gpt-4.1")));

        // The second level goes away after the answer was stored (Redis down): what this process has in memory goes on being served.
        var secondLevel = new FailingDistributedCache();
        using var host = CreateOver(mock, services => services.AddSingleton<Microsoft.Extensions.Caching.Distributed.IDistributedCache>(secondLevel));

        await AskAsync(host);
        secondLevel.Down = true;
        host.Time.Advance(TimeSpan.FromMinutes(5));
        await AskAsync(host);

        Assert.Single(mock.Requests);
        Assert.Equal([false, true], host.Ledger.GetRecords().Select(r => r.FromCache));
    }

    /// <summary>A harness with the cache on for every call, over a HybridCache whose second level <paramref name="secondLevel"/> registers.</summary>
    private static TestHarness CreateOver(RecordingMock mock, Action<IServiceCollection> secondLevel) => TestHarness.Create(
        mock.Handler,
        static b =>
        {
            TestHarness.ThreeProviders(b);
            b.AddResponseCache().Configure(static o => o.ResponseCache.Enabled = true);
        },
        services =>
        {
            secondLevel(services);
            services.AddHybridCache();
        });

    /// <summary>A second level that works until it is taken down, as a Redis that goes away; down, every operation fails as Redis's do.</summary>
    private sealed class FailingDistributedCache : Microsoft.Extensions.Caching.Distributed.IDistributedCache
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> _entries = new();

        public volatile bool Down;

        public byte[]? Get(string key) => Down ? throw new InvalidOperationException("unreachable") : _entries.GetValueOrDefault(key);

        public Task<byte[]?> GetAsync(string key, CancellationToken token = default) =>
            Down ? Task.FromException<byte[]?>(new InvalidOperationException("unreachable")) : Task.FromResult(_entries.GetValueOrDefault(key));

        public void Set(string key, byte[] value, Microsoft.Extensions.Caching.Distributed.DistributedCacheEntryOptions options) => _ = SetAsync(key, value, options);

        public Task SetAsync(string key, byte[] value, Microsoft.Extensions.Caching.Distributed.DistributedCacheEntryOptions options, CancellationToken token = default)
        {
            if (Down)
            {
                return Task.FromException(new InvalidOperationException("unreachable"));
            }

            _entries[key] = value;
            return Task.CompletedTask;
        }

        public void Refresh(string key)
        {
        }

        public Task RefreshAsync(string key, CancellationToken token = default) => Task.CompletedTask;

        public void Remove(string key) => _entries.TryRemove(key, out _);

        public Task RemoveAsync(string key, CancellationToken token = default)
        {
            Remove(key);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task LookupAsync_SixteenConcurrentIdenticalRequests_MakeOneUpstreamCall()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstream = 0;
        using var host = Create(new DelegatingStub(async (_, ct) =>
        {
            Interlocked.Increment(ref upstream);
            await release.Task.WaitAsync(ct);
            return Responses.Json(Responses.ChatJson("gpt-4.1", content: "once"));
        }));
        var client = host.Harness.GetChatClient("openai/gpt-4.1");

        var calls = new List<Task<System.ClientModel.ClientResult<ChatCompletion>>>();
        for (var i = 0; i < 16; i++)
        {
            calls.Add(client.CompleteChatAsync([new UserChatMessage("same")], cancellationToken: Ct));
        }

        release.SetResult();
        var answers = await Task.WhenAll(calls);

        Assert.Equal(1, upstream);
        Assert.All(answers, a => Assert.Equal("once", a.Value.Content[0].Text));
        Assert.Equal(15, host.Ledger.GetRecords().Count(r => r.FromCache));
    }

    [Fact]
    public async Task LookupAsync_SixteenConcurrentStreamedRequests_MakeOneUpstreamCall()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstream = 0;
        using var host = Create(new DelegatingStub(async (_, ct) =>
        {
            Interlocked.Increment(ref upstream);
            await release.Task.WaitAsync(ct);
            return Responses.EventStream(Responses.ChatStream("gpt-4.1", ["on", "ce"]));
        }));

        var calls = new List<Task<(string Text, ChatTokenUsage? Usage, int Updates)>>();
        for (var i = 0; i < 16; i++)
        {
            calls.Add(StreamAsync(host));
        }

        release.SetResult();
        var answers = await Task.WhenAll(calls);

        Assert.Equal(1, upstream);
        Assert.All(answers, a => Assert.Equal("once", a.Text));
    }

    [Fact]
    public async Task Record_Hit_CostsNothingChargesNoBudgetAndReportsItsSaving()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Json(Responses.ChatJson("gpt-4.1", promptTokens: 1000, completionTokens: 100)));
        using var host = Create(mock, o => o.Catalog.Models["openai/gpt-4.1"] = new ModelPriceOptions { InputPerToken = 0.000002m, OutputPerToken = 0.000008m, MaxOutputTokens = 1000 });
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 1m);

        await AskAsync(host);
        var spent = run.SpentUsd;
        await AskAsync(host);

        var records = host.Ledger.GetRecords();
        Assert.Equal(0.0028m, records[0].CostUsd);
        Assert.Equal((true, 0m, 0.0028m), (records[1].FromCache, records[1].CostUsd, records[1].SavedUsd));
        Assert.Equal(spent, run.SpentUsd);
        Assert.Equal(0m, run.ReservedUsd);
        var report = await host.Ledger.GetUsageAsync(new UsageQuery { Start = host.Time.GetUtcNow().AddDays(-1), End = host.Time.GetUtcNow().AddDays(1) }, Ct);
        Assert.Equal((2L, 1L, 0.0028m, 0.0028m), (report.Totals.Requests, report.Totals.CacheHits, report.Totals.SpendUsd, report.Totals.SavedUsd));
    }

    [Theory]
    [InlineData(ResponseCacheMode.Bypass, 2, false)]
    [InlineData(ResponseCacheMode.WriteOnly, 2, true)]
    [InlineData(ResponseCacheMode.ReadOnly, 2, false)]
    [InlineData(ResponseCacheMode.ReadWrite, 1, true)]
    public async Task LookupAsync_RunMode_ServesAndStoresAsTheModeSays(ResponseCacheMode mode, int upstream, bool storedForLater)
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = Create(mock, o => o.ResponseCache.Enabled = false);

        using (var run = host.Harness.BeginRun("agent", r => r.CacheMode = mode))
        {
            await AskAsync(host);
            await AskAsync(host);
        }

        Assert.Equal(upstream, mock.Requests.Count);
        using (host.Harness.BeginRun("agent", r => r.CacheMode = ResponseCacheMode.ReadOnly))
        {
            await AskAsync(host);
        }

        Assert.Equal(storedForLater ? upstream : upstream + 1, mock.Requests.Count);
    }

    [Fact]
    public async Task LookupAsync_ModelNotTurnedOn_IsNeverCached()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        mock.Respond(MistralChat, _ => Responses.Json(Responses.ChatJson("mistral-large-2411")));
        using var host = Create(mock, o =>
        {
            o.ResponseCache.Enabled = false;
            o.ResponseCache.Models["mistral/mistral-large"] = new ResponseCacheModelOptions { Enabled = true };
        });

        await AskAsync(host);
        await AskAsync(host);
        await AskAsync(host, "mistral/mistral-large");
        await AskAsync(host, "mistral/mistral-large");

        Assert.Equal(["openai.test", "openai.test", "mistral.test"], mock.Requests.Select(r => r.Uri.Host));
    }

    [Fact]
    public async Task OnCallEnded_AnswerAboveMaxEntryBytes_IsNotStored()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Json(Responses.ChatJson("gpt-4.1", content: new string('x', 2000))));
        using var host = Create(mock, o => o.ResponseCache.MaxEntryBytes = 1000);

        await AskAsync(host);
        await AskAsync(host);

        Assert.Equal(2, mock.Requests.Count);
    }

    [Fact]
    public async Task RemoveAsync_TheKeyARecordNamed_NextCallGoesUpstream()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = Create(mock);
        var cache = host.Services.GetRequiredService<IResponseCache>();

        await AskAsync(host);
        await cache.RemoveAsync(host.Ledger.GetRecords()[0].CacheKey!, Ct);
        await AskAsync(host);

        Assert.Equal(2, mock.Requests.Count);
    }

    [Fact]
    public async Task RemoveScopeAsync_OneCustomer_OnlyItsEntriesGo()
    {
        var mock = new RecordingMock();
        mock.Respond(OpenAiChat, _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = Create(mock);
        var cache = host.Services.GetRequiredService<IResponseCache>();

        async Task AskAs(string customer)
        {
            using var run = host.Harness.BeginRun("agent", r => r.Customer = customer);
            await AskAsync(host);
        }

        await AskAs("acme");
        await AskAs("globex");
        await cache.RemoveScopeAsync(new Dictionary<string, string> { ["customer"] = "acme" }, Ct);
        await AskAs("acme");
        await AskAs("globex");

        Assert.Equal(3, mock.Requests.Count);
        Assert.Equal([false, false, false, true], host.Ledger.GetRecords().Select(r => r.FromCache));
    }

    /// <summary>A transport answering from a delegate.</summary>
    private sealed class DelegatingStub(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> respond) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => respond(request, cancellationToken);
    }
}
