using System.Net;
using System.Text.Json;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;
using Xunit;

namespace AgentHarness.Tests.Budget;

/// <summary>The budget stage through the whole pipeline: reservations before sending, settles after, refusals that send nothing.</summary>
public sealed class BudgetGuardTests
{
    // $0.0001 per output token and a free prompt: a call capped at 1,000 output tokens has a worst case of exactly $0.10.
    private const decimal OutputPrice = 0.0001m;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly ChatCompletionOptions Max1000 = new() { MaxOutputTokenCount = 1000 };

    private static void Priced(IAgentHarnessBuilder builder, Action<AgentHarnessOptions>? configure = null)
    {
        TestHarness.ThreeProviders(builder, maxRetries: 0);
        builder.Configure(o =>
        {
            o.Catalog.UnpricedModels = UnpricedModelHandling.Refuse;
            o.Catalog.Models["openai/flat"] = new ModelPriceOptions { InputPerToken = 0m, OutputPerToken = OutputPrice, MaxOutputTokens = 4000 };
            o.Catalog.Models["openai/big"] = new ModelPriceOptions { InputPerToken = 0m, OutputPerToken = OutputPrice * 10, MaxOutputTokens = 4000 };
            configure?.Invoke(o);
        });
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Reserve_50CallsStartedTogetherWorstCase10CentsCap1Dollar_At10SentAndSpendWithinCap(bool runCap)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var allDecided = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sent = 0;
        var decided = 0;
        void Decided()
        {
            if (Interlocked.Increment(ref decided) == 50)
            {
                allDecided.TrySetResult();
            }
        }

        var transport = new DelegateHandler(async (request, ct) =>
        {
            Interlocked.Increment(ref sent);
            Decided();

            // Every sent call holds its reservation until all 50 were either sent or refused.
            await release.Task.WaitAsync(ct);
            return Responses.Json(Responses.ChatJson("flat", promptTokens: 40, completionTokens: 1000));
        });
        using var host = TestHarness.Create(transport, b => Priced(b, o =>
        {
            if (!runCap)
            {
                o.Budgets["global"] = new BudgetRuleOptions { Dimension = "global", Window = BudgetWindow.Day, LimitUsd = 1.00m };
            }
        }));
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = runCap ? 1.00m : null);
        var client = host.Harness.GetChatClient("openai/flat");
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = Enumerable.Range(0, 50).Select(i => Task.Run(async () =>
        {
            await start.Task;
            try
            {
                await client.CompleteChatAsync([new UserChatMessage($"call {i}")], Max1000, Ct);
                return true;
            }
            catch (BudgetExceededException)
            {
                Decided();
                return false;
            }
        })).ToArray();

        start.SetResult();
        await allDecided.Task.WaitAsync(Ct);
        Assert.Equal(10, Volatile.Read(ref sent));

