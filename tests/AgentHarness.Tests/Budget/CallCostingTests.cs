using AgentHarness.Budget.Internal;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using OpenAI.Chat;
using OpenAI.Embeddings;
using Xunit;

namespace AgentHarness.Tests.Budget;

/// <summary>What each call is charged, through the whole pipeline: reported cost, catalog prices, streams, unpriced models.</summary>
public sealed class CallCostingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static TestHarness Create(HttpMessageHandler transport, Action<AgentHarnessOptions>? configure = null) =>
        TestHarness.Create(transport, b =>
        {
            TestHarness.ThreeProviders(b, maxRetries: 0);
            b.Configure(o =>
            {
                o.Catalog.UnpricedModels = UnpricedModelHandling.Refuse;
                o.Catalog.Models["openai/m"] = new ModelPriceOptions { InputPerToken = 0.000001m, CachedInputPerToken = 0.0000001m, OutputPerToken = 0.000002m };
                configure?.Invoke(o);
            });
        });

    private static async Task StreamAsync(ChatClient client)
    {
        await foreach (var _ in client.CompleteChatStreamingAsync([new UserChatMessage("hi")], cancellationToken: Ct))
        {
        }
    }

    [Fact]
    public async Task Cost_CachedInputTokens_AreChargedAtTheCachedRate()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(Responses.ChatJson("m", promptTokens: 1000, completionTokens: 100, cachedTokens: 800))));
        using var host = Create(transport);

        await host.Harness.GetChatClient("openai/m").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        var record = Assert.Single(host.Ledger.GetRecords());

        // 200 uncached at $1/M, 800 cached at $0.10/M, 100 out at $2/M.
        Assert.Equal(0.00048m, record.CostUsd);
        Assert.Equal(CostBasis.Catalog, record.CostBasis);
    }

    [Fact]
    public async Task Cost_GatewayReportsUsageCost_ItWinsOverTheCatalog()
    {
        var json = Responses.ChatJson("openai/m", promptTokens: 1000, completionTokens: 100).Replace(
            "\"prompt_tokens_details\"", "\"cost\":0.0123,\"prompt_tokens_details\"", StringComparison.Ordinal);
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(json)));
        using var host = Create(transport, o => o.Catalog.Models["anthropic/x"] = new ModelPriceOptions { InputPerToken = 0.000001m, OutputPerToken = 0.000002m });
        using var run = host.Harness.BeginRun("agent");

        await host.Harness.GetChatClient("anthropic/x").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal("requesty", record.Provider);
        Assert.Equal(0.0123m, record.CostUsd);
        Assert.Equal(CostBasis.Reported, record.CostBasis);
        Assert.Equal(0.0123m, run.SpentUsd);
    }

    [Theory]
    [InlineData("\"1e28\"")]
    [InlineData("1e28")]
    [InlineData("0.5")]
    public async Task Cost_ReportedCostFarAboveTheCatalogCostOfItsTokens_ChargesTheCatalogAndSaysSo(string cost)
    {
        // 1,000 in at $1/M and 100 out at $2/M cost $0.0012 at catalog prices; $0.5 is over 400 times that.
        var json = Responses.ChatJson("m", promptTokens: 1000, completionTokens: 100).Replace(
            "\"prompt_tokens_details\"", $"\"cost\":{cost},\"prompt_tokens_details\"", StringComparison.Ordinal);
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(json)));
        using var host = Create(transport);
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 1m);

        await host.Harness.GetChatClient("openai/m").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(0.0012m, record.CostUsd);
        Assert.Equal(CostBasis.ReportedCostImplausible, record.CostBasis);
        Assert.Equal(0.0012m, run.SpentUsd);
    }

    [Fact]
    public async Task Cost_ReportedCostWithin100TimesTheCatalog_IsCharged()
    {
        var json = Responses.ChatJson("m", promptTokens: 1000, completionTokens: 100).Replace(
            "\"prompt_tokens_details\"", "\"cost\":0.12,\"prompt_tokens_details\"", StringComparison.Ordinal);
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(json)));
        using var host = Create(transport);

        await host.Harness.GetChatClient("openai/m").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(0.12m, record.CostUsd);
        Assert.Equal(CostBasis.Reported, record.CostBasis);
    }

    [Fact]
    public async Task Cost_NegativeReportedCost_IsIgnoredForTheCatalog()
    {
        var json = Responses.ChatJson("m", promptTokens: 1000, completionTokens: 100).Replace(
            "\"prompt_tokens_details\"", "\"cost\":-5,\"prompt_tokens_details\"", StringComparison.Ordinal);
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(json)));
        using var host = Create(transport);

        await host.Harness.GetChatClient("openai/m").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(0.0012m, record.CostUsd);
        Assert.Equal(CostBasis.Catalog, record.CostBasis);
    }

    [Fact]
    public async Task Cost_StreamAndNonStreamWithTheSameUsage_CostTheSame()
    {
        var transport = new DelegateHandler((request, _) => Task.FromResult(request.Content!.ReadAsStringAsync().Result.Contains("\"stream\":true", StringComparison.Ordinal)
            ? Responses.EventStream(Responses.ChatStream("m", ["a", "b"], promptTokens: 700, completionTokens: 300))
            : Responses.Json(Responses.ChatJson("m", promptTokens: 700, completionTokens: 300))));
        using var host = Create(transport);
        var client = host.Harness.GetChatClient("openai/m");

        await client.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);
        await StreamAsync(client);

        var records = host.Ledger.GetRecords();
        Assert.Equal([false, true], records.Select(static r => r.Streaming));
        Assert.All(records, static r => Assert.Equal(0.0013m, r.CostUsd));
        Assert.All(records, static r => Assert.Equal(CostBasis.Catalog, r.CostBasis));
    }

    [Fact]
    public async Task Cost_StreamCutBeforeItsUsageEvent_IsChargedForWhatArrived()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.EventStream(Responses.ChatStream("m", ["Hello", " world"], usage: false, done: false))));
        using var host = Create(transport);

        await Assert.ThrowsAsync<StreamInterruptedException>(() => StreamAsync(host.Harness.GetChatClient("openai/m")));

        var record = Assert.Single(host.Ledger.GetRecords());
        var input = AgentHarness.Budget.Internal.TokenEstimator.EstimateInputTokens(System.Text.Encoding.UTF8.GetBytes(
            """{"messages":[{"role":"user","content":"hi"}],"model":"openai/m","stream":true,"stream_options":{"include_usage":true}}"""));
        var output = AgentHarness.Budget.Internal.TokenEstimator.CountTokens("Hello world");
        Assert.Equal(UsageOutcome.Incomplete, record.Outcome);
        Assert.Equal(CostBasis.Estimated, record.CostBasis);
        Assert.Equal((input * 0.000001m) + (output * 0.000002m), record.CostUsd);
        Assert.True(record.CostUsd > 0m);
    }

    [Fact]
    public async Task Cost_StreamWithoutUsageEvent_RecordsTheTokensItWasChargedFor()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.EventStream(Responses.ChatStream("m", ["Hello", " world"], usage: false))));
        using var host = Create(transport);
        using var run = host.Harness.BeginRun("agent");

        await StreamAsync(host.Harness.GetChatClient("openai/m"));

        var record = Assert.Single(host.Ledger.GetRecords());
        var input = AgentHarness.Budget.Internal.TokenEstimator.EstimateInputTokens(System.Text.Encoding.UTF8.GetBytes(
            """{"messages":[{"role":"user","content":"hi"}],"model":"openai/m","stream":true,"stream_options":{"include_usage":true}}"""));
        var output = AgentHarness.Budget.Internal.TokenEstimator.CountTokens("Hello world");
        Assert.Equal(CostBasis.Estimated, record.CostBasis);
        Assert.Equal(input, record.InputTokens);
        Assert.Equal(output, record.OutputTokens);
        Assert.Equal((input * 0.000001m) + (output * 0.000002m), record.CostUsd);
        Assert.Equal(input, run.TaskTotals[string.Empty].InputTokens);
    }

    [Fact]
    public async Task Cost_UnpricedModelByDefault_IsRefusedWithoutSendingAndSaysHowToAddAPrice()
    {
        var transport = new DelegateHandler((_, _) => throw new InvalidOperationException("nothing may be sent"));
        using var host = Create(transport);

        var ex = await Assert.ThrowsAsync<UnpricedModelException>(() => host.Harness.GetChatClient("openai/unknown-model").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct));

        Assert.Equal(0, transport.Calls);
        Assert.Equal("openai/unknown-model", ex.Model);
        Assert.Contains("AgentHarness:Catalog:Models:openai/unknown-model", ex.Message, StringComparison.Ordinal);
        Assert.Contains("UnpricedModels to Allow", ex.Message, StringComparison.Ordinal);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Rejected, record.Outcome);
    }

    [Fact]
    public async Task Cost_UnpricedModelAllowed_IsSentAndRecordedUnpricedAtZero()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(Responses.ChatJson("unknown-model"))));
        using var host = Create(transport, static o => o.Catalog.UnpricedModels = UnpricedModelHandling.Allow);

        await host.Harness.GetChatClient("openai/unknown-model").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(0m, record.CostUsd);
        Assert.Equal(CostBasis.Unpriced, record.CostBasis);
    }

    [Fact]
    public async Task Cost_PolicyWithOneUnpricedMember_SkipsItAndUsesThePricedOne()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", static _ => Responses.Json(Responses.ChatJson("m", promptTokens: 10, completionTokens: 10)));
        using var host = Create(mock.Handler, static o => o.Policies["p"] = new PolicyOptions { Models = { new() { Model = "openai/unknown-model" }, new() { Model = "openai/m" } } });

        await host.Harness.GetChatClient("policy/p").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Single(mock.Requests);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Contains("no price for 'openai/unknown-model'", record.Attempts[0].Error, StringComparison.Ordinal);
        Assert.Equal(0.00003m, record.CostUsd);
    }

    [Fact]
    public async Task Cost_Embeddings_ChargeInputOnly()
    {
        var json = """{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":1000,"total_tokens":1000}}""";
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(json)));
        using var host = Create(transport);

        await host.Harness.GetEmbeddingClient("openai/text-embedding-3-small").GenerateEmbeddingAsync("hello", cancellationToken: Ct);

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(1000 * 0.00000002m, record.CostUsd);
    }

    [Fact]
    public async Task Cost_ModelListRequest_IsNeitherPricedNorRefused()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json("""{"object":"list","data":[]}""")));
        using var host = Create(transport, static o => o.DefaultProvider = "openai");

        await host.Harness.GetOpenAIClient().GetOpenAIModelClient().GetModelsAsync(Ct);

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Succeeded, record.Outcome);
        Assert.Equal(CostBasis.None, record.CostBasis);
    }

    [Fact]
    public async Task LowestCost_MembersOfEqualRank_CheapestByCatalogFirstUnpricedLast()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", static _ => Responses.Error(System.Net.HttpStatusCode.ServiceUnavailable));
        using var host = Create(mock.Handler, static o =>
        {
            o.Catalog.UnpricedModels = UnpricedModelHandling.Allow;
            o.Catalog.Models["openai/dear"] = new ModelPriceOptions { InputPerToken = 0.00001m, OutputPerToken = 0.00003m };
            o.Policies["cheap"] = new PolicyOptions
            {
                Strategy = RoutingStrategy.LowestCost,
                AttemptsPerModel = 1,
                Models = { new() { Model = "openai/unpriced" }, new() { Model = "openai/dear" }, new() { Model = "openai/m" } },
            };
        });

        await Assert.ThrowsAsync<AllCandidatesFailedException>(() => host.Harness.GetChatClient("policy/cheap").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct));

        Assert.Equal(["m", "dear", "unpriced"], host.Ledger.GetRecords()[0].Attempts.Select(static a => a.Model));
    }

    [Fact]
    public async Task Cost_WholeAndStreamedAnswersWithoutUsage_ChargedTheSameFromTheirText()
    {
        const string Whole = """{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello world"},"finish_reason":"stop"}]}""";
        var transport = new DelegateHandler((request, _) => Task.FromResult(request.Content!.ReadAsStringAsync().Result.Contains("\"stream\":true", StringComparison.Ordinal)
            ? Responses.EventStream(Responses.ChatStream("m", ["Hello", " world"], usage: false))
            : Responses.Json(Whole)));
        using var host = Create(transport);
        var client = host.Harness.GetChatClient("openai/m");

        await client.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);
        await StreamAsync(client);

        var records = host.Ledger.GetRecords();
        Assert.All(records, static r => Assert.Equal(CostBasis.Estimated, r.CostBasis));
        Assert.Equal(records[0].CostUsd, records[1].CostUsd);
        var input = AgentHarness.Budget.Internal.TokenEstimator.EstimateInputTokens(System.Text.Encoding.UTF8.GetBytes("""{"messages":[{"role":"user","content":"hi"}]}"""));
        Assert.Equal((input * 0.000001m) + (AgentHarness.Budget.Internal.TokenEstimator.CountTokens("Hello world") * 0.000002m), records[0].CostUsd);
    }

    [Fact]
    public async Task Cost_AbsurdPriceAndUsage_SaturatesAndTheCallIsStillRecorded()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.EventStream(Responses.ChatStream("m", ["a"], promptTokens: 2_000_000_000, completionTokens: 2_000_000_000))));
        using var host = Create(transport, static o => o.Catalog.Models["openai/m"] = new ModelPriceOptions { InputPerToken = 100_000_000_000_000_000_000m, OutputPerToken = 100_000_000_000_000_000_000m });
        using var run = host.Harness.BeginRun("agent");

        await StreamAsync(host.Harness.GetChatClient("openai/m"));

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(AgentHarness.Budget.Internal.CallCost.Ceiling, record.CostUsd);
        Assert.Equal(0m, run.ReservedUsd);
    }

    // ---- Usage that is no usage, and counts the attempt could not have used ----

    private static string WithUsage(string usage, string content = "ok") =>
        $$"""{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"{{content}}"},"finish_reason":"stop"}],"usage":{{usage}}}""";

    private static readonly byte[] HiBody = System.Text.Encoding.UTF8.GetBytes("""{"messages":[{"role":"user","content":"hi"}],"model":"m"}""");

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"prompt_tokens":-5,"completion_tokens":-7}""")]
    [InlineData("""{"total_tokens":5000}""")]
    public async Task Cost_UsageWithoutUsableCounts_IsEstimatedNotFree(string usage)
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(WithUsage(usage, "Hello world"))));
        using var host = Create(transport);
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 1m);

        await host.Harness.GetChatClient("openai/m").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        // As an answer with no usage at all: the input estimate and the output that arrived, at catalog prices.
        var record = Assert.Single(host.Ledger.GetRecords());
        var (input, output) = (TokenEstimator.EstimateInputTokens(HiBody), TokenEstimator.CountTokens("Hello world"));
        Assert.Equal((CostBasis.Estimated, input, output), (record.CostBasis, record.InputTokens, record.OutputTokens));
        Assert.Equal((input * 0.000001m) + (output * 0.000002m), record.CostUsd);
        Assert.Equal(record.CostUsd, run.SpentUsd);
    }

    [Theory]
    [InlineData("""{"prompt_tokens":"2000","completion_tokens":"5"}""")]
    [InlineData("""{"prompt_tokens":2000.5,"completion_tokens":3000000000}""")]
    public async Task Cost_CountsThatAreNotWholeNumbers_AreEstimated(string usage)
    {
        // The official client cannot read such an answer; sent as it would send it, without parsing the answer.
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(WithUsage(usage, "Hello world"))));
        using var host = Create(transport);
        using var http = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient(AgentHarness.Internal.DefaultAgentHarness.HttpClientName);

        var body = System.Text.Encoding.UTF8.GetBytes("""{"messages":[{"role":"user","content":"hi"}],"model":"openai/m"}""");

        using var response = await http.PostAsync(
            new Uri(AgentHarness.Routing.Internal.RoutingHandler.VirtualEndpoint + "/chat/completions"),
            new ByteArrayContent(body) { Headers = { ContentType = new("application/json") } },
            Ct);

        response.EnsureSuccessStatusCode();
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(
            (CostBasis.Estimated, TokenEstimator.EstimateInputTokens(body), TokenEstimator.CountTokens("Hello world")),
            (record.CostBasis, record.InputTokens, record.OutputTokens));
    }

    [Fact]
    public async Task Cost_EmptyUsageUnderACap_TheCapStillBinds()
    {
        // Each answer is charged its estimate; once the run's spend reaches its cap the next call is refused unsent.
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(WithUsage("{}", new string('w', 400)))));
        using var host = Create(transport, o => o.Catalog.Models["openai/m"].MaxOutputTokens = 100);
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 0.001m);
        var client = host.Harness.GetChatClient("openai/m");
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 100 };

        var refused = 0;
        for (var i = 0; i < 20; i++)
        {
            try
            {
                await client.CompleteChatAsync([new UserChatMessage("hi")], options, Ct);
            }
            catch (BudgetExceededException)
            {
                refused++;
            }
        }

        // Refused once what is left is less than a call's worst case (its prompt's bound and 100 tokens out).
        Assert.True(refused > 0, "the cap never bound");
        Assert.InRange(run.SpentUsd, 0.0006m, 0.001m);
        Assert.Equal(0m, run.ReservedUsd);
    }

    [Fact]
    public async Task Cost_GatewayReportsOnlyACost_ItIsChargedAgainstTheEstimate()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(WithUsage("""{"cost":0.0002}"""))));
        using var host = Create(transport);

        await host.Harness.GetChatClient("openai/m").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        // The estimate (about twenty tokens at $1/M and $2/M) times 100 is well above $0.0002: the reported cost stands.
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((CostBasis.Reported, 0.0002m), (record.CostBasis, record.CostUsd));
    }

    [Fact]
    public async Task Cost_OnlyTheInputCountReported_TheOutputIsCountedFromTheText()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(WithUsage("""{"prompt_tokens":40}""", "Hello world"))));
        using var host = Create(transport);

        await host.Harness.GetChatClient("openai/m").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        var record = Assert.Single(host.Ledger.GetRecords());
        var output = TokenEstimator.CountTokens("Hello world");
        Assert.Equal((CostBasis.Estimated, 40, output), (record.CostBasis, record.InputTokens, record.OutputTokens));
        Assert.Equal((40 * 0.000001m) + (output * 0.000002m), record.CostUsd);
    }

    [Fact]
    public async Task Cost_EmbeddingsUsageWithoutOutput_IsTheCatalogCost()
    {
        // An embedding has no output: its usage has no output count, and none is estimated.
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json("""{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"model":"m","usage":{"prompt_tokens":8,"total_tokens":8}}""")));
        using var host = Create(transport);

        await host.Harness.GetEmbeddingClient("openai/m").GenerateEmbeddingAsync("hi", cancellationToken: Ct);

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((CostBasis.Catalog, 8, 0, 8 * 0.000001m), (record.CostBasis, record.InputTokens, record.OutputTokens, record.CostUsd));
    }

    [Fact]
    public async Task Cost_MoreOutputReportedThanTheRequestAllowed_TheLimitIsChargedAndLogged()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(WithUsage("""{"prompt_tokens":10,"completion_tokens":2000000000}"""))));
        var logs = new FakeLogCollector();
        using var host = TestHarness.Create(
            transport,
            b =>
            {
                TestHarness.ThreeProviders(b, maxRetries: 0);
                b.Configure(static o => o.Catalog.Models["openai/m"] = new ModelPriceOptions { InputPerToken = 0.000001m, OutputPerToken = 0.000002m });
            },
            services => services.AddLogging(l => l.AddProvider(new FakeLoggerProvider(logs))));
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 0.001m);

        await host.Harness.GetChatClient("openai/m").CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 10 }, Ct);

        // The provider could not have produced more than the 10 tokens it was allowed: 10 in at $1/M, 10 out at $2/M.
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((CostBasis.ReportedUsageImplausible, 10, 10, 0.00003m), (record.CostBasis, record.InputTokens, record.OutputTokens, record.CostUsd));
        Assert.Equal(0.00003m, run.SpentUsd);
        var warning = Assert.Single(logs.GetSnapshot(), static r => r.Id.Id == 7);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("2000000000 output", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cost_MoreOutputReportedThanTheCatalogsOutputLimit_IsChargedAsReported()
    {
        // The catalog's output limit of a model may be stale; only a limit the request was sent with cuts a report.
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.EventStream(Responses.ChatStream("m", ["a"], promptTokens: 10, completionTokens: 5_000))));
        using var host = Create(transport, o => o.Catalog.Models["openai/m"].MaxOutputTokens = 1_000);

        await StreamAsync(host.Harness.GetChatClient("openai/m"));

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((CostBasis.Catalog, 10, 5_000), (record.CostBasis, record.InputTokens, record.OutputTokens));
    }

    [Fact]
    public async Task Cost_InputReportedAboveTheModelsContextWindow_TheEstimateIsCharged()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(WithUsage("""{"prompt_tokens":300000,"completion_tokens":3}"""))));
        using var host = Create(transport, o => o.Catalog.Models["openai/m"].ContextWindow = 128_000);

        await host.Harness.GetChatClient("openai/m").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        var record = Assert.Single(host.Ledger.GetRecords());
        var input = TokenEstimator.EstimateInputTokens(HiBody);
        Assert.Equal((CostBasis.ReportedUsageImplausible, input, 3), (record.CostBasis, record.InputTokens, record.OutputTokens));
        Assert.Equal((input * 0.000001m) + (3 * 0.000002m), record.CostUsd);
    }

    [Fact]
    public async Task Cost_InputReportedFarAboveThePromptWithinTheWindow_IsCharged()
    {
        // A provider adds input the body does not show (search results, files, a tool prompt): within the model's
        // context window, the report is what the call cost.
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(WithUsage("""{"prompt_tokens":40000,"completion_tokens":3}"""))));
        using var host = Create(transport, o => o.Catalog.Models["openai/m"].ContextWindow = 128_000);

        await host.Harness.GetChatClient("openai/m").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((CostBasis.Catalog, 40_000, (40_000 * 0.000001m) + (3 * 0.000002m)), (record.CostBasis, record.InputTokens, record.CostUsd));
    }

    [Fact]
    public async Task Cost_ErrorObjectThatReportsUsage_IsChargedAndTheRetryToo()
    {
        // A generation that failed midway was billed: its usage counts, then the retry's.
        var calls = 0;
        var transport = new DelegateHandler((_, _) => Task.FromResult(Interlocked.Increment(ref calls) == 1
            ? Responses.Json("""{"error":{"message":"upstream failed midway","type":"server_error","code":"server_error"},"usage":{"prompt_tokens":500,"completion_tokens":40}}""")
            : Responses.Json(Responses.ChatJson("m", promptTokens: 500, completionTokens: 60))));
        using var host = TestHarness.Create(transport, b =>
        {
            TestHarness.ThreeProviders(b, maxRetries: 1);
            b.Configure(static o => o.Catalog.Models["openai/m"] = new ModelPriceOptions { InputPerToken = 0.000001m, OutputPerToken = 0.000002m });
        });
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 1m);

        await host.Harness.GetChatClient("openai/m").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        var expected = (1000 * 0.000001m) + (100 * 0.000002m);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((expected, expected, 2), (record.CostUsd, run.SpentUsd, record.Attempts.Count));
        Assert.Equal(0m, run.ReservedUsd);
    }

    [Fact]
    public async Task Cost_ResponsesCallContinuingAStoredResponse_ItsReportedInputIsCharged()
    {
        // The stored conversation is input the body does not show: no bound holds it.
        const string Answer = """{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":"m","output":[],"usage":{"input_tokens":300000,"output_tokens":3,"total_tokens":300003}}""";
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(Answer)));
        using var host = Create(transport);
        using var http = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient(AgentHarness.Internal.DefaultAgentHarness.HttpClientName);

        var response = await http.PostAsync(
            new Uri(AgentHarness.Routing.Internal.RoutingHandler.VirtualEndpoint + "/responses"),
            new StringContent("""{"model":"openai/m","input":"and then?","previous_response_id":"resp_0"}""", System.Text.Encoding.UTF8, "application/json"),
            Ct);

        response.EnsureSuccessStatusCode();
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((CostBasis.Catalog, 300_000), (record.CostBasis, record.InputTokens));
    }

    [Fact]
    public async Task Cost_AnswerWithoutUsageLongerThanItsLimit_IsChargedAtMostTheLimit()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(WithUsage("null", string.Join(' ', Enumerable.Repeat("word", 500))))));
        using var host = Create(transport);

        await host.Harness.GetChatClient("openai/m").CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 50 }, Ct);

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((CostBasis.Estimated, 50), (record.CostBasis, record.OutputTokens));
    }

    [Fact]
    public async Task Cost_StreamWhoseUsageEventHasNoCounts_IsEstimated()
    {
        const string Stream = """
            data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hello world"},"finish_reason":null}]}

            data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{}}

            data: [DONE]


            """;
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.EventStream(Stream.Replace("\r\n", "\n", StringComparison.Ordinal))));
        using var host = Create(transport);

        await StreamAsync(host.Harness.GetChatClient("openai/m"));

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((CostBasis.Estimated, TokenEstimator.CountTokens("Hello world")), (record.CostBasis, record.OutputTokens));
        Assert.True(record.InputTokens > 0);
    }
}
