using AgentHarness.Budget.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace AgentHarness.Tests.Budget;

/// <summary>The budgets of one call: its reservations on the open runs, with their spend checkpoints.</summary>
public sealed class CallBudgetTests
{
    private static readonly IReadOnlyDictionary<string, string> NoMetadata = new Dictionary<string, string>();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static BudgetGuard Guard()
    {
        var time = new FakeTimeProvider();
        return new BudgetGuard(Options.Create(new AgentHarnessOptions()), new InMemoryBudgetStore(time), time, NullLoggerFactory.Instance);
    }

    private static ValueTask<SpendCheckpointDecision> Approve(SpendCheckpointContext context, CancellationToken token) =>
        ValueTask.FromResult(SpendCheckpointDecision.Continue);

    [Fact]
    public async Task TryReserveAsync_AmountWouldGoPastAnUndecidedCheckpoint_ThrowsAndHoldsNothingOnAnyRun()
    {
        using var outer = new AgentRun("orchestrator", "run-outer", DateTimeOffset.UnixEpoch);
        outer.AddSpendCheckpoint(0.15m, Approve);
        using var inner = new AgentRun("reviewer", "run-inner", DateTimeOffset.UnixEpoch) { MaxCostUsd = 1m };
        var guard = Guard();
        var first = guard.ForCall([inner, outer], NoMetadata, null)!;
        Assert.True(first.AtCheckpoints());

        // Below the checkpoint: the uncapped outer run holds the reservation too, so that its checkpoint counts it.
        var held = await first.TryReserveAsync(0.10m, Ct);
        Assert.NotNull(held.Reservation);
        Assert.Equal((0.10m, 0.10m), (inner.ReservedUsd, outer.ReservedUsd));

        var second = guard.ForCall([inner, outer], NoMetadata, null)!;
        Assert.True(second.AtCheckpoints());
        await Assert.ThrowsAsync<CheckpointAheadException>(() => second.TryReserveAsync(0.10m, Ct).AsTask());

        // What the second call reserved on the inner run before the outer one refused was given back.
        Assert.Equal((0.10m, 0.10m), (inner.ReservedUsd, outer.ReservedUsd));
        first.Settle(held.Reservation, 0.03m);
        Assert.Equal((0m, 0m), (inner.ReservedUsd, outer.ReservedUsd));
        Assert.Equal(0.03m, outer.SpentUsd);
    }

    [Fact]
    public async Task TryReserveAsync_CallThatDidNotLookForCheckpoints_ReservesAsWithoutThem()
    {
        using var run = new AgentRun("agent", "run-1", DateTimeOffset.UnixEpoch);
        run.AddSpendCheckpoint(0.05m, Approve);
        var budget = Guard().ForCall([run], NoMetadata, null)!;

        // Limited, since the checkpoint needs a worst case; nothing refuses or holds without AtCheckpoints.
        Assert.True(budget.Limited);
        var outcome = await budget.TryReserveAsync(0.10m, Ct);

        Assert.NotNull(outcome.Reservation);
        Assert.Equal(0m, run.ReservedUsd);
    }
}