        release.SetResult();
        var results = await Task.WhenAll(calls);
        Assert.Equal(10, results.Count(static ok => ok));
        var spent = runCap ? run.SpentUsd : (await host.Services.GetRequiredService<IBudgetGuard>().GetStatusAsync("global", cancellationToken: Ct)).SpentUsd;
        Assert.Equal(1.00m, spent);
        Assert.Equal(0m, runCap ? run.ReservedUsd : (await host.Services.GetRequiredService<IBudgetGuard>().GetStatusAsync("global", cancellationToken: Ct)).ReservedUsd);
        Assert.Equal(40, host.Ledger.GetRecords().Count(static r => r.Outcome == UsageOutcome.Rejected));
    }

    [Fact]
    public async Task Reserve_10000MixedCallsAcrossParallelRuns_SpendWithinEveryCapAndNothingLeftReserved()
    {
        const int Runs = 40;
        const int CallsPerRun = 250;
        const int Lanes = 5;
        var cancellations = new System.Collections.Concurrent.ConcurrentDictionary<string, CancellationTokenSource>();
        var transport = new DelegateHandler(async (request, ct) =>
        {
            var body = await request.Content!.ReadAsStringAsync(ct);
            using var json = JsonDocument.Parse(body);
            var text = json.RootElement.GetProperty("messages")[0].GetProperty("content").GetString()!;
            var kind = text.Split('|')[1];
            var completion = int.Parse(text.Split('|')[2], System.Globalization.CultureInfo.InvariantCulture);
            switch (kind)
            {
                case "ok":
                    return Responses.Json(Responses.ChatJson("flat", promptTokens: 5, completionTokens: completion));
                case "fail":
                    return Responses.Error(HttpStatusCode.InternalServerError);
                case "cancel":
                    await cancellations[text].CancelAsync();
                    await Task.Delay(Timeout.InfiniteTimeSpan, ct);
                    throw new InvalidOperationException("unreachable");
                case "stream":
                    return Responses.EventStream(Responses.ChatStream("flat", ["a", "b", "c"], promptTokens: 5, completionTokens: completion));
                default:
                    // A stream cut after two events: no usage event, no end marker.
                    return Responses.EventStream(Responses.ChatStream("flat", ["a", "b"], usage: false, done: false));
            }
        });
        using var host = TestHarness.Create(transport, b => Priced(b, o =>
        {
            o.Catalog.Models["openai/flat"] = new ModelPriceOptions { InputPerToken = 0.000001m, OutputPerToken = 0.00005m, MaxOutputTokens = 4000 };

            // The scripted failures must not put the only model into cooldown: this test is about budgets.
            o.FailuresBeforeCooldown = 1000;
            o.Budgets["per-customer"] = new BudgetRuleOptions { Dimension = "customer", Window = BudgetWindow.Day, LimitUsd = 1.50m };
            o.Budgets["global"] = new BudgetRuleOptions { Dimension = "global", Window = BudgetWindow.Day, LimitUsd = 5.00m };
            o.Budgets["per-run"] = new BudgetRuleOptions { Dimension = "agent", Window = BudgetWindow.Run, LimitUsd = 0.40m };
        }));
        var client = host.Harness.GetChatClient("openai/flat");
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 50 };
        var outcomes = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        var runs = new AgentRun[Runs];
        var seed = new Random(20261124);
        var caps = Enumerable.Range(0, Runs).Select(_ => 0.05m + (seed.Next(0, 50) / 100m)).ToArray();

        await Task.WhenAll(Enumerable.Range(0, Runs).Select(r => Task.Run(async () =>
        {
            using var run = host.Harness.BeginRun("agent", x =>
            {
                x.MaxCostUsd = caps[r];
                x.Customer = "c" + (r % 5).ToString(System.Globalization.CultureInfo.InvariantCulture);
            });
            runs[r] = run;
            await Task.WhenAll(Enumerable.Range(0, Lanes).Select(lane => Task.Run(async () =>
            {
                var random = new Random((r * 100) + lane);
                for (var i = 0; i < CallsPerRun / Lanes; i++)
                {
                    var kind = random.Next(10) switch { < 4 => "ok", 4 => "fail", 5 => "cancel", < 8 => "stream", _ => "cut" };
                    var text = $"{r}-{lane}-{i}|{kind}|{random.Next(0, 51)}";
                    using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
                    cancellations[text] = cts;
                    try
                    {
                        if (kind is "stream" or "cut")
                        {
                            await foreach (var _ in client.CompleteChatStreamingAsync([new UserChatMessage(text)], options, cts.Token))
                            {
                            }
                        }
                        else
                        {
                            await client.CompleteChatAsync([new UserChatMessage(text)], options, cts.Token);
                        }

                        outcomes.AddOrUpdate("ok", 1, static (_, n) => n + 1);
                    }
                    catch (Exception ex) when (ex is BudgetExceededException or OperationCanceledException or StreamInterruptedException or System.ClientModel.ClientResultException)
                    {
                        outcomes.AddOrUpdate(ex.GetType().Name, 1, static (_, n) => n + 1);
                    }
                }
            })));
        })));

        Assert.Equal(Runs * CallsPerRun, outcomes.Values.Sum());
        Assert.True(outcomes.GetValueOrDefault("ok") > 1000, string.Join(", ", outcomes));
        Assert.True(outcomes.GetValueOrDefault(nameof(BudgetExceededException)) > 500, string.Join(", ", outcomes));
        var records = host.Ledger.GetRecords();
        Assert.Equal(Runs * CallsPerRun, records.Count);
        for (var r = 0; r < Runs; r++)
        {
            Assert.True(runs[r].SpentUsd <= caps[r], $"run {r} spent {runs[r].SpentUsd} of a {caps[r]} cap");
            Assert.True(runs[r].SpentUsd <= 0.40m, $"run {r} spent {runs[r].SpentUsd} of the per-run rule's 0.40");
            Assert.Equal(0m, runs[r].ReservedUsd);
            Assert.Equal(records.Where(c => c.RunId == runs[r].RunId).Sum(static c => c.CostUsd), runs[r].SpentUsd);
        }

        var guard = host.Services.GetRequiredService<IBudgetGuard>();
        var global = await guard.GetStatusAsync("global", cancellationToken: Ct);
        Assert.True(global.SpentUsd <= 5.00m, $"global spent {global.SpentUsd}");
        Assert.Equal(0m, global.ReservedUsd);
        Assert.Equal(records.Sum(static c => c.CostUsd), global.SpentUsd);
        for (var c = 0; c < 5; c++)
        {
            var customer = await guard.GetStatusAsync("per-customer", "c" + c.ToString(System.Globalization.CultureInfo.InvariantCulture), Ct);
            Assert.True(customer.SpentUsd <= 1.50m, $"customer c{c} spent {customer.SpentUsd}");
            Assert.Equal(0m, customer.ReservedUsd);
        }

        // Every kind of ending was exercised, and charged: cut streams and cancellations are never free.
        Assert.Contains(records, static r => r.Outcome == UsageOutcome.Incomplete && r.CostBasis == CostBasis.Estimated && r.CostUsd > 0m);
        Assert.Contains(records, static r => r.Outcome == UsageOutcome.Canceled && r.CostBasis == CostBasis.Estimated && r.CostUsd > 0m);
        Assert.Contains(records, static r => r.Outcome == UsageOutcome.Failed && r.CostUsd == 0m);
    }

    [Fact]
    public async Task Reserve_WorstCaseDoesNotFitTheRunCap_RefusedBeforeAnyByteIsSent()
    {
        var transport = new DelegateHandler((_, _) => throw new InvalidOperationException("nothing may be sent"));
        using var host = TestHarness.Create(transport, b => Priced(b));
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 0.05m);

        var ex = await Assert.ThrowsAsync<BudgetExceededException>(() => host.Harness.GetChatClient("openai/flat").CompleteChatAsync([new UserChatMessage("hi")], Max1000, Ct));

        Assert.Equal(0, transport.Calls);
        Assert.Equal("MaxCostUsd", ex.Rule);
        Assert.Equal(0.05m, ex.LimitUsd);
        Assert.Equal(0m, ex.SpentUsd);
        Assert.Equal(0m, ex.ReservedUsd);
        Assert.Equal(0.10m, ex.EstimateUsd);
        Assert.Equal("openai/flat", ex.Model);
        Assert.Contains("does not fit budget 'MaxCostUsd'", ex.Message, StringComparison.Ordinal);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Rejected, record.Outcome);
        Assert.Equal(0m, record.CostUsd);
        Assert.Equal(0m, run.ReservedUsd);
    }

    [Theory]
    [InlineData(""" "max_completion_tokens":4000,"max_tokens":10 """)]
    [InlineData(""" "max_tokens":4000,"max_completion_tokens":10 """)]
    [InlineData(""" "max_completion_tokens":10,"max_tokens":4000.0 """)]
    [InlineData(""" "max_completion_tokens":10,"n":40.0 """)]
    public async Task Reserve_RequestNamesALargerLimitOrMoreAnswersThanTheLastField_WorstCaseCountsTheLargestAndIsRefused(string limits)
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(Responses.ChatJson("flat", completionTokens: 4000))));
        using var host = TestHarness.Create(transport, b => Priced(b));
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 0.02m);
        using var content = System.ClientModel.BinaryContent.Create(BinaryData.FromString(
            $$"""{"model":"openai/flat","messages":[{"role":"user","content":"hi"}],{{limits}}}"""));

        // A provider may honour either field, or read a whole number written as a float: $0.40 can be sent, not $0.001.
        await Assert.ThrowsAsync<BudgetExceededException>(() => host.Harness.GetOpenAIClient().GetChatClient("openai/flat").CompleteChatAsync(content, new System.ClientModel.Primitives.RequestOptions()));

        Assert.Equal(0, transport.Calls);
        Assert.Equal(0m, run.SpentUsd);
        Assert.Equal(0m, run.ReservedUsd);
    }

    [Fact]
    public async Task Reserve_NestedRunsWithoutCapsInsideACappedRun_OuterCapRefusesEveryInnerCall()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(Responses.ChatJson("flat", promptTokens: 10, completionTokens: 1000))));
        using var host = TestHarness.Create(transport, b => Priced(b));
        var client = host.Harness.GetChatClient("openai/flat");
        using var outer = host.Harness.BeginRun("outer", r => r.MaxCostUsd = 0.05m);

        await Assert.ThrowsAsync<BudgetExceededException>(() => client.CompleteChatAsync([new UserChatMessage("outer")], Max1000, Ct));
        for (var i = 0; i < 5; i++)
        {
            using var inner = host.Harness.BeginRun("inner");
            var ex = await Assert.ThrowsAsync<BudgetExceededException>(() => client.CompleteChatAsync([new UserChatMessage($"inner {i}")], Max1000, Ct));
            Assert.Equal("MaxCostUsd", ex.Rule);
            Assert.Equal(0.05m, ex.LimitUsd);
            Assert.Equal(0m, inner.ReservedUsd);
        }

        Assert.Equal(0, transport.Calls);
        Assert.Equal(0m, outer.SpentUsd);
        Assert.Equal(0m, outer.ReservedUsd);
    }

    [Fact]
    public async Task Settle_CallsInsideNestedRuns_CountInEveryEnclosingRunsFigures()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(Responses.ChatJson("flat", promptTokens: 10, completionTokens: 100))));
        using var host = TestHarness.Create(transport, b => Priced(b));
        var client = host.Harness.GetChatClient("openai/flat");
        using var outer = host.Harness.BeginRun("outer", r => r.MaxCostUsd = 0.25m);
        var spentInner = 0m;
        var refused = 0;
        for (var i = 0; i < 5; i++)
        {
            using var middle = host.Harness.BeginRun("middle");
            using var inner = host.Harness.BeginRun("inner", r => r.MaxCostUsd = 1m);
            using (inner.BeginTask("step"))
            {
                try
                {
                    await client.CompleteChatAsync([new UserChatMessage($"inner {i}")], Max1000, Ct);
                }
                catch (BudgetExceededException)
                {
                    refused++;
                }
            }

            Assert.Equal(inner.SpentUsd, middle.SpentUsd);
            spentInner += inner.SpentUsd;
        }

        // Each call reserves $0.10 and costs $0.01: the outer cap of $0.25 lets every call through.
        Assert.Equal(0, refused);
        Assert.Equal(5 * 100 * OutputPrice, outer.SpentUsd);
        Assert.Equal(spentInner, outer.SpentUsd);
        Assert.Equal(0m, outer.ReservedUsd);
        Assert.Equal(5, outer.CallCount);
        Assert.Equal(5, outer.Calls.Count);
        Assert.Equal(5, outer.TaskTotals["step"].Calls);
        Assert.All(host.Ledger.GetRecords(), r => Assert.Equal("inner", r.Agent));
    }

    [Fact]
    public async Task Reserve_InnerRunCallsUpToTheOuterCap_SpendNeverPassesIt()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(Responses.ChatJson("flat", promptTokens: 10, completionTokens: 1000))));
        using var host = TestHarness.Create(transport, b => Priced(b));
        var client = host.Harness.GetChatClient("openai/flat");
        using var outer = host.Harness.BeginRun("outer", r => r.MaxCostUsd = 0.35m);
        var sent = 0;
        for (var i = 0; i < 10; i++)
        {
            using var inner = host.Harness.BeginRun("inner");
            try
            {
                await client.CompleteChatAsync([new UserChatMessage($"inner {i}")], Max1000, Ct);
                sent++;
            }
            catch (BudgetExceededException)
            {
            }
        }

        Assert.Equal(3, sent);
        Assert.Equal(0.30m, outer.SpentUsd);
    }

    [Fact]
    public async Task Reserve_NoMaxTokens_UsesTheModelsOutputLimitForTheWorstCase()
    {
        var transport = new DelegateHandler((_, _) => throw new InvalidOperationException("nothing may be sent"));
        using var host = TestHarness.Create(transport, b => Priced(b, static o => o.FitOutputToBudget = false));
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 0.39m);

        var ex = await Assert.ThrowsAsync<BudgetExceededException>(() => host.Harness.GetChatClient("openai/flat").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct));

        Assert.Equal(4000 * OutputPrice, ex.EstimateUsd);
    }

    [Fact]
    public async Task Reserve_NoMaxTokensAndTheWholeOutputDoesNotFit_SendsTheMostOutputThatFits()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("flat", promptTokens: 10, completionTokens: 300)));
        using var host = TestHarness.Create(mock.Handler, b => Priced(b));
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 0.39m);

        // No max output tokens, as Microsoft.Extensions.AI and Agent Framework send: the worst case is the model's 4,000 ($0.40).
        await host.Harness.GetChatClient("openai/flat").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        var request = Assert.Single(mock.Requests);
        using var body = JsonDocument.Parse(request.Body);
        Assert.Equal(3900, body.RootElement.GetProperty("max_completion_tokens").GetInt32());
        Assert.Equal("flat", body.RootElement.GetProperty("model").GetString());
        var attempt = Assert.Single(Assert.Single(host.Ledger.GetRecords()).Attempts);
        Assert.Equal(3900, attempt.OutputTokenLimit);
        Assert.Equal(300 * OutputPrice, run.SpentUsd);
        Assert.Equal(0m, run.ReservedUsd);
    }

    [Fact]
    public async Task Reserve_NoMaxTokensAndTheWholeOutputFits_RequestIsSentUnchanged()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("flat", promptTokens: 10, completionTokens: 300)));
        using var host = TestHarness.Create(mock.Handler, b => Priced(b));
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 0.40m);

        await host.Harness.GetChatClient("openai/flat").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.DoesNotContain("max_completion_tokens", Assert.Single(mock.Requests).Body, StringComparison.Ordinal);
        Assert.Null(Assert.Single(Assert.Single(host.Ledger.GetRecords()).Attempts).OutputTokenLimit);
    }

    [Fact]
    public async Task Reserve_LessThanTheFloorFits_RefusedWithoutSending()
    {
        var transport = new DelegateHandler((_, _) => throw new InvalidOperationException("nothing may be sent"));
        using var host = TestHarness.Create(transport, b => Priced(b, static o => o.MinFittedOutputTokens = 500));
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 0.0499m);

        var ex = await Assert.ThrowsAsync<BudgetExceededException>(() => host.Harness.GetChatClient("openai/flat").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct));

        Assert.Equal(0, transport.Calls);
        Assert.Equal("MaxCostUsd", ex.Rule);
        Assert.Equal(0m, run.ReservedUsd);
    }

    [Fact]
    public async Task Reserve_TightestBudgetIsARuleNotTheRun_FitsTheRulesRemainder()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("flat", promptTokens: 10, completionTokens: 10)));
        using var host = TestHarness.Create(mock.Handler, b => Priced(b, static o =>
            o.Budgets["acme-daily"] = new BudgetRuleOptions { Dimension = "customer", Value = "acme", Window = BudgetWindow.Day, LimitUsd = 0.25m }));
        using var run = host.Harness.BeginRun("agent", r =>
        {
            r.Customer = "acme";
            r.MaxCostUsd = 0.30m;
        });

        await host.Harness.GetChatClient("openai/flat").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal(2500, Assert.Single(Assert.Single(host.Ledger.GetRecords()).Attempts).OutputTokenLimit);
    }

    [Fact]
    public async Task Reserve_PolicysFirstMemberSentAndFailedNextDoesNotFit_ThrowsBudgetExceededListingEveryAttempt()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Error(HttpStatusCode.ServiceUnavailable)));
        using var host = TestHarness.Create(transport, b =>
        {
            Priced(b);
            b.Configure(o => o.Policies["review"] = new PolicyOptions { AttemptsPerModel = 1, Models = { new() { Model = "openai/flat" }, new() { Model = "openai/big" } } });
        });
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 0.50m);

        var ex = await Assert.ThrowsAsync<BudgetExceededException>(() => host.Harness.GetChatClient("policy/review").CompleteChatAsync([new UserChatMessage("hi")], Max1000, Ct));

        Assert.Equal(1, transport.Calls);
        Assert.Equal([AttemptOutcome.Failed, AttemptOutcome.Skipped], ex.Attempts.Select(static a => a.Outcome));
        Assert.Equal("big", ex.Attempts[1].Model);
        Assert.Equal(1.00m, ex.EstimateUsd);
        Assert.Equal(UsageOutcome.Failed, Assert.Single(host.Ledger.GetRecords()).Outcome);
        Assert.Equal(0m, run.ReservedUsd);
    }

    [Fact]
    public async Task Reserve_PolicysFirstCandidateTooDear_SkipsToTheCheaperOneAndSaysWhy()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", r => Responses.Json(Responses.ChatJson("flat", promptTokens: 10, completionTokens: 100)));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            Priced(b);
            b.Configure(o => o.Policies["review"] = new PolicyOptions { Models = { new() { Model = "openai/big" }, new() { Model = "openai/flat" } } });
        });
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 0.50m);

        var completion = await host.Harness.GetChatClient("policy/review").CompleteChatAsync([new UserChatMessage("hi")], Max1000, Ct);

        Assert.Equal("flat", completion.Value.Model);
        var request = Assert.Single(mock.Requests);
        Assert.Contains("\"flat\"", request.Body, StringComparison.Ordinal);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(AttemptOutcome.Skipped, record.Attempts[0].Outcome);
        Assert.Equal("big", record.Attempts[0].Model);
        Assert.Contains("does not fit budget 'MaxCostUsd'", record.Attempts[0].Error, StringComparison.Ordinal);
        Assert.Equal(AttemptOutcome.Succeeded, record.Attempts[1].Outcome);
        Assert.Equal(100 * OutputPrice, record.CostUsd);
        Assert.Equal(100 * OutputPrice, run.SpentUsd);
    }

    [Fact]
    public async Task Reserve_EveryCandidateTooDear_ThrowsWithTheCheapestRefusalAndSkipsDearerOnesWithoutAsking()
    {
        var transport = new DelegateHandler((_, _) => throw new InvalidOperationException("nothing may be sent"));
        using var host = TestHarness.Create(transport, b =>
        {
            Priced(b);
            b.Configure(o => o.Policies["review"] = new PolicyOptions { Models = { new() { Model = "openai/flat" }, new() { Model = "openai/big" } } });
        });
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 0.05m);

        var ex = await Assert.ThrowsAsync<BudgetExceededException>(() => host.Harness.GetChatClient("policy/review").CompleteChatAsync([new UserChatMessage("hi")], Max1000, Ct));

        Assert.Equal(0, transport.Calls);
        Assert.Equal(0.10m, ex.EstimateUsd);
        Assert.Equal(2, ex.Attempts.Count);
        Assert.Contains("is not below the $0.1 that budget 'MaxCostUsd' refused", ex.Attempts[1].Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reserve_CheaperCandidateSentAndFailed_ThrowsAllCandidatesFailedNotARefusal()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Error(HttpStatusCode.ServiceUnavailable)));
        using var host = TestHarness.Create(transport, b =>
        {
            Priced(b);
            b.Configure(o => o.Policies["review"] = new PolicyOptions { AttemptsPerModel = 1, Models = { new() { Model = "openai/big" }, new() { Model = "openai/flat" } } });
        });
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 0.50m);

        var ex = await Assert.ThrowsAsync<AllCandidatesFailedException>(() => host.Harness.GetChatClient("policy/review").CompleteChatAsync([new UserChatMessage("hi")], Max1000, Ct));

        Assert.Equal(1, transport.Calls);
        Assert.Equal([AttemptOutcome.Skipped, AttemptOutcome.Failed], ex.Attempts.Select(static a => a.Outcome));
        Assert.Equal(UsageOutcome.Failed, Assert.Single(host.Ledger.GetRecords()).Outcome);
    }

    [Fact]
    public async Task Reserve_DirectRetryDoesNotFit_ThrowsBudgetExceededListingTheSentAttempt()
    {
        IBudgetStore? store = null;
        var transport = new DelegateHandler(async (_, ct) =>
        {
            // While the first attempt runs, another process takes half of the day's budget.
            await store!.TryReserveAsync([new BudgetCounter("tight|*|2026-05-01", 1m, DateTimeOffset.MaxValue)], new BudgetReservation("other-process", 0.05m, TimeSpan.FromMinutes(5)), ct);
            return Responses.Error(HttpStatusCode.ServiceUnavailable);
        });
        using var host = TestHarness.Create(transport, b =>
        {
            Priced(b);
            b.AddProvider("retrying", p => { p.BaseUrl = new Uri("https://retrying.test/v1"); p.ApiKey = "k"; p.MaxRetries = 2; p.RetryBaseDelay = TimeSpan.Zero; });
            b.Configure(o => o.Catalog.Models["retrying/flat"] = new ModelPriceOptions { InputPerToken = 0m, OutputPerToken = OutputPrice });
            b.Configure(o => o.Budgets["tight"] = new BudgetRuleOptions { Dimension = "global", Window = BudgetWindow.Day, LimitUsd = 0.10m });
        });
        store = host.Services.GetRequiredService<IBudgetStore>();

        var ex = await Assert.ThrowsAsync<BudgetExceededException>(() => host.Harness.GetChatClient("retrying/flat").CompleteChatAsync([new UserChatMessage("hi")], Max1000, Ct));

        Assert.Equal("tight", ex.Rule);
        Assert.Equal([AttemptOutcome.Failed, AttemptOutcome.Skipped], ex.Attempts.Select(static a => a.Outcome));
        Assert.Equal(503, ex.Attempts[0].StatusCode);
        Assert.Contains("cannot go on after 1 failed attempt(s)", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, transport.Calls);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Failed, record.Outcome);
        Assert.Contains("does not fit budget 'tight'", record.Attempts[^1].Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Settle_CallerCancelsBeforeTheRequestLeaves_NothingCharged()
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var store = new CancellingStore(cts);
        var transport = new DelegateHandler((_, ct) =>
        {
            ct.ThrowIfCancellationRequested();
            return Task.FromResult(Responses.Json(Responses.ChatJson("flat")));
        });
        using var host = TestHarness.Create(
            transport,
            b => Priced(b, o =>
            {
                o.Catalog.Models["openai/flat"] = new ModelPriceOptions { InputPerToken = 0.001m, OutputPerToken = OutputPrice, MaxOutputTokens = 4000 };
                o.Budgets["global"] = new BudgetRuleOptions { Dimension = "global", Window = BudgetWindow.Day, LimitUsd = 1m };
            }),
            services => services.AddSingleton<IBudgetStore>(store));
        using var run = host.Harness.BeginRun("agent");

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => host.Harness.GetChatClient("openai/flat").CompleteChatAsync([new UserChatMessage("hi")], Max1000, cts.Token));

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(0m, record.CostUsd);
        Assert.Equal(0m, run.SpentUsd);
        await store.Settled.WaitAsync(Ct);
        Assert.Equal(new BudgetCounterState(0m, 0m), await store.GetAsync(store.LastKey!, Ct));
    }

    [Fact]
    public async Task Settle_CallerCancelsWhileTheConnectionIsMadeBeforeTheBodyIsWritten_NothingChargedAndNoAttemptSent()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var transport = new DelegateHandler(async (_, ct) =>
        {
            // Still connecting: the body has not been written when the caller gives up.
            entered.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            throw new InvalidOperationException("unreachable");
        });
        using var host = TestHarness.Create(transport, b => Priced(b, o =>
            o.Catalog.Models["openai/flat"] = new ModelPriceOptions { InputPerToken = 0.001m, OutputPerToken = OutputPrice, MaxOutputTokens = 4000 }));
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 1m);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var call = host.Harness.GetChatClient("openai/flat").CompleteChatAsync([new UserChatMessage("hello there")], Max1000, cts.Token);
        await entered.Task.WaitAsync(Ct);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Canceled, record.Outcome);
        Assert.Equal(0m, record.CostUsd);
        Assert.Equal(0, record.InputTokens);
        var attempt = Assert.Single(record.Attempts);
        Assert.Equal(AttemptOutcome.Skipped, attempt.Outcome);
        Assert.Contains("not sent", attempt.Error, StringComparison.Ordinal);
        Assert.Equal(0m, run.SpentUsd);
        Assert.Equal(0m, run.ReservedUsd);
    }

    [Fact]
    public async Task Settle_TokenAlreadyCancelled_EndsAsOneCanceledRecordWithNothingSent()
    {
        var transport = new DelegateHandler((_, _) => throw new InvalidOperationException("nothing may be sent"));
        using var host = TestHarness.Create(transport, b => Priced(b));
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 1m);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => host.Harness.GetChatClient("openai/flat").CompleteChatAsync([new UserChatMessage("hi")], Max1000, cts.Token));

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Canceled, record.Outcome);
        Assert.Equal("openai/flat", record.ModelRequested);
        Assert.Equal(0m, record.CostUsd);
        Assert.Equal(0, transport.Calls);
        Assert.Equal(1, run.CallCount);
    }

    [Fact]
    public async Task Reserve_BudgetStoreHangs_TotalTimeoutEndsTheCallAndALateReservationIsReleased()
    {
        var store = new HangingStore();
        var transport = new DelegateHandler((_, _) => throw new InvalidOperationException("nothing may be sent"));
        using var host = TestHarness.Create(
            transport,
            b =>
            {
                Priced(b, static o => o.Budgets["global"] = new BudgetRuleOptions { Dimension = "global", Window = BudgetWindow.Day, LimitUsd = 10m });
                b.Configure(static o =>
                {
                    o.Providers["openai"].AttemptTimeout = TimeSpan.FromSeconds(5);
                    o.Providers["openai"].TotalTimeout = TimeSpan.FromSeconds(5);
                });
            },
            services => services.AddSingleton<IBudgetStore>(store));

        var call = host.Harness.GetChatClient("openai/flat").CompleteChatAsync([new UserChatMessage("hi")], Max1000, Ct);
        await store.Entered.WaitAsync(Ct);
        await host.Time.WaitForTimerAsync(TimeSpan.FromSeconds(5), Ct);
        host.Time.Advance(TimeSpan.FromSeconds(5));

        // A guard only: without the bound the call waits forever, and the test must fail rather than hang.
        var ex = await Assert.ThrowsAsync<AllCandidatesFailedException>(() => call.WaitAsync(TimeSpan.FromMinutes(1), TimeProvider.System, Ct));
        Assert.Contains("budget store did not answer", Assert.Single(ex.Attempts).Error, StringComparison.Ordinal);
        Assert.Equal(0, transport.Calls);
        Assert.Single(host.Ledger.GetRecords());

        // The store answers after the call gave up: what it reserved is released at once.
        store.Release();
        await store.Settled.WaitAsync(Ct);
        Assert.Equal(0m, (await store.GetAsync(store.LastKey!, Ct)).ReservedUsd);
    }

    /// <summary>A store whose reservations wait for the test, ignoring cancellation, as a store cut off from its server can.</summary>
    private sealed class HangingStore : IBudgetStore
    {
        private readonly AgentHarness.Budget.Internal.InMemoryBudgetStore _inner = new(TimeProvider.System);
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _settled = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Entered => _entered.Task;

        public Task Settled => _settled.Task;

        public string? LastKey { get; private set; }

        public void Release() => _gate.TrySetResult();

        public async ValueTask<BudgetReserveResult> TryReserveAsync(IReadOnlyList<BudgetCounter> counters, BudgetReservation reservation, CancellationToken cancellationToken)
        {
            LastKey = counters[0].Key;
            _entered.TrySetResult();
            await _gate.Task;
            return await _inner.TryReserveAsync(counters, reservation, CancellationToken.None);
        }

        public async ValueTask<BudgetSettleResult> SettleAsync(IReadOnlyList<BudgetCounter> counters, BudgetReservation reservation, decimal actualUsd, CancellationToken cancellationToken)
        {
            var states = await _inner.SettleAsync(counters, reservation, actualUsd, cancellationToken);
            _settled.TrySetResult();
            return states;
        }

        public ValueTask<BudgetCounterState> GetAsync(string key, CancellationToken cancellationToken) => _inner.GetAsync(key, cancellationToken);
    }

    /// <summary>A store that lets the reservation through, as the caller cancels while it is made.</summary>
    private sealed class CancellingStore(CancellationTokenSource caller) : IBudgetStore
    {
        private readonly AgentHarness.Budget.Internal.InMemoryBudgetStore _inner = new(TimeProvider.System);
        private readonly TaskCompletionSource _settled = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string? LastKey { get; private set; }

        /// <summary>Completes when the reservation has been settled: the store answers after the caller cancelled, so the release may come after the call's end.</summary>
        public Task Settled => _settled.Task;

        public async ValueTask<BudgetReserveResult> TryReserveAsync(IReadOnlyList<BudgetCounter> counters, BudgetReservation reservation, CancellationToken cancellationToken)
        {
            LastKey = counters[0].Key;
            var result = await _inner.TryReserveAsync(counters, reservation, cancellationToken);
            await caller.CancelAsync();
            return result;
        }

        public async ValueTask<BudgetSettleResult> SettleAsync(IReadOnlyList<BudgetCounter> counters, BudgetReservation reservation, decimal actualUsd, CancellationToken cancellationToken)
        {
            var states = await _inner.SettleAsync(counters, reservation, actualUsd, cancellationToken);
            _settled.TrySetResult();
            return states;
        }

        public ValueTask<BudgetCounterState> GetAsync(string key, CancellationToken cancellationToken) => _inner.GetAsync(key, cancellationToken);
    }

    [Fact]
    public async Task Settle_AfterACall_ReservationBecomesTheRealCost()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(Responses.ChatJson("flat", promptTokens: 10, completionTokens: 250))));
        using var host = TestHarness.Create(transport, b => Priced(b));
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 1m);

        using (run.BeginTask("classify"))
        {
            await host.Harness.GetChatClient("openai/flat").CompleteChatAsync([new UserChatMessage("hi")], Max1000, Ct);
        }

        await host.Harness.GetChatClient("openai/flat").CompleteChatAsync([new UserChatMessage("hi")], Max1000, Ct);

        Assert.Equal(0.05m, run.SpentUsd);
        Assert.Equal(0m, run.ReservedUsd);
        Assert.Equal(0.95m, run.RemainingUsd);
        Assert.Equal(new RunTaskTotals(1, 10, 250, 0.025m), run.TaskTotals["classify"]);
        Assert.Equal(new RunTaskTotals(1, 10, 250, 0.025m), run.TaskTotals[string.Empty]);
    }

    [Fact]
    public async Task Settle_FailedAttempt_ReleasesItsReservation()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Error(HttpStatusCode.InternalServerError)));
        using var host = TestHarness.Create(transport, b => Priced(b));
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 0.15m);

        for (var i = 0; i < 3; i++)
        {
            // A leaked reservation would refuse the second call with a phantom "budget exceeded".
            await Assert.ThrowsAsync<System.ClientModel.ClientResultException>(() => host.Harness.GetChatClient("openai/flat").CompleteChatAsync([new UserChatMessage("hi")], Max1000, Ct));
        }

        Assert.Equal(3, transport.Calls);
        Assert.Equal(0m, run.SpentUsd);
        Assert.Equal(0m, run.ReservedUsd);
    }

    [Fact]
    public async Task Settle_CallerCancelsAfterSending_ChargesTheInputEstimate()
    {
        var hanging = new HangingHandler();
        using var host = TestHarness.Create(hanging, b => Priced(b, o =>
            o.Catalog.Models["openai/flat"] = new ModelPriceOptions { InputPerToken = 0.001m, OutputPerToken = OutputPrice, MaxOutputTokens = 4000 }));
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 1m);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var call = host.Harness.GetChatClient("openai/flat").CompleteChatAsync([new UserChatMessage("hello there")], Max1000, cts.Token);
        await hanging.Entered.WaitAsync(Ct);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        var record = Assert.Single(host.Ledger.GetRecords());
        var expected = AgentHarness.Budget.Internal.TokenEstimator.EstimateInputTokens(System.Text.Encoding.UTF8.GetBytes(
            """{"messages":[{"role":"user","content":"hello there"}],"model":"openai/flat","max_completion_tokens":1000}""")) * 0.001m;
        Assert.Equal(UsageOutcome.Canceled, record.Outcome);
        Assert.Equal(CostBasis.Estimated, record.CostBasis);
        Assert.Equal(expected, record.CostUsd);
        Assert.Equal(expected, run.SpentUsd);
        Assert.Equal(0m, run.ReservedUsd);
    }

    [Fact]
    public async Task Threshold_SpendCrosses50And80And100Percent_EachRaisedOnce()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(Responses.ChatJson("flat", promptTokens: 1, completionTokens: 250))));
        using var host = TestHarness.Create(transport, b => Priced(b, o =>
            o.Budgets["daily"] = new BudgetRuleOptions { Dimension = "agent", Window = BudgetWindow.Day, LimitUsd = 0.10m }));
        var events = new List<(string Rule, string? Value, double Threshold, decimal Spent)>();
        host.Services.GetRequiredService<IBudgetGuard>().ThresholdReached += (_, e) => events.Add((e.Status.Rule, e.Status.Value, e.Threshold, e.Status.SpentUsd));
        using var run = host.Harness.BeginRun("agent");
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 250 };

        for (var i = 0; i < 4; i++)
        {
            await host.Harness.GetChatClient("openai/flat").CompleteChatAsync([new UserChatMessage("hi")], options, Ct);
        }

        await Assert.ThrowsAsync<BudgetExceededException>(() => host.Harness.GetChatClient("openai/flat").CompleteChatAsync([new UserChatMessage("hi")], options, Ct));

        Assert.Equal(
            [("daily", "agent", 0.5, 0.050m), ("daily", "agent", 0.8, 0.100m), ("daily", "agent", 1.0, 0.100m)],
            events);
    }

    [Fact]
    public async Task Threshold_HandlerThrows_TheCallStillSucceeds()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(Responses.ChatJson("flat", promptTokens: 1, completionTokens: 1000))));
        using var host = TestHarness.Create(transport, b => Priced(b));
        host.Services.GetRequiredService<IBudgetGuard>().ThresholdReached += (_, _) => throw new InvalidOperationException("handler bug");
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 0.10m);

        await host.Harness.GetChatClient("openai/flat").CompleteChatAsync([new UserChatMessage("hi")], Max1000, Ct);

        Assert.Equal(0.10m, run.SpentUsd);
    }

    [Fact]
    public async Task Window_DayRuleExhausted_RefusesUntilTheNextUtcDay()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(Responses.ChatJson("flat", promptTokens: 1, completionTokens: 1000))));
        using var host = TestHarness.Create(transport, b => Priced(b, o =>
            o.Budgets["daily"] = new BudgetRuleOptions { Dimension = "customer", Value = "acme", Window = BudgetWindow.Day, LimitUsd = 0.20m }));
        var client = host.Harness.GetChatClient("openai/flat");
        using var run = host.Harness.BeginRun("agent", r => r.Customer = "acme");

        await client.CompleteChatAsync([new UserChatMessage("hi")], Max1000, Ct);
        await client.CompleteChatAsync([new UserChatMessage("hi")], Max1000, Ct);
        var ex = await Assert.ThrowsAsync<BudgetExceededException>(() => client.CompleteChatAsync([new UserChatMessage("hi")], Max1000, Ct));
        Assert.Equal(("daily", "acme", 0.20m, 0.20m), (ex.Rule, ex.Value, ex.LimitUsd, ex.SpentUsd));

        // Another customer is not limited by acme's rule.
        run.Customer = "globex";
        await client.CompleteChatAsync([new UserChatMessage("hi")], Max1000, Ct);

        run.Customer = "acme";
        host.Time.SetUtcNow(new DateTimeOffset(2026, 5, 2, 0, 0, 0, TimeSpan.Zero));
        await client.CompleteChatAsync([new UserChatMessage("hi")], Max1000, Ct);
        var status = await host.Services.GetRequiredService<IBudgetGuard>().GetStatusAsync("daily", cancellationToken: Ct);
        Assert.Equal(new DateTimeOffset(2026, 5, 2, 0, 0, 0, TimeSpan.Zero), status.WindowStart);
        Assert.Equal(0.10m, status.SpentUsd);
    }

    [Fact]
    public async Task GetStatusAsync_UnknownOrPerRunRule_ThrowsNamingIt()
    {
        using var host = TestHarness.Create(new DelegateHandler((_, _) => throw new InvalidOperationException()), b => Priced(b, o =>
        {
            o.Budgets["per-run"] = new BudgetRuleOptions { Window = BudgetWindow.Run, LimitUsd = 1m };
            o.Budgets["per-customer"] = new BudgetRuleOptions { Dimension = "customer", LimitUsd = 1m };
        }));
        var guard = host.Services.GetRequiredService<IBudgetGuard>();

        var unknown = await Assert.ThrowsAsync<ArgumentException>(async () => await guard.GetStatusAsync("nope", cancellationToken: Ct));
        var perRun = await Assert.ThrowsAsync<ArgumentException>(async () => await guard.GetStatusAsync("per-run", cancellationToken: Ct));
        var noValue = await Assert.ThrowsAsync<ArgumentException>(async () => await guard.GetStatusAsync("per-customer", cancellationToken: Ct));

        Assert.Contains("'nope'", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("per run", perRun.Message, StringComparison.Ordinal);
        Assert.Contains("per customer", noValue.Message, StringComparison.Ordinal);
    }
}

/// <summary>A transport that answers with a delegate and counts the requests it received.</summary>
internal sealed class DelegateHandler(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> respond) : HttpMessageHandler
{
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        return respond(request, cancellationToken);
    }
}
