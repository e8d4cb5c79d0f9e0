using System.Diagnostics.Metrics;
using System.Net;
using AgentHarness.Sqlite;
using AgentHarness.Telemetry;
using AgentHarness.Tests.Sqlite;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using OpenAI.Chat;

namespace AgentHarness.Tests.Telemetry;

[Collection(TelemetryCollection.Name)]
public sealed class HarnessTelemetryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void StartRun_NothingListens_NoSpanAndNothingEnabled()
    {
        var mock = new RecordingMock();
        using var host = TestHarness.Create(mock.Handler, static b => TestHarness.ThreeProviders(b));
        var telemetry = host.Services.GetRequiredService<HarnessTelemetry>();
        using var run = host.Harness.BeginRun("code-review-agent");

        Assert.False(telemetry.Enabled);
        Assert.Null(telemetry.StartRun(run));
    }

    [Fact]
    public async Task RunSpan_SpendCheckpointDecided_TheDecisionIsAnEventOfTheRunsSpan()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1-nano")));
        using var trace = new TraceCapture();
        using var host = TestHarness.Create(mock.Handler, static b => TestHarness.ThreeProviders(b));
        using (var run = host.Harness.BeginRun("code-review-agent"))
        {
            run.AddSpendCheckpoint(0m, static (_, _) => ValueTask.FromResult(SpendCheckpointDecision.ContinueWithCap(2m)));
            await host.Harness.GetChatClient("openai/gpt-4.1-nano").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);
        }

        var decided = Assert.Single(trace.Single("invoke_agent code-review-agent").Events);
        Assert.Equal("agentharness.spend_checkpoint", decided.Name);
        Assert.Equal(host.Time.GetUtcNow(), decided.Timestamp);
        var tags = decided.Tags.ToDictionary(static t => t.Key, static t => t.Value);
        Assert.Equal(0d, tags["agentharness.spend_checkpoint.usd"]);
        Assert.Equal("continue_with_cap", tags["agentharness.spend_checkpoint.decision"]);
        Assert.Equal(2d, tags["agentharness.spend_checkpoint.max_cost_usd"]);
    }

    [Fact]
    public async Task Cooldowns_CandidateCoolingDown_ObservedUntilItsPeriodEnds()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b, maxRetries: 0);
            b.Configure(static o => o.FailuresBeforeCooldown = 1);
        });
        _ = host.Services.GetRequiredService<HarnessTelemetry>();
        using var cooldowns = new MetricCollector<int>(host.Services.GetRequiredService<IMeterFactory>(), TelemetryOptions.MeterName, "agentharness.cooldowns");

        await Assert.ThrowsAnyAsync<Exception>(() => host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct));
        cooldowns.RecordObservableInstruments();
        Assert.Equal(1, cooldowns.LastMeasurement!.Value);

        host.Time.Advance(TimeSpan.FromSeconds(30));
        cooldowns.RecordObservableInstruments();
        Assert.Equal(0, cooldowns.LastMeasurement!.Value);
    }

    [Fact]
    public async Task LedgerCounters_SqliteLedgerDropsARecord_ObservedAsDropped()
    {
        using var db = new TempDatabase();
        using var host = TestHarness.Create(new RecordingMock().Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            b.AddSqliteUsageLedger(db.FilePath);
        });
        _ = host.Services.GetRequiredService<HarnessTelemetry>();
        var meters = host.Services.GetRequiredService<IMeterFactory>();
        using var dropped = new MetricCollector<long>(meters, TelemetryOptions.MeterName, "agentharness.ledger.dropped");
        using var failed = new MetricCollector<long>(meters, TelemetryOptions.MeterName, "agentharness.ledger.failed");
        var ledger = host.Services.GetRequiredService<SqliteUsageLedger>();

        await ledger.DisposeAsync();
        ledger.Add(new UsageRecord { Timestamp = host.Time.GetUtcNow(), ModelRequested = "openai/gpt-4.1", Operation = "chat/completions", Outcome = UsageOutcome.Succeeded });
        dropped.RecordObservableInstruments();
        failed.RecordObservableInstruments();

        Assert.Equal(1, dropped.LastMeasurement!.Value);
        Assert.Equal(0, failed.LastMeasurement!.Value);
    }
}
