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
