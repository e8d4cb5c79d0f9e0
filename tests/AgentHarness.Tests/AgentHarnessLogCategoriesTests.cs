using System.Net;
using AgentHarness.Sqlite;
using AgentHarness.Tests.Budget;
using AgentHarness.Tests.Sqlite;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using OpenAI.Chat;
using RichardSzalay.MockHttp;

namespace AgentHarness.Tests;

/// <summary>Every log the harness writes is under one of the public category names, never an internal type's name.</summary>
public sealed class AgentHarnessLogCategoriesTests
{
    private static readonly string[] Categories =
    [
        AgentHarnessLogCategories.Routing,
        AgentHarnessLogCategories.Budget,
        AgentHarnessLogCategories.Usage,
        AgentHarnessLogCategories.Configuration,
        AgentHarnessLogCategories.Sqlite,
        AgentHarnessLogCategories.Redis,
        AgentHarnessLogCategories.Credentials,
    ];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Action<IServiceCollection> Capture(FakeLogCollector logs) =>
        s => s.AddLogging(l => l.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(logs)));

    /// <summary>The harness's own records (not the HTTP client factory's), each under a documented category.</summary>
    private static IReadOnlyList<FakeLogRecord> HarnessRecords(FakeLogCollector logs)
    {
        var records = logs.GetSnapshot().Where(static r => r.Category?.StartsWith(AgentHarnessLogCategories.Prefix, StringComparison.Ordinal) == true).ToList();
        Assert.All(records, static r => Assert.Contains(r.Category, Categories));
        return records;
    }

    [Fact]
    public void Constants_EveryCategory_StartsWithThePrefixAndNamesNoInternalType()
    {
        Assert.All(Categories, static c => Assert.StartsWith(AgentHarnessLogCategories.Prefix + ".", c, StringComparison.Ordinal));
        Assert.All(Categories, static c => Assert.DoesNotContain("Internal", c, StringComparison.Ordinal));
        Assert.Equal(Categories.Length, Categories.Distinct(StringComparer.OrdinalIgnoreCase).Count());
    }

    [Fact]
    public async Task Routing_CallEnded_LoggedUnderAgentHarnessRouting()
    {
        var logs = new FakeLogCollector();
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b), Capture(logs));

        await host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        var ended = Assert.Single(HarnessRecords(logs), static r => r.Id.Id == 1);
        Assert.Equal("AgentHarness.Routing", ended.Category);
    }

    [Fact]
    public async Task Budget_ThresholdHandlerThrows_LoggedUnderAgentHarnessBudget()
    {
        var logs = new FakeLogCollector();
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(Responses.ChatJson("flat", promptTokens: 1, completionTokens: 1000))));
        using var host = TestHarness.Create(
            transport,
            b =>
            {
                TestHarness.ThreeProviders(b, maxRetries: 0);
                b.Configure(static o => o.Catalog.Models["openai/flat"] = new ModelPriceOptions { InputPerToken = 0m, OutputPerToken = 0.0001m, MaxOutputTokens = 4000 });
            },
            Capture(logs));
        host.Services.GetRequiredService<IBudgetGuard>().ThresholdReached += (_, _) => throw new InvalidOperationException("handler bug");

        using (host.Harness.BeginRun("agent", static r => r.MaxCostUsd = 0.10m))
        {
            await host.Harness.GetChatClient("openai/flat").CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 1000 }, Ct);
        }

        var failed = HarnessRecords(logs).Where(static r => r.Id.Id == 20).ToList();
        Assert.Equal(3, failed.Count); // at 50%, 80% and 100% of the cap
        Assert.All(failed, static r => Assert.Equal("AgentHarness.Budget", r.Category));
    }

    [Fact]
    public async Task Usage_RequestyAnswered_LoggedUnderAgentHarnessUsage()
    {
        var logs = new FakeLogCollector();
        var usage = new MockHttpMessageHandler();
        usage.When("https://api-v2.requesty.ai/*").Respond(HttpStatusCode.NotFound, "application/json", """{"error":"no such key"}""");
        using var host = TestHarness.Create(
            new MockHttpMessageHandler(),
            b =>
            {
                TestHarness.ThreeProviders(b);
                b.AddRequestyUsageClient().ConfigurePrimaryHttpMessageHandler(() => usage);
            },
            Capture(logs));

        await Assert.ThrowsAnyAsync<Exception>(() => host.Services.GetRequiredService<RequestyUsageClient>().GetApiKeyInfoAsync("key-id", Ct));

        var answered = Assert.Single(HarnessRecords(logs), static r => r.Id.Id == 40);
        Assert.Equal("AgentHarness.Usage", answered.Category);
    }

    [Fact]
    public async Task Sqlite_LedgerOpened_LoggedUnderAgentHarnessSqlite()
    {
        using var db = new TempDatabase();
        var logs = new FakeLogCollector();
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = TestHarness.Create(
            mock.Handler,
            b =>
            {
                TestHarness.ThreeProviders(b);
                b.AddSqliteUsageLedger(db.FilePath);
            },
            Capture(logs));

        await host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
        await Assert.IsType<SqliteUsageLedger>(host.Ledger).FlushAsync(Ct);

        var opened = Assert.Single(HarnessRecords(logs), static r => r.Id.Id == 300);
        Assert.Equal("AgentHarness.Sqlite", opened.Category);
    }

    [Fact]
    public void Configuration_BaseUrlWithoutPath_LoggedUnderAgentHarnessConfiguration()
    {
        var logs = new FakeLogCollector();
        using var host = TestHarness.Create(
            new MockHttpMessageHandler(),
            b => b.AddProvider("openai", static p => { p.BaseUrl = new Uri("https://api.openai.com"); p.ApiKey = "key-openai"; }),
            Capture(logs));

        _ = host.Services.GetRequiredService<IOptions<AgentHarnessOptions>>().Value;

        var warning = Assert.Single(HarnessRecords(logs), static r => r.Id.Id == 50);
        Assert.Equal("AgentHarness.Configuration", warning.Category);
    }
}
