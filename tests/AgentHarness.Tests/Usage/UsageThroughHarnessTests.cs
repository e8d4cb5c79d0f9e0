using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using OpenAI.Chat;

namespace AgentHarness.Tests.Usage;

public sealed class UsageThroughHarnessTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task GetUsageAsync_PromptCacheTokens_PricedAtTheirRatesAndReportedPerTask()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(
            """{"id":"c","object":"chat.completion","created":1,"model":"gpt-4.1","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":10,"prompt_tokens_details":{"cached_tokens":600,"caching_tokens":300}}}"""));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            b.Configure(o => o.Catalog.Models["openai/gpt-4.1"] = new ModelPriceOptions
            {
                InputPerToken = 0.000002m,
                OutputPerToken = 0.000008m,
                CachedInputPerToken = 0.0000005m,
                CacheWriteInputPerToken = 0.0000025m,
            });
        });

        using (var run = host.Harness.BeginRun("agent"))
        using (run.BeginTask("classify"))
        {
            await host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
        }

        // 100 uncached x 2e-6 + 600 cached x 5e-7 + 300 written x 2.5e-6 + 10 out x 8e-6.
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((600, 300, 0.00133m), (record.CachedInputTokens, record.CacheWriteInputTokens, record.CostUsd));
        var report = await host.Ledger.GetUsageAsync(
            new UsageQuery { Start = host.Time.GetUtcNow().AddDays(-1), End = host.Time.GetUtcNow().AddDays(1), GroupBy = ["extra.task"] },
            Ct);
        var group = Assert.Single(report.Groups);
        Assert.Equal(("classify", 600L, 300L, 0.00133m), (group.Values["extra.task"], group.Totals.CachedInputTokens, group.Totals.CacheWriteInputTokens, group.Totals.SpendUsd));
    }

    [Fact]
    public async Task GetUsageAsync_RunWithTasksAndBranches_GroupsCallsByTheirMetadata()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1-nano", promptTokens: 10, completionTokens: 2)));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));
        var client = host.Harness.GetChatClient("openai/gpt-4.1-nano");

        using (var run = host.Harness.BeginRun("code-review-agent", r => r.Branch = "feat/auth-refactor"))
        {
            using (run.BeginTask("classify"))
            {
                await client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
                await client.CompleteChatAsync([new UserChatMessage("b")], cancellationToken: Ct);
            }

            host.Time.Advance(TimeSpan.FromDays(1));
            using (run.BeginTask("review"))
            {
                await client.CompleteChatAsync([new UserChatMessage("c")], cancellationToken: Ct);
            }
        }

        using (host.Harness.BeginRun("code-review-agent", r => r.Branch = "main"))
        {
            await client.CompleteChatAsync([new UserChatMessage("d")], cancellationToken: Ct);
        }

        var report = await host.Ledger.GetUsageAsync(
            new UsageQuery
            {
                Start = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero),
                End = new DateTimeOffset(2026, 5, 2, 23, 59, 59, TimeSpan.Zero),
                GroupBy = ["extra.branch", "extra.task", UsageGroupKeys.Provider],
            },
            Ct);

        Assert.Equal([2L, 2L], report.Periods.Select(p => p.Totals.Requests));
        Assert.Equal(4 * 12, report.Totals.TotalTokens);
        Assert.Equal(
            ["feat/auth-refactor|classify|openai|2", "feat/auth-refactor|review|openai|1", "main|(none)|openai|1"],
            report.Groups
                .Select(g => $"{g.Values["extra.branch"]}|{g.Values["extra.task"] ?? "(none)"}|{g.Values[UsageGroupKeys.Provider]}|{g.Totals.Requests}")
                .Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Call_LedgerThatThrows_SucceedsAndLogsTheFailure()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1-nano")));
        var collector = new FakeLogCollector();
        using var host = TestHarness.Create(
            mock.Handler,
            b => TestHarness.ThreeProviders(b),
            services =>
            {
                services.AddSingleton<IUsageLedger, ThrowingLedger>();
                services.AddLogging(l => l.AddProvider(new FakeLoggerProvider(collector)));
            });

        var completion = await host.Harness.GetChatClient("openai/gpt-4.1-nano").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        Assert.Equal("gpt-4.1-nano", completion.Value.Model);
        var logged = Assert.Single(collector.GetSnapshot(), r => r.Id.Id == 4);
        Assert.Equal(LogLevel.Error, logged.Level);
        Assert.Contains("ThrowingLedger", logged.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(logged.Exception);
    }

    private sealed class ThrowingLedger : IUsageLedger
    {
        public void Add(UsageRecord record) => throw new InvalidOperationException("disk full");

        public IReadOnlyList<UsageRecord> GetRecords() => [];

        public Task<UsageReport> GetUsageAsync(UsageQuery query, CancellationToken cancellationToken = default) =>
            Task.FromResult(UsageReport.FromRecords(query, []));
    }
}
