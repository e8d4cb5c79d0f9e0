using AgentHarness.Tests.Support;
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
}
