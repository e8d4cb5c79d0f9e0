using AgentHarness.Routing.Internal;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace AgentHarness.Tests.Routing;

public sealed class CooldownTrackerTests
{
    private const string Key = "openai/gpt-4.1";
    private const string Other = "mistral/mistral-small";
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(30);

    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void TryAcquire_UnknownKey_AcquiresWithoutProbe()
    {
        var tracker = Create();

        Assert.True(tracker.TryAcquire(Key, out var isProbe));
        Assert.False(isProbe);
        Assert.True(tracker.IsAvailable(Key));
        Assert.Null(tracker.RemainingCooldown(Key));
    }

    [Fact]
    public void ReportFailure_BelowThreshold_StaysClosed()
    {
        var tracker = Create();

        tracker.ReportFailure(Key, isProbe: false);
        tracker.ReportFailure(Key, isProbe: false);

        Assert.True(tracker.TryAcquire(Key, out var isProbe));
        Assert.False(isProbe);
        Assert.Null(tracker.RemainingCooldown(Key));
    }

    [Fact]
    public void ReportFailure_AtThreshold_OpensAndNoCallIsAcquired()
    {
        var tracker = Create();
        Open(tracker, Key);

        var acquired = 0;
        for (var i = 0; i < 100; i++)
        {
            acquired += tracker.TryAcquire(Key, out _) ? 1 : 0;
        }

        Assert.Equal(0, acquired);
        Assert.False(tracker.IsAvailable(Key));
        Assert.Equal(Period, tracker.RemainingCooldown(Key));
    }

    [Fact]
    public void RemainingCooldown_WhileOpen_CountsDownThenNull()
    {
        var tracker = Create();
        Open(tracker, Key);

        _time.Advance(TimeSpan.FromSeconds(12));
        Assert.Equal(TimeSpan.FromSeconds(18), tracker.RemainingCooldown(Key));

        _time.Advance(TimeSpan.FromSeconds(18));
        Assert.Null(tracker.RemainingCooldown(Key));
        Assert.True(tracker.IsAvailable(Key));
    }

    [Fact]
    public void ReportSuccess_BetweenFailures_ResetsConsecutiveCount()
    {
        var tracker = Create();

        tracker.ReportFailure(Key, isProbe: false);
        tracker.ReportFailure(Key, isProbe: false);
        tracker.ReportSuccess(Key, isProbe: false);
        tracker.ReportFailure(Key, isProbe: false);
        tracker.ReportFailure(Key, isProbe: false);

        Assert.True(tracker.TryAcquire(Key, out _));
        tracker.ReportFailure(Key, isProbe: false);
        Assert.False(tracker.TryAcquire(Key, out _));
    }

    [Fact]
    public void TryAcquire_PeriodNotYetElapsed_ReturnsFalse()
    {
        var tracker = Create();
        Open(tracker, Key);

        _time.Advance(Period - TimeSpan.FromTicks(1));

        Assert.False(tracker.TryAcquire(Key, out var isProbe));
        Assert.False(isProbe);
    }

    [Fact]
    public void TryAcquire_AfterPeriod_GrantsExactlyOneProbe()
    {
        var tracker = Create();
        Open(tracker, Key);
        _time.Advance(Period);

        Assert.True(tracker.TryAcquire(Key, out var isProbe));
        Assert.True(isProbe);
        for (var i = 0; i < 10; i++)
        {
            Assert.False(tracker.TryAcquire(Key, out var again));
            Assert.False(again);
        }

        Assert.False(tracker.IsAvailable(Key));
        Assert.Equal(TimeSpan.Zero, tracker.RemainingCooldown(Key));
    }

    [Fact]
    public void ReportSuccess_OnProbe_Closes()
    {
        var tracker = Create();
        Open(tracker, Key);
        _time.Advance(Period);
        Assert.True(tracker.TryAcquire(Key, out var isProbe));
        Assert.True(isProbe);

        tracker.ReportSuccess(Key, isProbe: true);

        for (var i = 0; i < 10; i++)
        {
            Assert.True(tracker.TryAcquire(Key, out var again));
            Assert.False(again);
        }

        Assert.Null(tracker.RemainingCooldown(Key));

        // Closing reset the count: it takes a full run of failures to open again.
        tracker.ReportFailure(Key, isProbe: false);
        tracker.ReportFailure(Key, isProbe: false);
        Assert.True(tracker.TryAcquire(Key, out _));
    }

