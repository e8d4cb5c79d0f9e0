using AgentHarness.Budget.Internal;
using Microsoft.Extensions.Time.Testing;

namespace AgentHarness.Tests.Budget;

public sealed class InMemoryBudgetStoreTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 24, 9, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static BudgetCounter Counter(string key, decimal limit) => new(key, limit, Start.AddDays(2));

    private static BudgetReservation Hold(decimal amountUsd) => new("r", amountUsd, TimeSpan.FromMinutes(5));

    private static InMemoryBudgetStore Store(FakeTimeProvider? time = null) => new(time ?? new FakeTimeProvider(Start));

    [Fact]
    public async Task TryReserveAsync_AmountFits_ReservesOnEveryCounter()
    {
        var store = Store();
        BudgetCounter[] counters = [Counter("a", 1.00m), Counter("b", 5.00m)];

        var result = await store.TryReserveAsync(counters, Hold(0.40m), Ct);

        Assert.Equal(BudgetReserveResult.Success, result);
        Assert.Equal((true, -1), (result.Succeeded, result.RefusedIndex));
        Assert.Equal(new BudgetCounterState(0m, 0.40m), await store.GetAsync("a", Ct));
        Assert.Equal(new BudgetCounterState(0m, 0.40m), await store.GetAsync("b", Ct));
    }

    [Fact]
    public async Task TryReserveAsync_ExactlyAtTheLimit_Fits()
    {
        var store = Store();
        BudgetCounter[] counters = [Counter("a", 1.00m)];
        await store.TryReserveAsync(counters, Hold(0.30m), Ct);
        await store.SettleAsync(counters, Hold(0.30m), 0.30m, Ct);
        await store.TryReserveAsync(counters, Hold(0.20m), Ct);

        var result = await store.TryReserveAsync(counters, Hold(0.50m), Ct);

        Assert.True(result.Succeeded);
        Assert.Equal(new BudgetCounterState(0.30m, 0.70m), await store.GetAsync("a", Ct));
    }

    [Fact]
    public async Task TryReserveAsync_OneCentOver_RefusedWithTheFigures()
    {
        var store = Store();
        BudgetCounter[] counters = [Counter("a", 1.00m)];
        await store.TryReserveAsync(counters, Hold(0.30m), Ct);
        await store.SettleAsync(counters, Hold(0.30m), 0.30m, Ct);
        await store.TryReserveAsync(counters, Hold(0.20m), Ct);

        var result = await store.TryReserveAsync(counters, Hold(0.51m), Ct);

        Assert.Equal(new BudgetReserveResult(false, 0, new BudgetCounterState(0.30m, 0.20m)), result);
        Assert.Equal(new BudgetCounterState(0.30m, 0.20m), await store.GetAsync("a", Ct));
    }

    [Fact]
    public async Task TryReserveAsync_OverTheLimitOfANewCounter_RefusedAndNothingCreated()
    {
        var store = Store();

        var result = await store.TryReserveAsync([Counter("a", 1.00m)], Hold(1.01m), Ct);

        Assert.Equal(new BudgetReserveResult(false, 0, default), result);
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public async Task TryReserveAsync_SecondCounterHasNoRoom_NeitherCounterChanges()
    {
        var store = Store();
        var a = Counter("a", 10.00m);
        var b = Counter("b", 1.00m);
        await store.TryReserveAsync([a], Hold(1.00m), Ct);
        await store.TryReserveAsync([b], Hold(0.90m), Ct);
        await store.SettleAsync([b], Hold(0.90m), 0.85m, Ct);
        await store.TryReserveAsync([b], Hold(0.05m), Ct);

        var result = await store.TryReserveAsync([a, b], Hold(0.20m), Ct);

        Assert.Equal(new BudgetReserveResult(false, 1, new BudgetCounterState(0.85m, 0.05m)), result);
        Assert.Equal(new BudgetCounterState(0m, 1.00m), await store.GetAsync("a", Ct));
        Assert.Equal(new BudgetCounterState(0.85m, 0.05m), await store.GetAsync("b", Ct));
    }

    [Fact]
    public async Task TryReserveAsync_SecondCounterNewAndTooSmall_FirstCounterNotCreated()
    {
        var store = Store();

        var result = await store.TryReserveAsync([Counter("a", 10.00m), Counter("b", 0.10m)], Hold(0.20m), Ct);

        Assert.Equal(new BudgetReserveResult(false, 1, default), result);
        Assert.Equal(0, store.Count);
        Assert.Equal(default, await store.GetAsync("a", Ct));
    }

    [Fact]
    public async Task TryReserveAsync_SeveralCountersWithoutRoom_ReportsTheFirst()
    {
        var store = Store();

        var result = await store.TryReserveAsync([Counter("a", 10.00m), Counter("b", 0.10m), Counter("c", 0.05m)], Hold(0.20m), Ct);

        Assert.Equal(1, result.RefusedIndex);
    }

    [Fact]
    public async Task TryReserveAsync_NoCounters_Succeeds()
    {
        var store = Store();

        var result = await store.TryReserveAsync([], Hold(5m), Ct);

        Assert.True(result.Succeeded);
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public async Task SettleAsync_AfterReserve_MovesReservedToSpentAndReturnsStatesInOrder()
    {
        var store = Store();
        var a = Counter("a", 10.00m);
        var b = Counter("b", 10.00m);
        var c = Counter("c", 10.00m);
        await store.TryReserveAsync([b], Hold(2.00m), Ct);
        await store.SettleAsync([b], Hold(2.00m), 1.50m, Ct);
        await store.TryReserveAsync([c], Hold(0.25m), Ct);
        await store.TryReserveAsync([a, b, c], Hold(0.40m), Ct);

        var states = (await store.SettleAsync([a, b, c], Hold(0.40m), 0.30m, Ct)).Counters;

        Assert.Equal(
            [new BudgetCounterState(0.30m, 0m), new BudgetCounterState(1.80m, 0m), new BudgetCounterState(0.30m, 0.25m)],
            states);
        Assert.Equal(new BudgetCounterState(1.80m, 0m), await store.GetAsync("b", Ct));
    }

    [Fact]
    public async Task SettleAsync_ActualAboveReserved_RecordsTheActual()
    {
        var store = Store();
        BudgetCounter[] counters = [Counter("a", 1.00m)];
        await store.TryReserveAsync(counters, Hold(0.10m), Ct);

        var states = (await store.SettleAsync(counters, Hold(0.10m), 0.25m, Ct)).Counters;

        Assert.Equal([new BudgetCounterState(0.25m, 0m)], states);
    }

    [Fact]
    public async Task SettleAsync_ActualPushesPastTheLimit_RecordedAndLaterReservationsRefused()
    {
        var store = Store();
        BudgetCounter[] counters = [Counter("a", 1.00m)];
        await store.TryReserveAsync(counters, Hold(0.90m), Ct);

        var states = (await store.SettleAsync(counters, Hold(0.90m), 1.20m, Ct)).Counters;
        var next = await store.TryReserveAsync(counters, Hold(0m), Ct);

        Assert.Equal([new BudgetCounterState(1.20m, 0m)], states);
        Assert.Equal(new BudgetReserveResult(false, 0, new BudgetCounterState(1.20m, 0m)), next);
    }

    [Fact]
    public async Task SettleAsync_MoreThanWasReserved_ReservedStopsAtZero()
    {
        var store = Store();
        BudgetCounter[] counters = [Counter("a", 1.00m)];
        await store.TryReserveAsync(counters, Hold(0.10m), Ct);

        var states = (await store.SettleAsync(counters, Hold(0.50m), 0.05m, Ct)).Counters;

        Assert.Equal([new BudgetCounterState(0.05m, 0m)], states);
    }

    [Fact]
    public async Task SettleAsync_UnknownCounter_CreatedWithTheSpendAndNoNegativeReserve()
    {
        var store = Store();

        var states = (await store.SettleAsync([Counter("late", 1.00m)], Hold(0.30m), 0.20m, Ct)).Counters;

        Assert.Equal([new BudgetCounterState(0.20m, 0m)], states);
        Assert.Equal(new BudgetCounterState(0.20m, 0m), await store.GetAsync("late", Ct));
    }

    [Fact]
    public async Task SettleAsync_ActualZero_ReleasesTheReservation()
    {
        var store = Store();
        BudgetCounter[] counters = [Counter("a", 1.00m)];
        await store.TryReserveAsync(counters, Hold(0.30m), Ct);

        var states = (await store.SettleAsync(counters, Hold(0.30m), 0m, Ct)).Counters;

        Assert.Equal([new BudgetCounterState(0m, 0m)], states);
        Assert.True((await store.TryReserveAsync(counters, Hold(1.00m), Ct)).Succeeded);
    }

    [Fact]
    public async Task SettleAsync_ConcurrentReservationsOnTheCounter_OnlyItsOwnAmountLeaves()
    {
        var store = Store();
        BudgetCounter[] counters = [Counter("a", 1.00m)];
        await store.TryReserveAsync(counters, Hold(0.30m), Ct);
        await store.TryReserveAsync(counters, Hold(0.20m), Ct);

        var states = (await store.SettleAsync(counters, Hold(0.30m), 0.10m, Ct)).Counters;

        Assert.Equal([new BudgetCounterState(0.10m, 0.20m)], states);
    }

    [Fact]
    public async Task GetAsync_UnknownKey_Zero()
    {
        var store = Store();

        Assert.Equal(new BudgetCounterState(0m, 0m), await store.GetAsync("never-seen", Ct));
    }

    [Fact]
    public async Task GetAsync_KeysDifferingInCase_AreDifferentCounters()
    {
        var store = Store();
        await store.TryReserveAsync([Counter("Acme", 1.00m)], Hold(0.40m), Ct);

        Assert.Equal(default, await store.GetAsync("acme", Ct));
        Assert.Equal(new BudgetCounterState(0m, 0.40m), await store.GetAsync("Acme", Ct));
    }

    [Fact]
    public async Task TryReserveAsync_50StartedTogether10CentsEachLimit1Dollar_Exactly10Succeed()
    {
        var store = Store();
        BudgetCounter[] counters = [Counter("global", 1.00m), Counter("customer|acme", 100.00m)];
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = Enumerable.Range(0, 50).Select(_ => Task.Run(
            async () =>
            {
                await gate.Task;
                return await store.TryReserveAsync(counters, Hold(0.10m), Ct);
            },
            Ct)).ToArray();

        gate.SetResult();
        var results = await Task.WhenAll(tasks);

        Assert.Equal(10, results.Count(r => r.Succeeded));
        Assert.All(results.Where(r => !r.Succeeded), r => Assert.Equal((0, new BudgetCounterState(0m, 1.00m)), (r.RefusedIndex, r.Refused)));
        Assert.Equal(new BudgetCounterState(0m, 1.00m), await store.GetAsync("global", Ct));
        Assert.Equal(new BudgetCounterState(0m, 1.00m), await store.GetAsync("customer|acme", Ct));
    }

    [Fact]
    public async Task ReserveAndSettle_ManyConcurrentCalls_FiguresAddUpExactly()
    {
        var store = Store();
        BudgetCounter[] counters = [Counter("a", 1_000_000m)];
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = Enumerable.Range(0, 200).Select(_ => Task.Run(
            async () =>
            {
                await gate.Task;
                Assert.True((await store.TryReserveAsync(counters, Hold(0.003m), Ct)).Succeeded);
                await store.SettleAsync(counters, Hold(0.003m), 0.001m, Ct);
            },
            Ct)).ToArray();

        gate.SetResult();
        await Task.WhenAll(tasks);

        Assert.Equal(new BudgetCounterState(0.200m, 0m), await store.GetAsync("a", Ct));
    }

    private static async Task OperateAsync(InMemoryBudgetStore store, int times)
    {
        var keepAlive = new BudgetCounter("keep-alive", 1_000m, Start.AddYears(1));
        for (var i = 0; i < times; i++)
        {
            await store.TryReserveAsync([keepAlive], Hold(0m), Ct);
        }
    }

    [Fact]
    public async Task TryReserveAsync_ManyOperationsAfterExpiry_SweepsExpiredCounters()
    {
        var time = new FakeTimeProvider(Start);
        var store = Store(time);
        var expiring = new BudgetCounter("hour|09", 1.00m, Start.AddHours(2));
        await store.TryReserveAsync([expiring], Hold(0.10m), Ct);
        await store.SettleAsync([expiring], Hold(0.10m), 0.10m, Ct);

        time.Advance(TimeSpan.FromHours(3));
        await OperateAsync(store, 1024);

        Assert.Equal(1, store.Count);
        Assert.Equal(default, await store.GetAsync("hour|09", Ct));
        Assert.Equal(new BudgetCounterState(0m, 0m), await store.GetAsync("keep-alive", Ct));
    }

    [Fact]
    public async Task TryReserveAsync_ManyOperationsBeforeExpiry_KeepsTheCounter()
    {
        var time = new FakeTimeProvider(Start);
        var store = Store(time);
        var expiring = new BudgetCounter("hour|09", 1.00m, Start.AddHours(2));
        await store.TryReserveAsync([expiring], Hold(0.10m), Ct);
        await store.SettleAsync([expiring], Hold(0.10m), 0.10m, Ct);

        time.Advance(TimeSpan.FromHours(1));
        await OperateAsync(store, 2048);

        Assert.Equal(2, store.Count);
        Assert.Equal(new BudgetCounterState(0.10m, 0m), await store.GetAsync("hour|09", Ct));
    }

    [Fact]
    public async Task TryReserveAsync_FewOperationsAfterExpiry_NotSweptYet()
    {
        var time = new FakeTimeProvider(Start);
        var store = Store(time);
        var expiring = new BudgetCounter("hour|09", 1.00m, Start.AddHours(2));
        await store.TryReserveAsync([expiring], Hold(0.10m), Ct);
        await store.SettleAsync([expiring], Hold(0.10m), 0.10m, Ct);

        time.Advance(TimeSpan.FromHours(3));
        await OperateAsync(store, 10);

        Assert.Equal(2, store.Count);
    }

    [Fact]
    public async Task TryReserveAsync_ExpiredCounterWithReservationInFlight_KeptUntilSettled()
    {
        var time = new FakeTimeProvider(Start);
        var store = Store(time);
        var expiring = new BudgetCounter("hour|09", 1.00m, Start.AddHours(2));
        await store.TryReserveAsync([expiring], Hold(0.10m), Ct);
        await store.TryReserveAsync([expiring], Hold(0.20m), Ct);
        await store.SettleAsync([expiring], Hold(0.20m), 0.15m, Ct);

        time.Advance(TimeSpan.FromHours(3));
        await OperateAsync(store, 2048);

        Assert.Equal(2, store.Count);
        Assert.Equal(new BudgetCounterState(0.15m, 0.10m), await store.GetAsync("hour|09", Ct));

        var states = (await store.SettleAsync([expiring], Hold(0.10m), 0.10m, Ct)).Counters;
        Assert.Equal([new BudgetCounterState(0.25m, 0m)], states);
        await OperateAsync(store, 1024);
        Assert.Equal(1, store.Count);
    }

    [Fact]
    public async Task TryReserveAsync_LaterExpiryFromAnotherCaller_Extends()
    {
        var time = new FakeTimeProvider(Start);
        var store = Store(time);
        await store.TryReserveAsync([new BudgetCounter("k", 1.00m, Start.AddHours(2))], Hold(0m), Ct);
        await store.TryReserveAsync([new BudgetCounter("k", 1.00m, Start.AddHours(10))], Hold(0.10m), Ct);
        await store.SettleAsync([new BudgetCounter("k", 1.00m, Start.AddHours(1))], Hold(0.10m), 0.10m, Ct);

        time.Advance(TimeSpan.FromHours(5));
        await OperateAsync(store, 2048);

        Assert.Equal(new BudgetCounterState(0.10m, 0m), await store.GetAsync("k", Ct));
    }

    [Fact]
    public async Task TryReserveAsync_NegativeAmount_Throws()
    {
        var store = Store();

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.TryReserveAsync([Counter("a", 1m)], Hold(-0.01m), Ct).AsTask());

        Assert.Equal(0, store.Count);
    }

    [Theory]
    [InlineData(-0.01, 0.0)]
    [InlineData(0.0, -0.01)]
    public async Task SettleAsync_NegativeAmount_ThrowsAndChangesNothing(double reserved, double actual)
    {
        var store = Store();
        BudgetCounter[] counters = [Counter("a", 1m)];
        await store.TryReserveAsync(counters, Hold(0.10m), Ct);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.SettleAsync(counters, Hold((decimal)reserved), (decimal)actual, Ct).AsTask());

        Assert.Equal(new BudgetCounterState(0m, 0.10m), await store.GetAsync("a", Ct));
    }

    [Fact]
    public async Task TryReserveAsync_NullCounters_Throws()
    {
        var store = Store();

        await Assert.ThrowsAsync<ArgumentNullException>(() => store.TryReserveAsync(null!, Hold(0m), Ct).AsTask());
    }

    [Fact]
    public async Task TryReserveAsync_CancelledToken_ThrowsAndReservesNothing()
    {
        var store = Store();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.TryReserveAsync([Counter("a", 1m)], Hold(0.10m), cancelled.Token).AsTask());

        Assert.Equal(0, store.Count);
        Assert.Equal(default, await store.GetAsync("a", Ct));
    }
}
