using AgentHarness.Redis.Internal;
using AgentHarness.Redis.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace AgentHarness.Redis.Tests;

/// <summary>The store's scripts and failure handling, against the real redis-server of the assembly.</summary>
public sealed class RedisBudgetStoreTests(RedisServer server)
{
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(5);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static BudgetCounter Counter(string key, decimal limit) => new(key, limit, DateTimeOffset.UtcNow.AddDays(2));

    private static BudgetReservation Hold(string id, decimal amount, TimeSpan? lease = null) => new(id, amount, lease ?? Lease);

    private RedisBudgetStore Store(string test, Action<RedisBudgetStoreOptions>? configure = null)
    {
        var options = new RedisBudgetStoreOptions { KeyPrefix = RedisServer.NewPrefix(test) };
        configure?.Invoke(options);
        return new RedisBudgetStore(RedisConnection.Shared(server.Connection), options, "AgentHarness:Redis", TimeProvider.System, NullLogger.Instance);
    }

    /// <summary>Polls the real server until the counter holds nothing in flight; the deadline only guards a broken lease.</summary>
    private static async Task<BudgetCounterState> WaitUntilNothingReservedAsync(IBudgetStore store, string key, TimeSpan deadline)
    {
        var until = DateTime.UtcNow + deadline;
        while (true)
        {
            var state = await store.GetAsync(key, Ct);
            if (state.ReservedUsd == 0m || DateTime.UtcNow > until)
            {
                return state;
            }

            await Task.Delay(20, Ct);
        }
    }

    [Fact]
    public async Task TryReserveAsync_AmountFits_ReservesOnEveryCounter()
    {
        var store = Store(nameof(TryReserveAsync_AmountFits_ReservesOnEveryCounter));

        var result = await store.TryReserveAsync([Counter("a", 1m), Counter("b", 5m)], Hold("r1", 0.40m), Ct);

        Assert.Equal(BudgetReserveResult.Success, result);
        Assert.Equal(new BudgetCounterState(0m, 0.40m), await store.GetAsync("a", Ct));
        Assert.Equal(new BudgetCounterState(0m, 0.40m), await store.GetAsync("b", Ct));
    }

    [Fact]
    public async Task TryReserveAsync_ExactlyAtTheLimit_FitsAndOnePicodollarMoreIsRefused()
    {
        var store = Store(nameof(TryReserveAsync_ExactlyAtTheLimit_FitsAndOnePicodollarMoreIsRefused));
        BudgetCounter[] counters = [Counter("a", 1m)];
        await store.TryReserveAsync(counters, Hold("r1", 0.30m), Ct);
        await store.SettleAsync(counters, Hold("r1", 0.30m), 0.30m, Ct);
        await store.TryReserveAsync(counters, Hold("r2", 0.20m), Ct);

        var over = await store.TryReserveAsync(counters, Hold("r3", 0.500000000001m), Ct);
        var exact = await store.TryReserveAsync(counters, Hold("r4", 0.50m), Ct);

        Assert.Equal(new BudgetReserveResult(false, 0, new BudgetCounterState(0.30m, 0.20m)), over);
        Assert.True(exact.Succeeded);
        Assert.Equal(new BudgetCounterState(0.30m, 0.70m), await store.GetAsync("a", Ct));
    }

    [Fact]
    public async Task TryReserveAsync_SecondCounterHasNoRoom_NeitherCounterChanges()
    {
        var store = Store(nameof(TryReserveAsync_SecondCounterHasNoRoom_NeitherCounterChanges));
        await store.TryReserveAsync([Counter("b", 1m)], Hold("r1", 0.90m), Ct);

        var result = await store.TryReserveAsync([Counter("a", 10m), Counter("b", 1m)], Hold("r2", 0.20m), Ct);

        Assert.Equal(new BudgetReserveResult(false, 1, new BudgetCounterState(0m, 0.90m)), result);
        Assert.Equal(default, await store.GetAsync("a", Ct));
        Assert.False(await server.Database.KeyExistsAsync(store.FiguresKey("a")));
        Assert.Equal(new BudgetCounterState(0m, 0.90m), await store.GetAsync("b", Ct));
    }

    [Fact]
    public async Task TryReserveAsync_SameIdTwice_ReservedOnce()
    {
        var store = Store(nameof(TryReserveAsync_SameIdTwice_ReservedOnce));
        BudgetCounter[] counters = [Counter("a", 1m)];

        await store.TryReserveAsync(counters, Hold("r1", 0.40m), Ct);
        var again = await store.TryReserveAsync(counters, Hold("r1", 0.40m), Ct);

        Assert.True(again.Succeeded);
        Assert.Equal(new BudgetCounterState(0m, 0.40m), await store.GetAsync("a", Ct));
    }

