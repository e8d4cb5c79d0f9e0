using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using AgentHarness.Tests.Budget;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Logs;
using OpenAI.Chat;

namespace AgentHarness.Tests.Telemetry;

[Collection(TelemetryCollection.Name)]
public sealed class CallTelemetryTests
{
    private const string Prompt = "Review this diff: the secret-prompt-text must never reach a span";
    private const string Meter = TelemetryOptions.MeterName;

    private static readonly string[] Keys = ["key-gateway", "key-openai", "key-mistral"];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A policy whose first member is the direct OpenAI provider and second the direct Mistral one; Mistral's model is priced.</summary>
    private static void ReviewPolicy(IAgentHarnessBuilder builder, int attemptsPerModel = 2) => builder.Configure(o =>
    {
        var policy = new PolicyOptions { AttemptsPerModel = attemptsPerModel, RetryBaseDelay = TimeSpan.Zero };
        policy.Models.Add(new PolicyMemberOptions { Model = "openai/gpt-4.1" });
        policy.Models.Add(new PolicyMemberOptions { Model = "mistral/mistral-large" });
        o.Policies["review"] = policy;
        o.Catalog.Models["mistral/mistral-large"] = new ModelPriceOptions { InputPerToken = 0.000002m, OutputPerToken = 0.000006m, MaxOutputTokens = 4000 };
    });

    private static HttpResponseMessage Unavailable(TimeSpan retryAfter)
    {
        var response = Responses.Error(HttpStatusCode.ServiceUnavailable);
        response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(retryAfter);
        return response;
    }

    private static object? Tag(Activity span, string name) => span.GetTagItem(name);

    private static void AssertNoSecret(IEnumerable<Activity> spans)
    {
        foreach (var span in spans)
        {
            var values = span.TagObjects.Select(t => t.Value)
                .Concat(span.Events.SelectMany(e => e.Tags.Select(t => t.Value)))
                .Select(v => v is string[] many ? string.Join(",", many) : Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty)
                .Append(span.DisplayName)
                .Append(span.StatusDescription ?? string.Empty);
            foreach (var value in values)
            {
                Assert.DoesNotContain("secret-prompt-text", value, StringComparison.Ordinal);
                foreach (var key in Keys)
                {
                    Assert.DoesNotContain(key, value, StringComparison.Ordinal);
                }
            }
        }
    }