    [Fact]
    public void ReportFailure_OnProbe_ReopensForFullPeriod()
    {
        var tracker = Create();
        Open(tracker, Key);
        _time.Advance(Period);
        Assert.True(tracker.TryAcquire(Key, out _));

        tracker.ReportFailure(Key, isProbe: true);

        Assert.Equal(Period, tracker.RemainingCooldown(Key));
        _time.Advance(Period - TimeSpan.FromTicks(1));
        Assert.False(tracker.TryAcquire(Key, out _));

        _time.Advance(TimeSpan.FromTicks(1));
        Assert.True(tracker.TryAcquire(Key, out var isProbe));
        Assert.True(isProbe);
    }

    [Fact]
    public void ReportFailure_WhileCoolingDown_DoesNotExtendPeriod()
    {
        var tracker = Create();
        Open(tracker, Key);
        _time.Advance(TimeSpan.FromSeconds(20));

        // Calls that started before the cooldown opened fail late.
        tracker.ReportFailure(Key, isProbe: false);
        tracker.ReportFailure(Key, isProbe: false);
        tracker.ReportFailure(Key, isProbe: false);

        Assert.Equal(TimeSpan.FromSeconds(10), tracker.RemainingCooldown(Key));
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(tracker.TryAcquire(Key, out var isProbe));
        Assert.True(isProbe);
    }

    [Fact]
    public void ReportSuccess_WhileCoolingDown_DoesNotEndPeriodEarly()
    {
        var tracker = Create();
        Open(tracker, Key);
        _time.Advance(TimeSpan.FromSeconds(5));

        tracker.ReportSuccess(Key, isProbe: false);

        Assert.False(tracker.TryAcquire(Key, out _));
        Assert.Equal(TimeSpan.FromSeconds(25), tracker.RemainingCooldown(Key));
    }

    [Fact]
    public void ReportFailure_NotTheProbeWhileProbing_DoesNotReopen()
    {
        var tracker = Create();
        Open(tracker, Key);
        _time.Advance(Period);
        Assert.True(tracker.TryAcquire(Key, out var isProbe));
        Assert.True(isProbe);

        // A call that started before the cooldown fails while the probe is in flight.
        tracker.ReportFailure(Key, isProbe: false);

        Assert.Equal(TimeSpan.Zero, tracker.RemainingCooldown(Key));
        tracker.ReportSuccess(Key, isProbe: true);
        Assert.True(tracker.TryAcquire(Key, out var again));
        Assert.False(again);
        Assert.Null(tracker.RemainingCooldown(Key));
    }

    [Fact]
    public void ReportSuccess_NotTheProbeWhileProbing_DoesNotClose()
    {
        var tracker = Create();
        Open(tracker, Key);
        _time.Advance(Period);
        Assert.True(tracker.TryAcquire(Key, out var isProbe));
        Assert.True(isProbe);

        tracker.ReportSuccess(Key, isProbe: false);

        for (var i = 0; i < 10; i++)
        {
            Assert.False(tracker.TryAcquire(Key, out _));
        }

        // The probe still decides: its failure reopens the cooldown for a full period.
        tracker.ReportFailure(Key, isProbe: true);
        Assert.Equal(Period, tracker.RemainingCooldown(Key));
    }

    [Fact]
    public void ReportSuccess_AfterFailures_RemovesTheKeysState()
    {
        var tracker = Create();
        tracker.ReportFailure(Key, isProbe: false);
        tracker.ReportFailure(Other, isProbe: false);
        Assert.Equal(2, tracker.Count);

        tracker.ReportSuccess(Key, isProbe: false);

        Assert.Equal(1, tracker.Count);
        Open(tracker, Other);
        _time.Advance(Period);
        Assert.True(tracker.TryAcquire(Other, out var isProbe));
        tracker.ReportSuccess(Other, isProbe);
        Assert.Equal(0, tracker.Count);
    }

    [Fact]
    public void ReportFailure_TenThousandDistinctFailingKeys_HoldsAtMostTheCapacity()
    {
        var tracker = Create();
        var most = 0;
        for (var i = 0; i < 10_000; i++)
        {
            tracker.ReportFailure($"gateway/made-up-{i}", isProbe: false);
            most = Math.Max(most, tracker.Count);
        }

        Assert.Equal(CooldownTracker.DefaultCapacity, most);

        // Partial counts are dropped to make room, but a real failing key still cools down.
        Open(tracker, Key);
        Assert.False(tracker.TryAcquire(Key, out _));
    }

    [Fact]
    public void ReportFailure_FullOfRunningCooldowns_KeepsThemAndSweepsThemOnceOver()
    {
        var tracker = new CooldownTracker(_time, 1, Period, capacity: 100);
        for (var i = 0; i < 10_000; i++)
        {
            tracker.ReportFailure($"gateway/made-up-{i}", isProbe: false);
            Assert.True(tracker.Count <= 100);
        }

        // The first hundred still cool down; the rest could not be stored.
        Assert.False(tracker.TryAcquire("gateway/made-up-0", out _));
        Assert.False(tracker.TryAcquire("gateway/made-up-99", out _));
        Assert.True(tracker.TryAcquire("gateway/made-up-100", out _));

        // Once their period is over they make room for new keys.
        _time.Advance(Period);
        tracker.ReportFailure(Key, isProbe: false);
        Assert.False(tracker.TryAcquire(Key, out _));
        Assert.Equal(1, tracker.Count);
    }