    [Fact]
    public async Task TryReserveAsync_IdAlreadyReleased_ReservesNothing()
    {
        var store = Store(nameof(TryReserveAsync_IdAlreadyReleased_ReservesNothing));
        BudgetCounter[] counters = [Counter("a", 1m)];

        // The release of a reserve that timed out on its way arrives first: the reserve must not land after it.
        await store.SettleAsync(counters, Hold("r1", 0.40m), 0m, Ct);

        await Assert.ThrowsAsync<InvalidOperationException>(() => store.TryReserveAsync(counters, Hold("r1", 0.40m), Ct).AsTask());
        Assert.Equal(default, await store.GetAsync("a", Ct));
    }

    [Fact]
    public async Task SettleAsync_AfterReserve_MovesReservedToSpentAndReturnsFiguresInOrder()
    {
        var store = Store(nameof(SettleAsync_AfterReserve_MovesReservedToSpentAndReturnsFiguresInOrder));
        await store.TryReserveAsync([Counter("b", 10m)], Hold("r0", 0.25m), Ct);
        await store.TryReserveAsync([Counter("a", 1m), Counter("b", 10m)], Hold("r1", 0.40m), Ct);

        var settled = await store.SettleAsync([Counter("a", 1m), Counter("b", 10m)], Hold("r1", 0.40m), 0.30m, Ct);

        Assert.False(settled.AlreadySettled);
        Assert.Equal(0.30m, settled.ChargedUsd);
        Assert.Equal([new BudgetCounterState(0.30m, 0m), new BudgetCounterState(0.30m, 0.25m)], settled.Counters);
    }

    [Fact]
    public async Task SettleAsync_SameIdTwice_AppliedOnce()
    {
        var store = Store(nameof(SettleAsync_SameIdTwice_AppliedOnce));
        BudgetCounter[] counters = [Counter("a", 1m)];
        await store.TryReserveAsync(counters, Hold("r1", 0.40m), Ct);
        await store.TryReserveAsync(counters, Hold("r2", 0.10m), Ct);
        await store.SettleAsync(counters, Hold("r1", 0.40m), 0.30m, Ct);

        var retried = await store.SettleAsync(counters, Hold("r1", 0.40m), 0.30m, Ct);

        Assert.True(retried.AlreadySettled);
        Assert.Empty(retried.Counters);
        Assert.Equal(new BudgetCounterState(0.30m, 0.10m), await store.GetAsync("a", Ct));
    }

    [Fact]
    public async Task SettleAsync_ChargeWithoutReservation_AddsSpendOnly()
    {
        var store = Store(nameof(SettleAsync_ChargeWithoutReservation_AddsSpendOnly));
        BudgetCounter[] counters = [Counter("a", 1m)];
        await store.TryReserveAsync(counters, Hold("r1", 0.40m), Ct);

        var settled = await store.SettleAsync(counters, Hold("c1", 0m), 0.05m, Ct);

        Assert.Equal([new BudgetCounterState(0.05m, 0.40m)], settled.Counters);
    }

    [Fact]
    public async Task TryReserveAsync_LeaseRunsOut_ReservationDroppedAndRoomBack()
    {
        var store = Store(nameof(TryReserveAsync_LeaseRunsOut_ReservationDroppedAndRoomBack));
        BudgetCounter[] counters = [Counter("a", 1m)];
        await store.TryReserveAsync(counters, Hold("dead", 0.80m, TimeSpan.FromMilliseconds(300)), Ct);
        Assert.False((await store.TryReserveAsync(counters, Hold("r2", 0.50m), Ct)).Succeeded);

        var state = await WaitUntilNothingReservedAsync(store, "a", TimeSpan.FromSeconds(10));

        Assert.Equal(default, state);
        Assert.True((await store.TryReserveAsync(counters, Hold("r3", 1m), Ct)).Succeeded);
        Assert.Equal(["r3|1|0"], (await server.Database.SortedSetRangeByRankAsync(store.LeasesKey("a"))).Select(static m => m.ToString()));
    }

    [Fact]
    public async Task SettleAsync_AfterItsLeaseRanOut_ChargesTheSpendAndLeavesOtherHolds()
    {
        var store = Store(nameof(SettleAsync_AfterItsLeaseRanOut_ChargesTheSpendAndLeavesOtherHolds));
        BudgetCounter[] counters = [Counter("a", 1m)];
        await store.TryReserveAsync(counters, Hold("slow", 0.50m, TimeSpan.FromMilliseconds(300)), Ct);
        await store.TryReserveAsync(counters, Hold("live", 0.20m), Ct);
        var until = DateTime.UtcNow.AddSeconds(10);
        while ((await store.GetAsync("a", Ct)).ReservedUsd != 0.20m && DateTime.UtcNow < until)
        {
            await Task.Delay(20, Ct);
        }

        var settled = await store.SettleAsync(counters, Hold("slow", 0.50m, TimeSpan.FromMilliseconds(300)), 0.45m, Ct);

        // Its hold was gone already: the settle takes nothing off the live reservation's.
        Assert.Equal([new BudgetCounterState(0.45m, 0.20m)], settled.Counters);
    }

