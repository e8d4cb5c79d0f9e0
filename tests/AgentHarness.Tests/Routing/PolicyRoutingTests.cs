using System.ClientModel;
using System.Net;
using System.Text.Json;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using OpenAI.Chat;

namespace AgentHarness.Tests.Routing;

public sealed class PolicyRoutingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Policy(IAgentHarnessBuilder builder, string name, Action<PolicyOptions> configure, params string[] models) =>
        builder.Configure(o =>
        {
            var policy = new PolicyOptions { RetryBaseDelay = TimeSpan.Zero };
            foreach (var model in models)
            {
                policy.Models.Add(new PolicyMemberOptions { Model = model });
            }

            configure(policy);
            o.Policies[name] = policy;
        });

    private static string BodyModel(CapturedRequest request) =>
        JsonDocument.Parse(request.Body).RootElement.GetProperty("model").GetString()!;

    private static async Task<string> StreamTextAsync(ChatClient client)
    {
        var text = new System.Text.StringBuilder();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        return text.ToString();
    }

    private static HttpResponseMessage RetryAfter(HttpStatusCode status, TimeSpan wait)
    {
        var response = Responses.Error(status);
        response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(wait);
        return response;
    }

    [Fact]
    public async Task Fallback_PrimaryAlways500WithTwoRetries_ThreeCallsToAThenOneToB()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.InternalServerError));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large-2411", content: "from B")));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => p.AttemptsPerModel = 3, "openai/gpt-4.1", "mistral/mistral-large");
        });

        var completion = await host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        Assert.Equal(["openai.test", "openai.test", "openai.test", "mistral.test"], mock.Requests.Select(r => r.Uri.Host));
        Assert.Equal("from B", completion.Value.Content[0].Text);
        Assert.Equal("mistral-large-2411", completion.Value.Model);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(("policy/chain", "mistral-large-2411", "mistral"), (record.ModelRequested, record.ModelUsed, record.Provider));
        Assert.Equal(
            [(AttemptOutcome.Failed, 500), (AttemptOutcome.Failed, 500), (AttemptOutcome.Failed, 500), (AttemptOutcome.Succeeded, 200)],
            record.Attempts.Select(a => (a.Outcome, a.StatusCode ?? 0)));
    }

    [Fact]
    public async Task Fallback_SameFailureOnTwoCalls_TheirRecordsHoldOneReasonString()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large-2411", content: "from B")));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => p.AttemptsPerModel = 1, "openai/gpt-4.1", "mistral/mistral-large");
        });

        var client = host.Harness.GetChatClient("policy/chain");
        await client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
        await client.CompleteChatAsync([new UserChatMessage("b")], cancellationToken: Ct);

        // While a provider is down every call fails the same way: the ledger's records share the reason, not a copy each.
        var records = host.Ledger.GetRecords();
        Assert.Equal(2, records.Count);
        Assert.Equal("HTTP 503 server_error", records[0].Attempts[0].Error);
        Assert.Same(records[0].Attempts[0].Error, records[1].Attempts[0].Error);
    }

    [Fact]
    public async Task Retry_429WithRetryAfter7_NextAttemptAtSevenSecondsNotBefore()
    {
        var mock = new RecordingMock();
        mock.RespondSequence(
            "https://openai.test/v1/chat/completions",
            _ => RetryAfter(HttpStatusCode.TooManyRequests, TimeSpan.FromSeconds(7)),
            _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", _ => { }, "openai/gpt-4.1", "mistral/mistral-large");
        });

        var call = host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
        await host.Time.WaitForTimerAsync(TimeSpan.FromSeconds(7), Ct);
        host.Time.Advance(TimeSpan.FromSeconds(7) - TimeSpan.FromMilliseconds(10));
        Assert.Single(mock.Requests);
        host.Time.Advance(TimeSpan.FromMilliseconds(10));
        await call;

        Assert.Equal(["openai.test", "openai.test"], mock.Requests.Select(r => r.Uri.Host));
    }

    [Fact]
    public async Task Retry_RetryAfterAboveCap_NextCandidateWithoutWaiting()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => RetryAfter(HttpStatusCode.TooManyRequests, TimeSpan.FromMinutes(10)));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large")));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => p.MaxRetryAfter = TimeSpan.FromSeconds(30), "openai/gpt-4.1", "mistral/mistral-large");
        });
        var start = host.Time.GetUtcNow();

        await host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        Assert.Equal(["openai.test", "mistral.test"], mock.Requests.Select(r => r.Uri.Host));
        Assert.Equal(start, host.Time.GetUtcNow());
    }

    [Theory]
    [InlineData("99999999999999")]
    [InlineData("2147483648")]
    public async Task Retry_RetryAfterSecondsPastTheHeadersRange_NextCandidateWithoutWaiting(string seconds)
    {
        // Too many seconds for the header's parser is still a wait far above the cap, not no Retry-After at all.
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ =>
        {
            var response = Responses.Json("""{"error":{"message":"slow down","type":"rate_limit_error"}}""", HttpStatusCode.TooManyRequests);
            response.Headers.TryAddWithoutValidation("Retry-After", seconds);
            return response;
        });
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large")));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => p.MaxRetryAfter = TimeSpan.FromSeconds(30), "openai/gpt-4.1", "mistral/mistral-large");
        });
        var start = host.Time.GetUtcNow();

        await host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        Assert.Equal(["openai.test", "mistral.test"], mock.Requests.Select(r => r.Uri.Host));
        Assert.Equal(start, host.Time.GetUtcNow());
    }

    [Fact]
    public async Task Fallback_401OnA_NoRetryOnAAndBAnswers()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json("""{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}""", HttpStatusCode.Unauthorized));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large")));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", _ => { }, "openai/gpt-4.1", "mistral/mistral-large");
        });

        await host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        Assert.Equal(["openai.test", "mistral.test"], mock.Requests.Select(r => r.Uri.Host));
    }

    [Fact]
    public async Task Fallback_400FromA_IsTheCallersErrorAndDoesNotFallBack()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json("""{"error":{"message":"Invalid value for 'temperature'","type":"invalid_request_error","param":"temperature","code":"invalid_value"}}""", HttpStatusCode.BadRequest));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large")));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", _ => { }, "openai/gpt-4.1", "mistral/mistral-large");
        });

        var ex = await Assert.ThrowsAsync<ClientResultException>(() => host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct));

        Assert.Equal(400, ex.Status);
        Assert.Equal(["openai.test"], mock.Requests.Select(r => r.Uri.Host));
    }

    [Fact]
    public async Task Fallback_ContextLengthOn8k_Skips4kAndThe128kAnswers()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", r => BodyModel(r) switch
        {
            "model-8k" => Responses.Json("""{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}""", HttpStatusCode.BadRequest),
            "model-128k" => Responses.Json(Responses.ChatJson("model-128k")),
            _ => Responses.Error(HttpStatusCode.InternalServerError),
        });
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            b.Configure(o =>
            {
                var policy = new PolicyOptions();
                policy.Models.Add(new PolicyMemberOptions { Model = "openai/model-8k", ContextWindow = 8_192 });
                policy.Models.Add(new PolicyMemberOptions { Model = "openai/model-4k", ContextWindow = 4_096 });
                policy.Models.Add(new PolicyMemberOptions { Model = "openai/model-128k", ContextWindow = 128_000 });
                o.Policies["long"] = policy;
            });
        });

        var completion = await host.Harness.GetChatClient("policy/long").CompleteChatAsync([new UserChatMessage("long prompt")], cancellationToken: Ct);

        Assert.Equal("model-128k", completion.Value.Model);
        Assert.Equal(["model-8k", "model-128k"], mock.Requests.Select(BodyModel));
        var attempts = Assert.Single(host.Ledger.GetRecords()).Attempts;
        Assert.Equal([AttemptOutcome.Failed, AttemptOutcome.Skipped, AttemptOutcome.Succeeded], attempts.Select(a => a.Outcome));
        Assert.Contains("context window 4096", attempts[1].Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cooldown_AfterItOpens_NoRequestsToAUntilOneProbeAfterThePeriod()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large")));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => p.AttemptsPerModel = 1, "openai/gpt-4.1", "mistral/mistral-large");
            b.Configure(o => { o.FailuresBeforeCooldown = 3; o.CooldownPeriod = TimeSpan.FromSeconds(30); });
        });
        var client = host.Harness.GetChatClient("policy/chain");
        int CallsToA() => mock.Requests.Count(r => r.Uri.Host == "openai.test");

        for (var i = 0; i < 3; i++)
        {
            await client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
        }

        Assert.Equal(3, CallsToA());
        for (var i = 0; i < 10; i++)
        {
            await client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
        }

        Assert.Equal(3, CallsToA());
        host.Time.Advance(TimeSpan.FromSeconds(30));
        await client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
        await client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        Assert.Equal(4, CallsToA());
    }

    [Fact]
    public async Task Cooldown_EveryCandidateCoolingDown_FailsFastWithoutRequests()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => p.AttemptsPerModel = 1, "openai/gpt-4.1", "mistral/mistral-large");
            b.Configure(o => o.FailuresBeforeCooldown = 1);
        });
        var client = host.Harness.GetChatClient("policy/chain");
        await Assert.ThrowsAsync<AllCandidatesFailedException>(() => client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct));
        var sent = mock.Requests.Count;

        var ex = await Assert.ThrowsAsync<AllCandidatesFailedException>(() => client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct));

        Assert.Equal(sent, mock.Requests.Count);
        Assert.Contains("cooling down", ex.Message, StringComparison.Ordinal);
        Assert.All(ex.Attempts, a => Assert.Equal(AttemptOutcome.Skipped, a.Outcome));
    }

    [Fact]
    public async Task AllFail_ThrowsOneExceptionListingEachAttempt()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.BadGateway));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json("""{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}""", HttpStatusCode.TooManyRequests));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => p.AttemptsPerModel = 2, "openai/gpt-4.1", "mistral/mistral-large");
        });

        var ex = await Assert.ThrowsAsync<AllCandidatesFailedException>(() => host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct));

        Assert.Equal("policy/chain", ex.Model);
        Assert.Equal([("gpt-4.1", 502), ("gpt-4.1", 502), ("mistral-large", 429)], ex.Attempts.Select(a => (a.Model, a.StatusCode ?? 0)));
        Assert.Contains("mistral-large via mistral: HTTP 429", ex.Message, StringComparison.Ordinal);
        Assert.Equal(3, mock.Requests.Count);
        Assert.Equal(UsageOutcome.Failed, Assert.Single(host.Ledger.GetRecords()).Outcome);
    }

    [Fact]
    public async Task Cancel_DuringBackoff_ThrowsAtTheSameFakeInstantAndSendsNothingMore()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.InternalServerError));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => { p.RetryBaseDelay = TimeSpan.FromSeconds(10); p.AttemptsPerModel = 3; }, "openai/gpt-4.1", "mistral/mistral-large");
        });
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var start = host.Time.GetUtcNow();

        var call = host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: cts.Token);
        while (mock.Requests.Count == 0)
        {
            await Task.Yield();
        }

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.Single(mock.Requests);
        Assert.Equal(start, host.Time.GetUtcNow());
        Assert.Equal(UsageOutcome.Canceled, Assert.Single(host.Ledger.GetRecords()).Outcome);
    }

    [Fact]
    public async Task Chain_AcrossThreeProviders_EachRequestCarriesItsOwnKeyAndMetadataOnlyToTheGateway()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        mock.Respond("https://gateway.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("claude-sonnet-4-5")));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => p.AttemptsPerModel = 1, "openai/gpt-4.1", "mistral/mistral-large", "anthropic/claude-sonnet-4-5");
        });

        using (host.Harness.BeginRun("agent-x"))
        {
            await host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
        }

        var requests = mock.Requests;
        Assert.Equal(["Bearer key-openai"], requests[0].HeaderValues("Authorization"));
        Assert.Equal(["Bearer key-mistral"], requests[1].HeaderValues("Authorization"));
        Assert.Equal(["Bearer key-gateway"], requests[2].HeaderValues("Authorization"));
        Assert.Empty(requests[0].HeaderValues("X-Requesty-Agent"));
        Assert.Empty(requests[1].HeaderValues("X-Requesty-Agent"));
        Assert.Equal(["agent-x"], requests[2].HeaderValues("X-Requesty-Agent"));
        Assert.Equal(["gpt-4.1", "mistral-large", "anthropic/claude-sonnet-4-5"], requests.Select(BodyModel));
    }

    [Fact]
    public async Task Streaming_FailsBeforeFirstEvent_BStreamsTheWholeAnswer()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.EventStream(string.Empty));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.EventStream(Responses.ChatStream("mistral-large", ["Hel", "lo"])));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => p.AttemptsPerModel = 1, "openai/gpt-4.1", "mistral/mistral-large");
        });

        var text = await StreamTextAsync(host.Harness.GetChatClient("policy/chain"));

        Assert.Equal("Hello", text);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Succeeded, "mistral-large"), (record.Outcome, record.ModelUsed));
        Assert.Contains("before its first event", record.Attempts[0].Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Streaming_ErrorAsFirstEvent_FallsBack()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.EventStream("""data: {"error":{"message":"overloaded","type":"server_error","code":"server_error"}}""" + "\n\n"));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.EventStream(Responses.ChatStream("mistral-large", ["ok"])));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => p.AttemptsPerModel = 1, "openai/gpt-4.1", "mistral/mistral-large");
        });

        var text = await StreamTextAsync(host.Harness.GetChatClient("policy/chain"));

        Assert.Equal("ok", text);
    }

    [Fact]
    public async Task Streaming_CutAfterThreeEvents_TypedMidStreamExceptionAndNoCallToB()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.EventStream(Responses.ChatStream("gpt-4.1", ["a", "b", "c"], done: false, usage: false)));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.EventStream(Responses.ChatStream("mistral-large", ["x"])));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", _ => { }, "openai/gpt-4.1", "mistral/mistral-large");
        });

        var received = "";
        var ex = await Assert.ThrowsAsync<StreamInterruptedException>(async () =>
        {
            await foreach (var update in host.Harness.GetChatClient("policy/chain").CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct))
            {
                received += string.Concat(update.ContentUpdate.Select(p => p.Text));
            }
        });

        Assert.Equal("abc", received);
        Assert.Equal(("openai", "gpt-4.1", 3), (ex.Provider, ex.Model, ex.EventsReceived));
        Assert.Contains("end marker", ex.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain(mock.Requests, r => r.Uri.Host == "mistral.test");
        Assert.Equal(UsageOutcome.Incomplete, Assert.Single(host.Ledger.GetRecords()).Outcome);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Fallback_BodyCutShortOnA_FallsBackToB(bool stream)
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => stream
            ? CutStream.Response("""data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}""" + "\n\n", "text/event-stream")
            : CutStream.Response("""{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4.1","choi""", "application/json"));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => stream
            ? Responses.EventStream(Responses.ChatStream("mistral-large", ["x"]))
            : Responses.Json(Responses.ChatJson("mistral-large", "x")));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => p.AttemptsPerModel = 1, "openai/gpt-4.1", "mistral/mistral-large");
        });
        var client = host.Harness.GetChatClient("policy/chain");

        var text = "";
        if (stream)
        {
            await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct))
            {
                text += string.Concat(update.ContentUpdate.Select(static p => p.Text));
            }
        }
        else
        {
            text = (await client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct)).Value.Content[0].Text;
        }

        Assert.Equal("x", text);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(
            [("openai", AttemptOutcome.Failed, "connection failed (ResponseEnded)"), ("mistral", AttemptOutcome.Succeeded, null)],
            record.Attempts.Select(static a => (a.Provider, a.Outcome, a.Error)));
        Assert.Equal(UsageOutcome.Succeeded, record.Outcome);
    }

    [Fact]
    public async Task Streaming_MalformedEventAfterStart_TypedMidStreamException()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => StallingStream.Response([Responses.ChatStream("gpt-4.1", ["a"], done: false, usage: false), "data: {not json\n\n"], end: true));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", _ => { }, "openai/gpt-4.1", "mistral/mistral-large");
        });

        var ex = await Assert.ThrowsAsync<StreamInterruptedException>(async () =>
        {
            await foreach (var _ in host.Harness.GetChatClient("policy/chain").CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct))
            {
            }
        });

        Assert.Equal("a malformed event", ex.Reason);
    }

    [Fact]
    public async Task Sticky_SameRunAlwaysLandsOnOneModel()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", r => Responses.Json(Responses.ChatJson(BodyModel(r))));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "balanced", p => { p.Strategy = RoutingStrategy.Weighted; p.Sticky = true; }, "openai/m1", "openai/m2", "openai/m3", "openai/m4");
        });
        var client = host.Harness.GetChatClient("policy/balanced");

        using (host.Harness.BeginRun("agent"))
        {
            for (var i = 0; i < 50; i++)
            {
                await client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
            }
        }

        Assert.Single(mock.Requests.Select(BodyModel).Distinct());
    }

    [Fact]
    public async Task Weighted_3To1_SplitsTrafficByWeight()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", r => Responses.Json(Responses.ChatJson(BodyModel(r))));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            b.Configure(o =>
            {
                var policy = new PolicyOptions { Strategy = RoutingStrategy.Weighted };
                policy.Models.Add(new PolicyMemberOptions { Model = "openai/big", Weight = 3 });
                policy.Models.Add(new PolicyMemberOptions { Model = "openai/small", Weight = 1 });
                o.Policies["split"] = policy;
            });
        });
        var client = host.Harness.GetChatClient("policy/split");

        for (var i = 0; i < 2000; i++)
        {
            await client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
        }

        // The exact ±3% split over 4,000 draws is pinned with a seeded source in CandidateSelectorsTests;
        // here the draw is Random.Shared, so the bound is ten standard deviations wide.
        var share = mock.Requests.Count(r => BodyModel(r) == "big") / 2000.0;
        Assert.InRange(share, 0.65, 0.85);
    }

    [Fact]
    public async Task Nested_PolicyMemberIsExpandedInPlace()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", r => BodyModel(r) == "c" ? Responses.Json(Responses.ChatJson("c")) : Responses.Error(HttpStatusCode.ServiceUnavailable));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "inner", _ => { }, "openai/a", "openai/b");
            Policy(b, "outer", p => p.AttemptsPerModel = 1, "policy/inner", "openai/c");
        });

        await host.Harness.GetChatClient("policy/outer").CompleteChatAsync([new UserChatMessage("x")], cancellationToken: Ct);

        Assert.Equal(["a", "b", "c"], mock.Requests.Select(BodyModel));
    }

    [Fact]
    public async Task Fallback_IsLoggedWithPolicyModelReasonAndNextModel_WithoutKeys()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large")));
        var collector = new FakeLogCollector();
        using var host = TestHarness.Create(
            mock.Handler,
            b =>
            {
                TestHarness.ThreeProviders(b);
                Policy(b, "chain", p => p.AttemptsPerModel = 1, "openai/gpt-4.1", "mistral/mistral-large");
            },
            services => services.AddLogging(l => l.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(collector))));

        await host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        var fallback = Assert.Single(collector.GetSnapshot(), r => r.Id.Id == 3);
        Assert.Equal(LogLevel.Warning, fallback.Level);
        Assert.Contains("policy/chain", fallback.Message, StringComparison.Ordinal);
        Assert.Contains("gpt-4.1 via openai failed (HTTP 503", fallback.Message, StringComparison.Ordinal);
        Assert.Contains("falling back to mistral-large", fallback.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(collector.GetSnapshot(), r => r.Message.Contains("key-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Streaming_StallBeforeFirstEvent_FallsBackAfterFirstTokenTimeout()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => StallingStream.Response(string.Empty));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.EventStream(Responses.ChatStream("mistral-large", ["fine"])));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => { p.AttemptsPerModel = 1; p.FirstTokenTimeout = TimeSpan.FromSeconds(5); }, "openai/gpt-4.1", "mistral/mistral-large");
        });

        var reading = Task.Run(async () =>
        {
            var text = "";
            await foreach (var update in host.Harness.GetChatClient("policy/chain").CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct))
            {
                text += string.Concat(update.ContentUpdate.Select(p => p.Text));
            }

            return text;
        }, Ct);
        await host.Time.WaitForTimerAsync(TimeSpan.FromSeconds(5), Ct);
        host.Time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal("fine", await reading);
        Assert.Contains("no first event within 00:00:05", Assert.Single(host.Ledger.GetRecords()).Attempts[0].Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Streaming_StallAfterOutputStarted_ThrowsAfterIdleTimeoutWithoutFallback()
    {
        var mock = new RecordingMock();
        StallingStream? stalling = null;
        mock.Respond("https://openai.test/v1/chat/completions", _ =>
        {
            var response = StallingStream.Response([Responses.ChatStream("gpt-4.1", ["partial"], done: false, usage: false)], end: false, out var stream);
            stalling = stream;
            return response;
        });
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.EventStream(Responses.ChatStream("mistral-large", ["x"])));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => p.StreamIdleTimeout = TimeSpan.FromSeconds(10), "openai/gpt-4.1", "mistral/mistral-large");
        });

        var received = "";
        var reading = Task.Run(async () =>
        {
            await foreach (var update in host.Harness.GetChatClient("policy/chain").CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct))
            {
                received += string.Concat(update.ContentUpdate.Select(p => p.Text));
            }
        }, Ct);

        // The caller is waiting in a read: the provider has gone silent, not the caller.
        while (Volatile.Read(ref stalling) is null)
        {
            await Task.Yield();
        }

        await stalling!.Stalled.WaitAsync(Ct);
        host.Time.Advance(TimeSpan.FromSeconds(10));

        var ex = await Assert.ThrowsAsync<StreamInterruptedException>(() => reading);
        Assert.Equal("partial", received);
        Assert.Equal("no data for 00:00:10", ex.Reason);
        Assert.DoesNotContain(mock.Requests, r => r.Uri.Host == "mistral.test");
    }

    [Fact]
    public async Task Streaming_ErrorEventInTheFirstRead_FallsBackBecauseNothingReachedTheCaller()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.EventStream(
            Responses.ChatStream("gpt-4.1", [""], done: false, usage: false) + "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n"));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.EventStream(Responses.ChatStream("mistral-large", ["ok"])));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => p.AttemptsPerModel = 1, "openai/gpt-4.1", "mistral/mistral-large");
        });

        var text = await StreamTextAsync(host.Harness.GetChatClient("policy/chain"));

        Assert.Equal("ok", text);
    }

    [Fact]
    public async Task Streaming_UsageInEveryChunkButNoEndMarker_IsNotASuccess()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => StallingStream.Response(
            [
                "data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}\n\n",
                "data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n",
            ],
            end: true));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        await Assert.ThrowsAsync<StreamInterruptedException>(async () =>
        {
            await foreach (var _ in host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct))
            {
            }
        });

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Incomplete, 2), (record.Outcome, record.OutputTokens));
    }

    [Fact]
    public async Task Cooldown_ThresholdBelowAttempts_DoesNotCutTheCallsOwnRetries()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.InternalServerError));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large")));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => p.AttemptsPerModel = 3, "openai/gpt-4.1", "mistral/mistral-large");
            b.Configure(o => o.FailuresBeforeCooldown = 2);
        });

        await host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        Assert.Equal(["openai.test", "openai.test", "openai.test", "mistral.test"], mock.Requests.Select(r => r.Uri.Host));
    }

    [Fact]
    public async Task AllFail_SingleMemberPolicy_StillThrowsTheAttemptList()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "solo", p => p.AttemptsPerModel = 2, "openai/gpt-4.1");
        });

        var ex = await Assert.ThrowsAsync<AllCandidatesFailedException>(() => host.Harness.GetChatClient("policy/solo").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct));

        Assert.Equal(2, ex.Attempts.Count);
    }

    [Fact]
    public async Task Retry_RetryAfterAboveCapWithoutTransientFallback_ReturnsTheProvidersAnswer()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ =>
        {
            var response = RetryAfter(HttpStatusCode.TooManyRequests, TimeSpan.Zero);
            response.Headers.TryAddWithoutValidation("retry-after-ms", "1e30");
            return response;
        });
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large")));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => p.FallbackOn = FallbackTriggers.ContextWindow, "openai/gpt-4.1", "mistral/mistral-large");
        });

        var ex = await Assert.ThrowsAsync<ClientResultException>(() => host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct));

        Assert.Equal(429, ex.Status);
        Assert.Equal(["openai.test"], mock.Requests.Select(r => r.Uri.Host));
    }

    [Fact]
    public async Task Fallback_404ModelNotFound_TriesTheNextCandidate()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json("""{"error":{"message":"The model does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}""", HttpStatusCode.NotFound));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large")));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", _ => { }, "openai/gpt-5-preview", "mistral/mistral-large");
        });

        var completion = await host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        Assert.Equal("mistral-large", completion.Value.Model);
        Assert.Equal(["openai.test", "mistral.test"], mock.Requests.Select(r => r.Uri.Host));
    }

    [Fact]
    public async Task Cooldown_StreamsThatBreakAfterStarting_CoolTheModelDown()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.EventStream(Responses.ChatStream("gpt-4.1", ["a", "b"], done: false, usage: false)));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.EventStream(Responses.ChatStream("mistral-large", ["ok"])));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", _ => { }, "openai/gpt-4.1", "mistral/mistral-large");
            b.Configure(o => o.FailuresBeforeCooldown = 1);
        });
        var client = host.Harness.GetChatClient("policy/chain");

        await Assert.ThrowsAsync<StreamInterruptedException>(async () =>
        {
            await foreach (var _ in client.CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct))
            {
            }
        });
        await foreach (var _ in client.CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct))
        {
        }

        Assert.Equal(["openai.test", "mistral.test"], mock.Requests.Select(r => r.Uri.Host));
    }

    [Fact]
    public async Task Cooldown_StreamsBreakingWithThresholdTwo_CoolTheModelDownAfterTwo()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.EventStream(Responses.ChatStream("gpt-4.1", ["a", "b"], done: false, usage: false)));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.EventStream(Responses.ChatStream("mistral-large", ["ok"])));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", _ => { }, "openai/gpt-4.1", "mistral/mistral-large");
            b.Configure(o => o.FailuresBeforeCooldown = 2);
        });
        var client = host.Harness.GetChatClient("policy/chain");

        for (var i = 0; i < 2; i++)
        {
            await Assert.ThrowsAsync<StreamInterruptedException>(() => StreamTextAsync(client));
        }

        Assert.Equal("ok", await StreamTextAsync(client));
        Assert.Equal(["openai.test", "openai.test", "mistral.test"], mock.Requests.Select(r => r.Uri.Host));
    }

    [Fact]
    public async Task Cooldown_CallerClosesOrCancelsHealthyStreams_DoesNotCoolTheModel()
    {
        var mock = new RecordingMock();
        // Long enough that the client's first read cannot reach the end marker.
        var parts = Enumerable.Repeat("word ", 5000).ToArray();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.EventStream(Responses.ChatStream("gpt-4.1", parts)));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.EventStream(Responses.ChatStream("mistral-large", ["ok"])));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", _ => { }, "openai/gpt-4.1", "mistral/mistral-large");
            b.Configure(o => o.FailuresBeforeCooldown = 1);
        });
        var client = host.Harness.GetChatClient("policy/chain");

        await foreach (var _ in client.CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct))
        {
            break;
        }

        using (var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var _ in client.CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: cts.Token))
                {
                    await cts.CancelAsync();
                }
            });
        }

        await StreamTextAsync(client);

        Assert.Equal(["openai.test", "openai.test", "openai.test"], mock.Requests.Select(r => r.Uri.Host));
        Assert.Equal([UsageOutcome.Incomplete, UsageOutcome.Canceled], host.Ledger.GetRecords().Take(2).Select(r => r.Outcome));
    }

    [Fact]
    public async Task Cooldown_ProbeStreamClosedByTheCaller_ReleasesTheProbe()
    {
        var mock = new RecordingMock();
        var parts = Enumerable.Repeat("word ", 5000).ToArray();
        mock.RespondSequence(
            "https://openai.test/v1/chat/completions",
            _ => Responses.Error(HttpStatusCode.ServiceUnavailable),
            _ => Responses.EventStream(Responses.ChatStream("gpt-4.1", parts)));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.EventStream(Responses.ChatStream("mistral-large", ["ok"])));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => p.AttemptsPerModel = 1, "openai/gpt-4.1", "mistral/mistral-large");
            b.Configure(o => { o.FailuresBeforeCooldown = 1; o.CooldownPeriod = TimeSpan.FromSeconds(30); });
        });
        var client = host.Harness.GetChatClient("policy/chain");
        await StreamTextAsync(client);
        host.Time.Advance(TimeSpan.FromSeconds(30));

        // The probe's stream is healthy, but the caller stops after the first update.
        await foreach (var _ in client.CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct))
        {
            break;
        }

        // Neither a failure (no new period) nor held: the next call probes at once, and its success closes the cooldown.
        await foreach (var _ in client.CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct))
        {
        }

        await StreamTextAsync(client);
        Assert.Equal(["openai.test", "mistral.test", "openai.test", "openai.test", "openai.test"], mock.Requests.Select(r => r.Uri.Host));
    }

    [Fact]
    public async Task Cooldown_ProbeStream_HoldsTheProbeUntilItEnds()
    {
        var mock = new RecordingMock();
        mock.RespondSequence(
            "https://openai.test/v1/chat/completions",
            _ => Responses.Error(HttpStatusCode.ServiceUnavailable),
            r => r.Body.Contains("\"stream\":true", StringComparison.Ordinal)
                ? Responses.EventStream(Responses.ChatStream("gpt-4.1", ["probe"]))
                : Responses.Json(Responses.ChatJson("gpt-4.1")));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large")));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => p.AttemptsPerModel = 1, "openai/gpt-4.1", "mistral/mistral-large");
            b.Configure(o => { o.FailuresBeforeCooldown = 1; o.CooldownPeriod = TimeSpan.FromSeconds(30); });
        });
        var client = host.Harness.GetChatClient("policy/chain");
        await client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
        host.Time.Advance(TimeSpan.FromSeconds(30));

        var probe = client.CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct).GetAsyncEnumerator(Ct);
        Assert.True(await probe.MoveNextAsync());

        // While the probe streams, its outcome is not known: other calls still pass the model over.
        await client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
        while (await probe.MoveNextAsync())
        {
        }

        await probe.DisposeAsync();
        await client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        Assert.Equal(["openai.test", "mistral.test", "openai.test", "mistral.test", "openai.test"], mock.Requests.Select(r => r.Uri.Host));
        Assert.Contains(host.Ledger.GetRecords(), r => r.Attempts[0].Error == "skipped: cooling down, a probe call is in flight");
    }

    [Theory]
    [InlineData(RoutingStrategy.Fallback)]
    [InlineData(RoutingStrategy.Weighted)]
    [InlineData(RoutingStrategy.RoundRobin)]
    [InlineData(RoutingStrategy.LowestLatency)]
    [InlineData(RoutingStrategy.LowestCost)]
    public async Task Cooldown_CandidateCoolingDown_IsListedAsSkippedWhenAnotherAnswers(RoutingStrategy strategy)
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large")));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "pool", p => { p.Strategy = strategy; p.AttemptsPerModel = 1; }, "openai/gpt-4.1", "mistral/mistral-large");
            b.Configure(o => { o.FailuresBeforeCooldown = 1; o.CooldownPeriod = TimeSpan.FromSeconds(30); });
        });
        var client = host.Harness.GetChatClient("policy/pool");

        // Until openai has failed once (a weighted draw may start with either member), then once while it cools down.
        for (var i = 0; i < 64 && !mock.Requests.Any(r => r.Uri.Host == "openai.test"); i++)
        {
            await client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
        }

        await client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        var last = host.Ledger.GetRecords()[^1].Attempts;
        Assert.Equal(
            [("openai", AttemptOutcome.Skipped), ("mistral", AttemptOutcome.Succeeded)],
            last.Select(a => (a.Provider, a.Outcome)));
        Assert.StartsWith("skipped: cooling down for ", last[0].Error, StringComparison.Ordinal);
        Assert.Single(mock.Requests, r => r.Uri.Host == "openai.test");
    }

    [Fact]
    public async Task Cooldown_CoolingCandidateReachedLast_IsListedOnce()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            Policy(b, "chain", p => p.AttemptsPerModel = 1, "openai/gpt-4.1", "mistral/mistral-large");
            b.Configure(o => o.FailuresBeforeCooldown = 1);
        });
        var client = host.Harness.GetChatClient("policy/chain");
        await Assert.ThrowsAsync<AllCandidatesFailedException>(() => client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct));

        var ex = await Assert.ThrowsAsync<AllCandidatesFailedException>(() => client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct));

        Assert.Equal(["openai", "mistral"], ex.Attempts.Select(a => a.Provider));
    }
}