    [Fact]
    public void Keys_AreIndependent()
    {
        var tracker = Create();
        tracker.ReportFailure(Other, isProbe: false);
        tracker.ReportFailure(Other, isProbe: false);
        Open(tracker, Key);

        Assert.False(tracker.TryAcquire(Key, out _));
        Assert.True(tracker.TryAcquire(Other, out var isProbe));
        Assert.False(isProbe);
        Assert.Null(tracker.RemainingCooldown(Other));

        // Other's count is its own: one more failure opens it, Key's probe is unaffected.
        tracker.ReportFailure(Other, isProbe: false);
        Assert.False(tracker.TryAcquire(Other, out _));
        _time.Advance(Period);
        Assert.True(tracker.TryAcquire(Key, out var keyProbe));
        Assert.True(keyProbe);
        tracker.ReportSuccess(Key, isProbe: true);
        Assert.True(tracker.TryAcquire(Other, out var otherProbe));
        Assert.True(otherProbe);
    }

    [Fact]
    public async Task TryAcquire_ConcurrentAfterPeriod_ExactlyOneProbe()
    {
        const int Callers = 16;
        var tracker = Create();
        Open(tracker, Key);
        _time.Advance(Period);

        using var barrier = new Barrier(Callers);
        var acquired = 0;
        var probes = 0;
        var tasks = new Task[Callers];
        for (var i = 0; i < Callers; i++)
        {
            // Dedicated threads, so all 16 reach the barrier without waiting for the pool to grow.
            tasks[i] = Task.Factory.StartNew(
                () =>
                {
                    barrier.SignalAndWait(TestContext.Current.CancellationToken);
                    if (tracker.TryAcquire(Key, out var isProbe))
                    {
                        Interlocked.Increment(ref acquired);
                        if (isProbe)
                        {
                            Interlocked.Increment(ref probes);
                        }
                    }
                },
                TestContext.Current.CancellationToken,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);
        }

        await Task.WhenAll(tasks);

        Assert.Equal(1, acquired);
        Assert.Equal(1, probes);
    }

    [Fact]
    public void ReleaseProbe_FreesProbeWithoutCounting()
    {
        var tracker = Create();
        Open(tracker, Key);
        _time.Advance(Period);
        Assert.True(tracker.TryAcquire(Key, out var first));
        Assert.True(first);
        Assert.False(tracker.TryAcquire(Key, out _));

        tracker.ReleaseProbe(Key);

        // No new period: the next caller can probe immediately.
        Assert.Null(tracker.RemainingCooldown(Key));
        Assert.True(tracker.TryAcquire(Key, out var second));
        Assert.True(second);
        Assert.False(tracker.TryAcquire(Key, out _));
        tracker.ReportSuccess(Key, isProbe: true);
        Assert.True(tracker.TryAcquire(Key, out var third));
        Assert.False(third);
    }

    [Fact]
    public void ReleaseProbe_NoProbeInFlight_DoesNothing()
    {
        var tracker = Create();
        tracker.ReleaseProbe(Key);
        Assert.True(tracker.TryAcquire(Key, out _));

        Open(tracker, Key);
        tracker.ReleaseProbe(Key);
        Assert.False(tracker.TryAcquire(Key, out _));
        Assert.Equal(Period, tracker.RemainingCooldown(Key));
    }

    [Fact]
    public void FailuresBeforeCooldownOfOne_FirstFailureOpens()
    {
        var tracker = new CooldownTracker(_time, 1, Period);

        tracker.ReportFailure(Key, isProbe: false);

        Assert.False(tracker.TryAcquire(Key, out _));
    }

    [Fact]
    public void Constructor_InvalidArguments_Throw()
    {
        Assert.Throws<ArgumentNullException>(() => new CooldownTracker(null!, 3, Period));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CooldownTracker(_time, 0, Period));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CooldownTracker(_time, 3, TimeSpan.FromTicks(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CooldownTracker(_time, 3, Period, capacity: 0));
    }

    [Fact]
    public void ClosedKey_HotPath_AllocatesNothing()
    {
        var tracker = Create();
        tracker.ReportFailure(Key, isProbe: false);
        tracker.ReportSuccess(Key, isProbe: false);
        Exercise(tracker);

        var before = GC.GetAllocatedBytesForCurrentThread();
        Exercise(tracker);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);