    [Fact]
    public async Task SettleAsync_AmountsPastWhatADoubleHoldsInPicodollars_ExactToThePicodollar()
    {
        var store = Store(nameof(SettleAsync_AmountsPastWhatADoubleHoldsInPicodollars_ExactToThePicodollar));
        BudgetCounter[] counters = [Counter("a", 100_000_000m)];

        // $9,007 is 2^53 picodollars: past it a double cannot count single picodollars.
        await store.SettleAsync(counters, Hold("c1", 0m), 12_345_678.999999999999m, Ct);
        await store.SettleAsync(counters, Hold("c2", 0m), 0.000000000001m, Ct);
        var settled = await store.SettleAsync(counters, Hold("c3", 0m), 0.000000000002m, Ct);

        Assert.Equal(12_345_679.000000000002m, Assert.Single(settled.Counters).SpentUsd);
        Assert.False((await store.TryReserveAsync(counters, Hold("r1", 87_654_320.999999999999m), Ct)).Succeeded);
        Assert.True((await store.TryReserveAsync(counters, Hold("r2", 87_654_320.999999999998m), Ct)).Succeeded);
    }

    [Fact]
    public async Task SettleAsync_BelowAPicodollar_RoundedUpToOne()
    {
        var store = Store(nameof(SettleAsync_BelowAPicodollar_RoundedUpToOne));

        var settled = await store.SettleAsync([Counter("a", 1m)], Hold("c1", 0m), 0.0000000000001m, Ct);

        Assert.Equal(0.000000000001m, settled.ChargedUsd);
        Assert.Equal(0.000000000001m, Assert.Single(settled.Counters).SpentUsd);
    }

    [Fact]
    public async Task TryReserveAsync_NewCounter_ExpiresWithItsWindowAndSettlesAreRememberedForTheRetryWindow()
    {
        var store = Store(nameof(TryReserveAsync_NewCounter_ExpiresWithItsWindowAndSettlesAreRememberedForTheRetryWindow), o => o.SettleRetryWindow = TimeSpan.FromMinutes(10));
        BudgetCounter[] counters = [new("a", 1m, DateTimeOffset.UtcNow.AddHours(3))];

        await store.TryReserveAsync(counters, Hold("r1", 0.10m), Ct);
        var leases = await server.Database.KeyTimeToLiveAsync(store.LeasesKey("a"));
        await store.SettleAsync(counters, Hold("r1", 0.10m), 0.10m, Ct);

        var figures = await server.Database.KeyTimeToLiveAsync(store.FiguresKey("a"));
        var tombstone = await server.Database.KeyTimeToLiveAsync(store.TombstoneKey("r1"));
        Assert.InRange(figures!.Value, TimeSpan.FromHours(2.9), TimeSpan.FromHours(3));
        Assert.InRange(leases!.Value, TimeSpan.FromHours(2.9), TimeSpan.FromHours(3));
        Assert.InRange(tombstone!.Value, TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(11));
        Assert.False(await server.Database.KeyExistsAsync(store.LeasesKey("a")));
    }

    [Fact]
    public async Task GetAsync_UnknownCounter_Zero()
    {
        Assert.Equal(default, await Store(nameof(GetAsync_UnknownCounter_Zero)).GetAsync("nothing", Ct));
    }

    [Fact]
    public async Task TryReserveAsync_ManyConcurrentFromTwoConnections_NeverPastTheLimit()
    {
        var prefix = RedisServer.NewPrefix(nameof(TryReserveAsync_ManyConcurrentFromTwoConnections_NeverPastTheLimit));
        await using var other = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString);
        var stores = new[] { server.Connection, other }.Select(m => new RedisBudgetStore(RedisConnection.Shared(m), new RedisBudgetStoreOptions { KeyPrefix = prefix }, "AgentHarness:Redis", TimeProvider.System, NullLogger.Instance)).ToArray();
        BudgetCounter[] counters = [Counter("a", 1m)];