    [Fact]
    public async Task CallEnded_PolicyFirstMemberAnswers503Twice_RunCallAndThreeAttemptSpansWithTheRecordsFigures()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Unavailable(TimeSpan.FromSeconds(2)));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large-2411", content: "looks good", promptTokens: 40, completionTokens: 7, cachedTokens: 8)));
        using var trace = new TraceCapture();
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            ReviewPolicy(b);
        });
        var meters = host.Services.GetRequiredService<IMeterFactory>();
        using var tokens = new MetricCollector<int>(meters, Meter, "gen_ai.client.token.usage");
        using var duration = new MetricCollector<double>(meters, Meter, "gen_ai.client.operation.duration");
        using var cost = new MetricCollector<double>(meters, Meter, "agentharness.client.cost");
        using var fallbacks = new MetricCollector<long>(meters, Meter, "agentharness.client.fallbacks");
        using var retries = new MetricCollector<long>(meters, Meter, "agentharness.client.retries");

        string runId;
        using (var run = host.Harness.BeginRun("code-review-agent", r => r.Branch = "feat/auth-refactor"))
        {
            runId = run.RunId;
            var call = host.Harness.GetChatClient("policy/review").CompleteChatAsync([new UserChatMessage(Prompt)], cancellationToken: Ct);
            await host.Time.WaitForTimerAsync(TimeSpan.FromSeconds(2), Ct);
            host.Time.Advance(TimeSpan.FromSeconds(2));
            await call;
        }

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Succeeded, record.Outcome);
        Assert.True(record.CostUsd > 0m);

        // One run span, one call span under it, three attempts under the call: 503, 503 (after the 2 s Retry-After), 200.
        var runSpan = trace.Single("invoke_agent code-review-agent");
        Assert.Equal(trace.Root.SpanId, runSpan.ParentSpanId);
        Assert.Equal(ActivityKind.Internal, runSpan.Kind);
        Assert.Equal("invoke_agent", Tag(runSpan, "gen_ai.operation.name"));
        Assert.Equal("code-review-agent", Tag(runSpan, "gen_ai.agent.name"));
        Assert.Equal(runId, Tag(runSpan, "agentharness.run.id"));
        Assert.Null(Tag(runSpan, "agentharness.run.branch"));
        Assert.Equal(1L, Tag(runSpan, "agentharness.run.calls"));
        Assert.Equal((double)record.CostUsd, Tag(runSpan, "agentharness.cost.usd"));

        var callSpan = Assert.Single(trace.ChildrenOf(runSpan));
        Assert.Equal("chat policy/review", callSpan.DisplayName);
        Assert.Equal(ActivityKind.Client, callSpan.Kind);
        Assert.Equal(ActivityStatusCode.Unset, callSpan.Status);
        Assert.Equal(record.Timestamp.UtcDateTime, callSpan.StartTimeUtc);
        Assert.Equal(record.Latency, callSpan.Duration);
        Assert.Equal("chat", Tag(callSpan, "gen_ai.operation.name"));
        Assert.Equal("mistral", Tag(callSpan, "gen_ai.provider.name"));
        Assert.Equal("policy/review", Tag(callSpan, "gen_ai.request.model"));
        Assert.Equal("mistral-large-2411", Tag(callSpan, "gen_ai.response.model"));
        Assert.Equal(["stop"], (string[])Tag(callSpan, "gen_ai.response.finish_reasons")!);
        Assert.Equal(40, Tag(callSpan, "gen_ai.usage.input_tokens"));
        Assert.Equal(7, Tag(callSpan, "gen_ai.usage.output_tokens"));
        Assert.Equal(8, Tag(callSpan, "gen_ai.usage.cache_read.input_tokens"));
        Assert.Equal("mistral.test", Tag(callSpan, "server.address"));
        Assert.Equal(443, Tag(callSpan, "server.port"));
        Assert.Equal(runId, Tag(callSpan, "agentharness.run.id"));
        Assert.Equal("code-review-agent", Tag(callSpan, "gen_ai.agent.name"));
        Assert.Equal("review", Tag(callSpan, "agentharness.policy"));
        Assert.Equal(3, Tag(callSpan, "agentharness.attempts"));
        Assert.Equal((double)record.CostUsd, Tag(callSpan, "agentharness.cost.usd"));
        Assert.Equal("catalog", Tag(callSpan, "agentharness.cost.basis"));
        Assert.Equal("succeeded", Tag(callSpan, "agentharness.outcome"));
        Assert.Null(Tag(callSpan, "gen_ai.input.messages"));
        Assert.Null(Tag(callSpan, "gen_ai.output.messages"));

        var attempts = trace.ChildrenOf(callSpan);
        Assert.Equal(
            [("attempt openai/gpt-4.1", 503, 1, 0.0, ActivityStatusCode.Error), ("attempt openai/gpt-4.1", 503, 2, 2.0, ActivityStatusCode.Error), ("attempt mistral/mistral-large", 200, 1, 0.0, ActivityStatusCode.Unset)],
            attempts.Select(a => (a.DisplayName, (int)Tag(a, "http.response.status_code")!, (int)Tag(a, "agentharness.attempt.number")!, (double)Tag(a, "agentharness.attempt.wait")!, a.Status)));
        Assert.All(attempts.Take(2), a => Assert.Equal("transient", Tag(a, "error.type")));
        Assert.All(attempts.Take(2), a => Assert.Equal("openai.test", Tag(a, "server.address")));
        Assert.Null(Tag(attempts[2], "error.type"));
        Assert.Equal(["gpt-4.1", "gpt-4.1", "mistral-large"], attempts.Select(a => (string)Tag(a, "gen_ai.request.model")!));
        Assert.Equal(record.Timestamp.UtcDateTime.AddSeconds(2), attempts[1].StartTimeUtc);
        AssertNoSecret(trace.Spans);

        // The fallback is counted once, the retry once; the histograms hold the record's numbers.
        var fallback = Assert.Single(fallbacks.GetMeasurementSnapshot());
        Assert.Equal(1, fallback.Value);
        Assert.Equal("policy/review", fallback.Tags["gen_ai.request.model"]);
        Assert.Equal("mistral", fallback.Tags["gen_ai.provider.name"]);
        Assert.Equal("code-review-agent", fallback.Tags["gen_ai.agent.name"]);
        Assert.Equal(1, Assert.Single(retries.GetMeasurementSnapshot()).Value);
        Assert.Equal(
            [("input", record.InputTokens), ("output", record.OutputTokens)],
            tokens.GetMeasurementSnapshot().Select(m => ((string)m.Tags["gen_ai.token.type"]!, m.Value)));
        Assert.All(tokens.GetMeasurementSnapshot(), m =>
        {
            Assert.Equal("chat", m.Tags["gen_ai.operation.name"]);
            Assert.Equal("mistral", m.Tags["gen_ai.provider.name"]);
            Assert.Equal("policy/review", m.Tags["gen_ai.request.model"]);
            Assert.Equal("mistral-large-2411", m.Tags["gen_ai.response.model"]);
            Assert.Equal("mistral.test", m.Tags["server.address"]);
            Assert.Equal(443, m.Tags["server.port"]);
            Assert.False(m.Tags.ContainsKey("agentharness.run.branch"));
        });
        var measured = Assert.Single(duration.GetMeasurementSnapshot());
        Assert.Equal(record.Latency.TotalSeconds, measured.Value);
        Assert.False(measured.Tags.ContainsKey("error.type"));
        Assert.Equal((double)record.CostUsd, Assert.Single(cost.GetMeasurementSnapshot()).Value);
    }

    [Fact]
    public async Task CallEnded_RunCapRefusesTheCall_ErrorSpanWithBudgetExceededNoAttemptSpanNothingSent()
    {
        var mock = new RecordingMock();
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large-2411")));
        using var trace = new TraceCapture();
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            b.Configure(static o => o.Catalog.Models["mistral/mistral-large"] = new ModelPriceOptions { InputPerToken = 0.000002m, OutputPerToken = 0.000006m, MaxOutputTokens = 4000 });
        });
        using var refusals = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), Meter, "agentharness.budget.refusals");
        using var duration = new MetricCollector<double>(host.Services.GetRequiredService<IMeterFactory>(), Meter, "gen_ai.client.operation.duration");

        using (host.Harness.BeginRun("code-review-agent", r => r.MaxCostUsd = 0.000001m))
        {
            await Assert.ThrowsAsync<BudgetExceededException>(() => host.Harness.GetChatClient("mistral/mistral-large").CompleteChatAsync([new UserChatMessage(Prompt)], cancellationToken: Ct));
        }

        Assert.Empty(mock.Requests);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Rejected, record.Outcome);

        var runSpan = trace.Single("invoke_agent code-review-agent");
        var callSpan = Assert.Single(trace.ChildrenOf(runSpan));
        Assert.Equal("chat mistral/mistral-large", callSpan.DisplayName);
        Assert.Equal(ActivityStatusCode.Error, callSpan.Status);
        Assert.Equal(record.Error, callSpan.StatusDescription);
        Assert.Equal("budget_exceeded", Tag(callSpan, "error.type"));
        Assert.Equal("MaxCostUsd", Tag(callSpan, "agentharness.budget.rule"));
        Assert.Equal("rejected", Tag(callSpan, "agentharness.outcome"));
        Assert.Equal(0, Tag(callSpan, "agentharness.attempts"));
        Assert.Empty(trace.ChildrenOf(callSpan));
        var skipped = Assert.Single(callSpan.Events);
        Assert.Equal("agentharness.candidate_skipped", skipped.Name);
        Assert.Contains("does not fit budget 'MaxCostUsd'", (string)skipped.Tags.Single(t => t.Key == "agentharness.skip.reason").Value!, StringComparison.Ordinal);
        AssertNoSecret(trace.Spans);

        var refusal = Assert.Single(refusals.GetMeasurementSnapshot());
        Assert.Equal(1, refusal.Value);
        Assert.Equal("MaxCostUsd", refusal.Tags["agentharness.budget.rule"]);
        Assert.Equal("budget_exceeded", Assert.Single(duration.GetMeasurementSnapshot()).Tags["error.type"]);
    }

    [Fact]
    public async Task CallEnded_Stream_SpanCarriesTimeToFirstChunkAndEndsWhenTheStreamIsRecorded()
    {
        using var trace = new TraceCapture();
        ObservableTimeProvider? clock = null;
        var transport = new DelegateHandler((_, _) =>
        {
            // The provider takes 1.5 s to send its first event.
            clock!.Advance(TimeSpan.FromSeconds(1.5));
            return Task.FromResult(Responses.EventStream(Responses.ChatStream("gpt-4.1-2025-04-14", ["Looks ", "good."], promptTokens: 20, completionTokens: 4)));
        });
        using var host = TestHarness.Create(transport, static b => TestHarness.ThreeProviders(b));
        clock = host.Time;
        using var firstChunk = new MetricCollector<double>(host.Services.GetRequiredService<IMeterFactory>(), Meter, "gen_ai.client.operation.time_to_first_chunk");

        using (host.Harness.BeginRun("code-review-agent"))
        {
            var updates = 0;
            await foreach (var update in host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatStreamingAsync([new UserChatMessage(Prompt)], cancellationToken: Ct))
            {
                if (updates++ == 0)
                {
                    // The stream is the caller's now: its call has not ended, so neither has its span.
                    Assert.DoesNotContain(trace.Spans, s => s.DisplayName == "chat openai/gpt-4.1");
                    Assert.Empty(host.Ledger.GetRecords());
                    Assert.Single(trace.Spans, s => s.DisplayName == "attempt openai/gpt-4.1");
                    host.Time.Advance(TimeSpan.FromSeconds(1));
                }
            }
        }

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Succeeded, record.Outcome);
        var callSpan = trace.Single("chat openai/gpt-4.1");
        Assert.Equal(1.5, Tag(callSpan, "gen_ai.response.time_to_first_chunk"));
        Assert.Equal(true, Tag(callSpan, "gen_ai.request.stream"));
        Assert.Equal(TimeSpan.FromSeconds(2.5), record.Latency);
        Assert.Equal(record.Latency, callSpan.Duration);
        Assert.Equal(20, Tag(callSpan, "gen_ai.usage.input_tokens"));
        Assert.Equal(4, Tag(callSpan, "gen_ai.usage.output_tokens"));
        Assert.Equal("gpt-4.1-2025-04-14", Tag(callSpan, "gen_ai.response.model"));
        Assert.Equal("openai", Tag(callSpan, "gen_ai.provider.name"));
        Assert.Equal("openai.test", Tag(callSpan, "server.address"));
        var attempt = Assert.Single(trace.ChildrenOf(callSpan));
        Assert.Equal(TimeSpan.FromSeconds(1.5), attempt.Duration);
        AssertNoSecret(trace.Spans);
        Assert.Equal(1.5, Assert.Single(firstChunk.GetMeasurementSnapshot()).Value);
    }

    [Fact]
    public async Task CallEnded_CaptureMessageContentAndMetadataAttributesSet_SpanCarriesMessagesAndConfiguredMetadata()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1", content: "looks good")));
        using var trace = new TraceCapture();
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            b.Configure(static o =>
            {
                o.Telemetry.CaptureMessageContent = true;
                o.Telemetry.MetadataAttributes.Add("branch");
                o.Telemetry.MetadataAttributes.Add("Ticket");
            });
        });

        using (host.Harness.BeginRun("code-review-agent", r => r.SetExtra("Ticket", "T-42").Branch = "feat/auth-refactor"))
        {
            await host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new SystemChatMessage("Be brief."), new UserChatMessage("Review it")], cancellationToken: Ct);
        }

        var runSpan = trace.Single("invoke_agent code-review-agent");
        Assert.Equal("feat/auth-refactor", Tag(runSpan, "agentharness.run.branch"));
        Assert.Equal("T-42", Tag(runSpan, "agentharness.run.ticket"));
        var callSpan = trace.Single("chat openai/gpt-4.1");
        Assert.Equal("feat/auth-refactor", Tag(callSpan, "agentharness.run.branch"));
        Assert.Equal("T-42", Tag(callSpan, "agentharness.run.ticket"));
        Assert.Equal(
            """[{"role":"system","parts":[{"type":"text","content":"Be brief."}]},{"role":"user","parts":[{"type":"text","content":"Review it"}]}]""",
            Tag(callSpan, "gen_ai.input.messages"));
        Assert.Equal(
            """[{"role":"assistant","parts":[{"type":"text","content":"looks good"}],"finish_reason":"stop"}]""",
            Tag(callSpan, "gen_ai.output.messages"));
    }

    [Fact]
    public async Task CallEnded_FirstMemberCoolingDown_SkipEventOnTheCallSpanAndOneAttempt()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large-2411")));
        using var trace = new TraceCapture();
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            ReviewPolicy(b, attemptsPerModel: 1);
            b.Configure(static o => o.FailuresBeforeCooldown = 1);
        });
        var client = host.Harness.GetChatClient("policy/review");

        await client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
        await client.CompleteChatAsync([new UserChatMessage("b")], cancellationToken: Ct);

        var calls = trace.Spans.Where(s => s.DisplayName == "chat policy/review").ToList();
        Assert.Equal(2, calls.Count);
        Assert.Equal(trace.Root.SpanId, calls[1].ParentSpanId);
        var skipped = Assert.Single(calls[1].Events);
        Assert.Equal("agentharness.candidate_skipped", skipped.Name);
        var tags = skipped.Tags.ToDictionary(t => t.Key, t => t.Value);
        Assert.Equal(("openai", "gpt-4.1"), ((string)tags["gen_ai.provider.name"]!, (string)tags["gen_ai.request.model"]!));
        Assert.StartsWith("skipped: cooling down", (string)tags["agentharness.skip.reason"]!, StringComparison.Ordinal);
        Assert.Equal(["attempt mistral/mistral-large"], trace.ChildrenOf(calls[1]).Select(a => a.DisplayName));
        Assert.Equal(1, Tag(calls[1], "agentharness.attempts"));
    }

    [Fact]
    public async Task CallEnded_LedgerTakesTimeAfterTheCallEnded_SpanEndsWhenTheRecordSaysTheCallEnded()
    {
        using var trace = new TraceCapture();
        ObservableTimeProvider? clock = null;
        var transport = new DelegateHandler((_, _) =>
        {
            // The provider takes a second to answer; the ledger then takes three to add the record.
            clock!.Advance(TimeSpan.FromSeconds(1));
            return Task.FromResult(Responses.Json(Responses.ChatJson("gpt-4.1-2025-04-14")));
        });
        var ledger = new SlowLedger(() => clock!.Advance(TimeSpan.FromSeconds(3)));
        using var host = TestHarness.Create(transport, static b => TestHarness.ThreeProviders(b), services => services.AddSingleton<IUsageLedger>(ledger));
        clock = host.Time;

        await host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        // The ledger's three seconds came after the call's end: they are in neither the record nor the span.
        var record = Assert.Single(host.Ledger.GetRecords());
        var callSpan = trace.Single("chat openai/gpt-4.1");
        Assert.Equal(TimeSpan.FromSeconds(1), record.Latency);
        Assert.Equal(record.Timestamp.UtcDateTime, callSpan.StartTimeUtc);
        Assert.Equal(record.Latency, callSpan.Duration);
    }

    [Fact]
    public async Task CallScope_FallbackAndCallEnd_LogRecordsCarryTheCallSpansIds()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large-2411")));
        using var trace = new TraceCapture();
        var logs = new List<LogRecord>();
        using var host = TestHarness.Create(
            mock.Handler,
            b =>
            {
                TestHarness.ThreeProviders(b);
                ReviewPolicy(b, attemptsPerModel: 1);
            },
            services => services.AddLogging(l => l.SetMinimumLevel(LogLevel.Debug).AddOpenTelemetry(o => o.AddInMemoryExporter(logs))));

        await host.Harness.GetChatClient("policy/review").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        // The fallback is logged on the routing loop's flow, the call's end by the recorder: both inside the call's span.
        var callSpan = trace.Single("chat policy/review");
        var harnessLogs = logs.Where(l => l.CategoryName is not null && l.CategoryName.StartsWith("AgentHarness", StringComparison.Ordinal) && l.EventId.Id is 1 or 3).ToList();
        Assert.Equal([1, 3], harnessLogs.Select(l => l.EventId.Id).Order());
        Assert.All(harnessLogs, l => Assert.Equal((callSpan.TraceId, callSpan.SpanId), (l.TraceId, l.SpanId)));

        // Outside the call, the flow's span is the test's again.
        Assert.Same(trace.Root, Activity.Current);
    }

    [Fact]
    public async Task CallScope_StreamEndsOnTheReadersFlow_ItsEndIsLoggedInTheCallSpanAndTheReadersSpanIsKept()
    {
        using var trace = new TraceCapture();
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.EventStream(Responses.ChatStream("gpt-4.1-2025-04-14", ["Looks ", "good."]))));
        var logs = new List<LogRecord>();
        using var host = TestHarness.Create(
            transport,
            static b => TestHarness.ThreeProviders(b),
            services => services.AddLogging(l => l.SetMinimumLevel(LogLevel.Debug).AddOpenTelemetry(o => o.AddInMemoryExporter(logs))));

        await foreach (var _ in host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct))
        {
        }

        var callSpan = trace.Single("chat openai/gpt-4.1");
        var ended = Assert.Single(logs, l => l.CategoryName?.StartsWith("AgentHarness", StringComparison.Ordinal) == true && l.EventId.Id == 1);
        Assert.Equal((callSpan.TraceId, callSpan.SpanId), (ended.TraceId, ended.SpanId));
        Assert.Same(trace.Root, Activity.Current);
    }

    [Fact]
    public async Task CallScope_RunCapRefusesBeforeSending_RefusalIsLoggedInTheCallSpan()
    {
        using var trace = new TraceCapture();
        var mock = new RecordingMock();
        var logs = new List<LogRecord>();
        using var host = TestHarness.Create(
            mock.Handler,
            static b =>
            {
                TestHarness.ThreeProviders(b);
                b.Configure(static o => o.Catalog.UnpricedModels = UnpricedModelHandling.Refuse);
            },
            services => services.AddLogging(l => l.SetMinimumLevel(LogLevel.Debug).AddOpenTelemetry(o => o.AddInMemoryExporter(logs))));

        await Assert.ThrowsAsync<UnpricedModelException>(() => host.Harness.GetChatClient("openai/not-in-the-catalog").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct));

        var callSpan = trace.Single("chat openai/not-in-the-catalog");
        var refused = Assert.Single(logs, l => l.CategoryName?.StartsWith("AgentHarness", StringComparison.Ordinal) == true && l.EventId.Id == 6);
        Assert.Equal((callSpan.TraceId, callSpan.SpanId), (refused.TraceId, refused.SpanId));
    }

    /// <summary>A ledger that takes its time to add a record (as a durable one may), on the test's clock.</summary>
    private sealed class SlowLedger(Action taking) : IUsageLedger
    {
        private readonly List<UsageRecord> _records = [];

        public void Add(UsageRecord record)
        {
            taking();
            lock (_records)
            {
                _records.Add(record);
            }
        }

        public IReadOnlyList<UsageRecord> GetRecords()
        {
            lock (_records)
            {
                return [.. _records];
            }
        }

        public Task<UsageReport> GetUsageAsync(UsageQuery query, CancellationToken cancellationToken = default) =>
            Task.FromResult(UsageReport.FromRecords(query, GetRecords()));
    }
}