        static void Exercise(CooldownTracker tracker)
        {
            for (var i = 0; i < 1_000; i++)
            {
                _ = tracker.TryAcquire(Key, out _);
                _ = tracker.TryAcquire(Other, out _);
                _ = tracker.IsAvailable(Key);
                tracker.ReportSuccess(Key, isProbe: false);
                tracker.ReportSuccess(Other, isProbe: false);
            }
        }
    }

    [Fact]
    public void TryAcquire_CoolingDownInAnotherProcess_HeldBackForTheRestOfItsPeriod()
    {
        var shared = new FakeSharedCooldowns();
        var tracker = new CooldownTracker(_time, 3, Period, shared: shared);
        shared.Elsewhere[Key] = TimeSpan.FromSeconds(10);

        Assert.False(tracker.IsAvailable(Key));
        Assert.False(tracker.TryAcquire(Key, out _));
        Assert.Equal(TimeSpan.FromSeconds(10), tracker.RemainingCooldown(Key));
        Assert.True(tracker.TryAcquire(Other, out _));

        // The other process's period ends and its probe's verdict is awaited: the probe is taken across processes.
        shared.Elsewhere[Key] = TimeSpan.Zero;
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(tracker.TryAcquire(Key, out var isProbe));
        Assert.True(isProbe);
        Assert.Equal([Key], shared.ProbesTaken);
    }

    [Fact]
    public void TryAcquire_AnotherProcessesProbeSucceeded_ClosedHereWithoutAProbe()
    {
        var shared = new FakeSharedCooldowns();
        var tracker = new CooldownTracker(_time, 3, Period, shared: shared);
        shared.Elsewhere[Key] = TimeSpan.FromSeconds(10);
        Assert.False(tracker.TryAcquire(Key, out _));

        shared.Elsewhere.Clear();
        _time.Advance(TimeSpan.FromSeconds(10));

        Assert.True(tracker.TryAcquire(Key, out var isProbe));
        Assert.False(isProbe);
        Assert.Empty(shared.ProbesTaken);
        Assert.Equal(0, tracker.Count);
    }

    [Fact]
    public void TryAcquire_AnotherProcessHasTheProbe_NotAcquired()
    {
        var shared = new FakeSharedCooldowns { ProbeFree = false };
        var tracker = new CooldownTracker(_time, 3, Period, shared: shared);
        Open(tracker, Key);
        _time.Advance(Period);

        Assert.False(tracker.TryAcquire(Key, out _));

        shared.ProbeFree = true;
        Assert.True(tracker.TryAcquire(Key, out var isProbe));
        Assert.True(isProbe);
    }

    [Fact]
    public void ReportFailure_OpensAndProbeOutcomes_ToldToTheOtherProcesses()
    {
        var shared = new FakeSharedCooldowns();
        var tracker = new CooldownTracker(_time, 3, Period, shared: shared);

        Open(tracker, Key);
        _time.Advance(Period);
        tracker.TryAcquire(Key, out _);
        tracker.ReleaseProbe(Key);
        tracker.TryAcquire(Key, out _);
        tracker.ReportFailure(Key, isProbe: true);
        _time.Advance(Period);
        tracker.TryAcquire(Key, out _);
        tracker.ReportSuccess(Key, isProbe: true);

        Assert.Equal(["opened " + Key, "released " + Key, "opened " + Key, "closed " + Key], shared.Told);
    }

    [Fact]
    public void TryAcquire_WithoutSharedCooldowns_EachTrackerAlone()
    {
        var shared = new FakeSharedCooldowns();
        shared.Elsewhere[Key] = Period;
        var alone = Create();

        Assert.True(alone.TryAcquire(Key, out _));
    }

    private CooldownTracker Create() => new(_time, 3, Period);

    private sealed class FakeSharedCooldowns : ISharedCooldowns
    {
        public Dictionary<string, TimeSpan> Elsewhere { get; } = new(StringComparer.Ordinal);

        public List<string> Told { get; } = [];

        public List<string> ProbesTaken { get; } = [];

        public bool ProbeFree { get; set; } = true;

        public TimeSpan? CoolingDownElsewhere(string key) => Elsewhere.TryGetValue(key, out var remaining) ? remaining : null;

        public void Opened(string key, TimeSpan period) => Told.Add("opened " + key);

        public void Closed(string key) => Told.Add("closed " + key);

        public bool TryTakeProbe(string key)
        {
            if (ProbeFree)
            {
                ProbesTaken.Add(key);
            }

            return ProbeFree;
        }

        public void ReleaseProbe(string key) => Told.Add("released " + key);
    }

    private static void Open(CooldownTracker tracker, string key)
    {
        for (var i = 0; i < 3; i++)
        {
            tracker.ReportFailure(key, isProbe: false);
        }
    }
}