        var results = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => stores[i % 2].TryReserveAsync(counters, Hold($"r{i}", 0.01m), Ct).AsTask()));

        Assert.Equal(100, results.Count(static r => r.Succeeded));
        Assert.Equal(new BudgetCounterState(0m, 1m), await stores[1].GetAsync("a", Ct));
    }

    [Fact]
    public async Task TryReserveAsync_RedisUnreachableFailClosed_ThrowsBudgetStoreUnavailableNamingTheSetting()
    {
        await using var store = new RedisBudgetStore(
            RedisConnection.Open($"127.0.0.1:{RedisServer.FreePort()},connectTimeout=200"),
            new RedisBudgetStoreOptions { KeyPrefix = "down", OperationTimeout = TimeSpan.FromMilliseconds(300) },
            "App:Redis",
            TimeProvider.System,
            NullLogger.Instance);

        var ex = await Assert.ThrowsAsync<BudgetStoreUnavailableException>(() => store.TryReserveAsync([Counter("a", 1m)], Hold("r1", 0.10m), Ct).AsTask());

        Assert.Contains("could not be reached", ex.Message, StringComparison.Ordinal);
        Assert.Contains("App:Redis:WhenUnavailable is FailClosed", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, store.RefusedUnavailable);
        Assert.Equal(0, store.FailedOpen);
    }

    [Fact]
    public async Task SettleAsync_FailedOpenWhileRedisWasDown_ItsSpendReachesRedisOnceItIsUp()
    {
        var port = RedisServer.FreePort();
        await using var store = new RedisBudgetStore(
            RedisConnection.Open($"127.0.0.1:{port},connectTimeout=200,connectRetry=1"),
            new RedisBudgetStoreOptions { KeyPrefix = "outage", OperationTimeout = TimeSpan.FromMilliseconds(300), WhenUnavailable = RedisUnavailableBehavior.FailOpen },
            "AgentHarness:Redis",
            TimeProvider.System,
            NullLogger.Instance);
        BudgetCounter[] counters = [Counter("a", 1m)];

        var first = await store.TryReserveAsync(counters, Hold("r1", 0.60m), Ct);
        var second = await store.TryReserveAsync(counters, Hold("r2", 0.60m), Ct);
        var settle = store.SettleAsync(counters, Hold("r1", 0.60m), 0.25m, Ct).AsTask();
        Assert.True(first.Succeeded);
        Assert.False(second.Succeeded);
        Assert.Equal(2, store.FailedOpen);
        Assert.False(settle.IsCompleted);

        var (process, directory, _) = await RedisServer.StartAsync(port);
        try
        {
            // The store reconnects on its own; the deadline only guards a store that never does.
            var settled = await settle.WaitAsync(TimeSpan.FromSeconds(30), Ct);

            Assert.Equal([new BudgetCounterState(0.25m, 0m)], settled.Counters);
            Assert.Equal(new BudgetCounterState(0.25m, 0m), await store.GetAsync("a", Ct));
            Assert.Equal(0, store.PendingSettles);
            Assert.True((await store.TryReserveAsync(counters, Hold("r3", 0.75m), Ct)).Succeeded);
        }
        finally
        {
            RedisServer.Stop(process, directory);
        }
    }

    [Fact]
    public async Task SettleAsync_StoreDisposedWhileTheSettleWaitsToRetry_CountedAndLoggedAsLost()
    {
        var port = RedisServer.FreePort();
        var time = new AgentHarness.Tests.Support.ObservableTimeProvider(DateTimeOffset.UtcNow);
        var logs = new Microsoft.Extensions.Logging.Testing.FakeLogCollector();
        var store = new RedisBudgetStore(
            RedisConnection.Open($"127.0.0.1:{port},connectTimeout=200,connectRetry=1"),
            new RedisBudgetStoreOptions { KeyPrefix = "shutdown", OperationTimeout = TimeSpan.FromMilliseconds(300), WhenUnavailable = RedisUnavailableBehavior.FailOpen },
            "AgentHarness:Redis",
            time,
            new Microsoft.Extensions.Logging.Testing.FakeLogger(logs));
        BudgetCounter[] counters = [Counter("a", 1m)];
        Assert.True((await store.TryReserveAsync(counters, Hold("r1", 0.60m), Ct)).Succeeded);

        // Redis is down: the settle's first attempt failed and it waits to retry, as a replica's do when it is shut down in an outage.
        var settle = store.SettleAsync(counters, Hold("r1", 0.60m), 0.25m, Ct).AsTask();
        await time.WaitForTimerAsync(TimeSpan.FromMilliseconds(50), Ct);
        Assert.Equal(1, store.PendingSettles);
        await store.DisposeAsync();

        await Assert.ThrowsAsync<BudgetStoreUnavailableException>(() => settle);
        Assert.Equal((1, 0), (store.LostSettles, store.PendingSettles));
        Assert.Contains(logs.GetSnapshot(), static r => r.Message.Contains("r1", StringComparison.Ordinal) && r.Level == Microsoft.Extensions.Logging.LogLevel.Error);
    }
}
