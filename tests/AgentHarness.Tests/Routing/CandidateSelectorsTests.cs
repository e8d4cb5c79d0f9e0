using AgentHarness.Routing.Internal;
using Xunit;

namespace AgentHarness.Tests.Routing;

public sealed class CandidateSelectorsTests
{
    private static readonly CandidateMember[] Four =
    [
        new("openai/gpt-4.1", 1, 3),
        new("mistral/mistral-small", 1, 1),
        new("anthropic/claude", 1, 2),
        new("openai/gpt-4.1-mini", 1, 0),
    ];

    private static readonly CandidateMember[] ThreeToOne =
    [
        new("openai/gpt-4.1", 3, 0),
        new("mistral/mistral-small", 1, 0),
    ];

    [Fact]
    public void Fallback_OrdersByConfiguration()
    {
        var selector = new FallbackSelector(Four);

        Assert.Equal([0, 1, 2, 3], Order(selector));
    }

    [Fact]
    public void Fallback_UnavailableMembersGoLastInTheirOrder()
    {
        var selector = new FallbackSelector(Four);
        Span<int> order = stackalloc int[4];

        var availableCount = selector.Order([false, true, false, true], order);

        Assert.Equal(2, availableCount);
        Assert.Equal([1, 3, 0, 2], order.ToArray());
    }

    [Fact]
    public void Order_NoMemberAvailable_ListsAllInStrategyOrder()
    {
        var selector = new LowestCostSelector(Four);
        Span<int> order = stackalloc int[4];

        var availableCount = selector.Order([false, false, false, false], order);

        Assert.Equal(0, availableCount);
        Assert.Equal([3, 1, 2, 0], order.ToArray());
    }

    [Fact]
    public void Order_LargerSpan_FillsOnlyCount()
    {
        var selector = new FallbackSelector(ThreeToOne);
        Span<int> order = [-1, -1, -1, -1];

        Assert.Equal(2, selector.Order([], order));
        Assert.Equal([0, 1, -1, -1], order.ToArray());
    }

    [Fact]
    public void Order_BadSpans_Throw()
    {
        var selector = new FallbackSelector(Four);

        Assert.Throws<ArgumentException>(() => selector.Order([], new int[3]));
        Assert.Throws<ArgumentException>(() => selector.Order([true, true], new int[4]));
    }

    [Fact]
    public void Constructors_InvalidMembers_Throw()
    {
        Assert.Throws<ArgumentException>(() => new FallbackSelector([]));
        Assert.Throws<ArgumentException>(() => new FallbackSelector([new(string.Empty, 1, 0)]));
        Assert.Throws<ArgumentException>(() => new WeightedSelector([new("a", 0, 0)]));
        Assert.Throws<ArgumentException>(() => new WeightedSelector([new("a", -1, 0)]));
        Assert.Throws<ArgumentException>(() => new WeightedSelector([new("a", double.NaN, 0)]));
        Assert.Throws<ArgumentException>(() => new WeightedSelector([new("a", double.PositiveInfinity, 0)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LowestLatencySelector(Four, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LowestLatencySelector(Four, 1.5));
    }

    [Fact]
    public void Weighted_ThreeToOne_Over4000Calls_Within3Percent()
    {
        var random = new Random(12345);
        var selector = new WeightedSelector(ThreeToOne, random.NextDouble);
        var firsts = new int[2];
        Span<int> order = stackalloc int[2];

        for (var i = 0; i < 4_000; i++)
        {
            selector.Order([], order);
            firsts[order[0]]++;
        }

        Assert.InRange(firsts[0] / 4_000d, 0.72, 0.78);
        Assert.InRange(firsts[1] / 4_000d, 0.22, 0.28);
    }

    [Fact]
    public void Weighted_FirstByCumulativeWeight_RestByDescendingWeight()
    {
        CandidateMember[] members = [new("a", 1, 0), new("b", 3, 0), new("c", 2, 0)];
        var u = 0d;
        var selector = new WeightedSelector(members, () => u);

        // Cumulative in configured order over a total of 6: a = [0, 1), b = [1, 4), c = [4, 6).
        u = 0.0;
        Assert.Equal([0, 1, 2], Order(selector));
        u = 1.5 / 6;
        Assert.Equal([1, 2, 0], Order(selector));
        u = 4.5 / 6;
        Assert.Equal([2, 1, 0], Order(selector));
        u = 0.9999999999;
        Assert.Equal([2, 1, 0], Order(selector));
    }

    [Fact]
    public void Weighted_DrawsOnlyAmongAvailable()
    {
        CandidateMember[] members = [new("a", 1, 0), new("b", 3, 0), new("c", 2, 0)];
        var u = 0d;
        var selector = new WeightedSelector(members, () => u);
        Span<int> order = stackalloc int[3];

        // b is out: the total is a + c = 3, so u = 0.5 lands on c, not on a member after b.
        u = 0.5;
        Assert.Equal(2, selector.Order([true, false, true], order));
        Assert.Equal([2, 0, 1], order.ToArray());
        u = 0.2;
        Assert.Equal(2, selector.Order([true, false, true], order));
        Assert.Equal([0, 2, 1], order.ToArray());
    }

    [Fact]
    public void Weighted_MemberUnavailable_AllTrafficToTheOther()
    {
        var selector = new WeightedSelector(ThreeToOne, new Random(7).NextDouble);
        Span<int> order = stackalloc int[2];

        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(1, selector.Order([false, true], order));
            Assert.Equal([1, 0], order.ToArray());
        }
    }

    [Fact]
    public void Sticky_SameKey_AlwaysSameMember()
    {
        // The random source must not be consulted for sticky calls.
        var selector = new WeightedSelector(Four, () => throw new InvalidOperationException("no draw expected"));
        var first = Order(selector, "conversation-42");

        for (var i = 0; i < 1_000; i++)
        {
            Assert.Equal(first, Order(selector, "conversation-42"));
        }

        // Another selector (another process, after a restart) agrees: nothing depends on per-process state.
        Assert.Equal(first, Order(new WeightedSelector(Four), "conversation-42"));
    }

    [Fact]
    public void Sticky_ManyKeys_RespectWeightsWithin5Percent()
    {
        var selector = new WeightedSelector(ThreeToOne);
        var firsts = new int[2];

        for (var i = 0; i < 1_000; i++)
        {
            firsts[Order(selector, $"user-{i}")[0]]++;
        }

        Assert.InRange(firsts[0] / 1_000d, 0.70, 0.80);
        Assert.InRange(firsts[1] / 1_000d, 0.20, 0.30);
    }

    [Fact]
    public void Sticky_EqualWeights_SpreadEvenly()
    {
        var selector = new WeightedSelector(Four);
        var firsts = new int[4];

        for (var i = 0; i < 4_000; i++)
        {
            firsts[Order(selector, $"tenant-{i}")[0]]++;
        }

        Assert.All(firsts, count => Assert.InRange(count, 900, 1_100));
    }

    [Fact]
    public void Sticky_MemberUnavailable_ItsKeysMoveToTheirNextBest_OthersStay()
    {
        var selector = new WeightedSelector(Four);
        Span<int> order = stackalloc int[4];
        var movedKeys = 0;

        for (var i = 0; i < 1_000; i++)
        {
            var key = $"user-{i}";
            var healthy = Order(selector, key);

            var availableCount = selector.Order([true, false, true, true], order, key);

            Assert.Equal(3, availableCount);
            Assert.Equal(1, order[3]);
            if (healthy[0] == 1)
            {
                // Moves to its own second choice, and the rest keeps the key's order.
                movedKeys++;
                Assert.Equal(healthy[1..], order[..3].ToArray());
            }
            else
            {
                Assert.Equal(healthy[0], order[0]);
            }
        }

        Assert.InRange(movedKeys, 200, 300);
    }

    [Fact]
    public void Sticky_MemberAdded_OnlyKeysWonByTheNewMemberMove()
    {
        var selector = new WeightedSelector(Four[..3]);
        var grown = new WeightedSelector(Four);
        var moved = 0;

        for (var i = 0; i < 1_000; i++)
        {
            var key = $"user-{i}";
            var before = Order(selector, key)[0];
            var after = Order(grown, key)[0];
            if (after != before)
            {
                Assert.Equal(3, after);
                moved++;
            }
        }

        Assert.InRange(moved, 200, 300);
    }

    [Fact]
    public void Sticky_NullOrEmptyKey_IsNotSticky()
    {
        var draws = 0;
        var selector = new WeightedSelector(ThreeToOne, () =>
        {
            draws++;
            return 0.9;
        });

        Assert.Equal([1, 0], Order(selector, null));
        Assert.Equal([1, 0], Order(selector, string.Empty));
        Assert.Equal(2, draws);
    }

    [Fact]
    public void StableHash_MatchesReferenceValues()
    {
        // Computed independently (FNV-1a 64 over UTF-16LE bytes, then fmix64). A change here moves every sticky key.
        Assert.Equal(0xefd01f60ba992926UL, StableHash.Hash(string.Empty));
        Assert.Equal(0x86fc2d0407502de5UL, StableHash.Hash("a"));
        Assert.Equal(0xb7586204594edd6dUL, StableHash.Hash("openai/gpt-4.1"));
        Assert.Equal(0x089be207b544f1e4UL, StableHash.Append(StableHash.Seed, "a"));

        var state = StableHash.Append(StableHash.Append(StableHash.Seed, "user-42"), '\0');
        Assert.Equal(0x1ac77b1b3145a11aUL, StableHash.Finish(StableHash.Append(state, "openai/gpt-4.1")));
    }

    [Fact]
    public void StableHash_ToOpenUnitInterval_NeverReachesZeroOrOne()
    {
        Assert.InRange(StableHash.ToOpenUnitInterval(0), double.Epsilon, 1e-15);
        Assert.True(StableHash.ToOpenUnitInterval(ulong.MaxValue) < 1d);
        Assert.True(Math.Log(StableHash.ToOpenUnitInterval(ulong.MaxValue)) < 0d);
    }

    [Fact]
    public void RoundRobin_CyclesInOrder()
    {
        var selector = new RoundRobinSelector(Four[..3]);

        Assert.Equal([0, 1, 2], Order(selector));
        Assert.Equal([1, 2, 0], Order(selector));
        Assert.Equal([2, 0, 1], Order(selector));
        Assert.Equal([0, 1, 2], Order(selector));
    }

    [Fact]
    public void RoundRobin_MemberUnavailable_TurnsStayEvenAmongTheRest()
    {
        var selector = new RoundRobinSelector(Four[..3]);
        Span<int> order = stackalloc int[3];
        var firsts = new int[3];

        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(2, selector.Order([true, false, true], order));
            Assert.Equal(1, order[2]);
            firsts[order[0]]++;
        }

        Assert.Equal([50, 0, 50], firsts);
    }

    [Fact]
    public async Task RoundRobin_Concurrent_EachMemberExactlyItsShareOfFirsts()
    {
        const int Threads = 4;
        const int CallsPerThread = 1_000;
        var selector = new RoundRobinSelector(Four);
        var firsts = new int[4];
        using var barrier = new Barrier(Threads);
        var tasks = new Task[Threads];

        for (var t = 0; t < Threads; t++)
        {
            tasks[t] = Task.Factory.StartNew(
                () =>
                {
                    Span<int> order = stackalloc int[4];
                    barrier.SignalAndWait(TestContext.Current.CancellationToken);
                    for (var i = 0; i < CallsPerThread; i++)
                    {
                        selector.Order([], order);
                        Interlocked.Increment(ref firsts[order[0]]);
                    }
                },
                TestContext.Current.CancellationToken,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);
        }

        await Task.WhenAll(tasks);

        Assert.Equal([1_000, 1_000, 1_000, 1_000], firsts);
    }

    [Fact]
    public void LowestLatency_UntriedFirstInConfiguredOrder_ThenAscendingAverage()
    {
        var selector = new LowestLatencySelector(Four[..3]);
        Assert.Equal([0, 1, 2], Order(selector));

        selector.ReportLatency(0, TimeSpan.FromMilliseconds(100));
        Assert.Equal([1, 2, 0], Order(selector));

        selector.ReportLatency(2, TimeSpan.FromMilliseconds(200));
        Assert.Equal([1, 0, 2], Order(selector));

        selector.ReportLatency(1, TimeSpan.FromMilliseconds(50));
        Assert.Equal([1, 0, 2], Order(selector));
    }

    [Fact]
    public void LowestLatency_AdaptsWhenLatenciesChange()
    {
        var selector = new LowestLatencySelector(Four[..3]);
        selector.ReportLatency(0, TimeSpan.FromMilliseconds(100));
        selector.ReportLatency(1, TimeSpan.FromMilliseconds(50));
        selector.ReportLatency(2, TimeSpan.FromMilliseconds(200));
        Assert.Equal(1, Order(selector)[0]);

        // Member 1 slows down: 50 + 0.3 * (500 - 50) = 185 ms, now behind member 0.
        selector.ReportLatency(1, TimeSpan.FromMilliseconds(500));
        Assert.Equal(TimeSpan.FromMilliseconds(185), selector.GetAverageLatency(1));
        Assert.Equal([0, 1, 2], Order(selector));

        // Member 2 becomes fast: 200 -> 146 -> 108.2 -> 81.74 ms after three 20 ms calls.
        for (var i = 0; i < 3; i++)
        {
            selector.ReportLatency(2, TimeSpan.FromMilliseconds(20));
        }

        Assert.Equal(TimeSpan.FromMilliseconds(81.74), selector.GetAverageLatency(2));
        Assert.Equal([2, 0, 1], Order(selector));
    }

    [Fact]
    public void LowestLatency_TiesKeepConfiguredOrder_UnavailableGoLast()
    {
        var selector = new LowestLatencySelector(Four[..3]);
        for (var i = 0; i < 3; i++)
        {
            selector.ReportLatency(i, TimeSpan.FromMilliseconds(10));
        }

        Assert.Equal([0, 1, 2], Order(selector));

        Span<int> order = stackalloc int[3];
        Assert.Equal(2, selector.Order([false, true, true], order));
        Assert.Equal([1, 2, 0], order.ToArray());
    }

    [Fact]
    public void LowestLatency_ReportLatency_ValidatesMemberAndClampsNegative()
    {
        var selector = new LowestLatencySelector(Four[..2]);

        Assert.Throws<ArgumentOutOfRangeException>(() => selector.ReportLatency(-1, TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => selector.ReportLatency(2, TimeSpan.Zero));
        Assert.Null(selector.GetAverageLatency(0));

        selector.ReportLatency(0, TimeSpan.FromMilliseconds(-5));
        Assert.Equal(TimeSpan.Zero, selector.GetAverageLatency(0));
    }

    [Fact]
    public async Task LowestLatency_ConcurrentReports_AverageStaysWithinSamples()
    {
        var selector = new LowestLatencySelector(Four[..1]);
        using var barrier = new Barrier(4);
        var tasks = new Task[4];
        for (var t = 0; t < 4; t++)
        {
            var sample = TimeSpan.FromMilliseconds(100 + (t * 100));
            tasks[t] = Task.Factory.StartNew(
                () =>
                {
                    barrier.SignalAndWait(TestContext.Current.CancellationToken);
                    for (var i = 0; i < 1_000; i++)
                    {
                        selector.ReportLatency(0, sample);
                    }
                },
                TestContext.Current.CancellationToken,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);
        }

        await Task.WhenAll(tasks);

        Assert.InRange(selector.GetAverageLatency(0)!.Value, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(400));
    }

    [Fact]
    public void OtherStrategies_IgnoreLatencyReports()
    {
        var selector = new LowestCostSelector(Four);
        selector.ReportLatency(3, TimeSpan.FromSeconds(10));

        Assert.Equal([3, 1, 2, 0], Order(selector));
    }

    [Fact]
    public void LowestCost_AscendingRank_TiesInConfiguredOrder()
    {
        CandidateMember[] members = [new("a", 1, 2), new("b", 1, 1), new("c", 1, 2), new("d", 1, 0), new("e", 1, 1)];
        var selector = new LowestCostSelector(members);

        Assert.Equal([3, 1, 4, 0, 2], Order(selector));

        Span<int> order = stackalloc int[5];
        Assert.Equal(3, selector.Order([true, true, false, false, true], order));
        Assert.Equal([1, 4, 0, 3, 2], order.ToArray());
    }

    [Fact]
    public void Order_AllStrategies_AllocateNothing()
    {
        CandidateSelector[] selectors =
        [
            new FallbackSelector(Four),
            new WeightedSelector(Four),
            new RoundRobinSelector(Four),
            new LowestLatencySelector(Four),
            new LowestCostSelector(Four),
        ];
        selectors[3].ReportLatency(1, TimeSpan.FromMilliseconds(5));
        Exercise(selectors);

        var before = GC.GetAllocatedBytesForCurrentThread();
        Exercise(selectors);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);

        static void Exercise(CandidateSelector[] selectors)
        {
            Span<int> order = stackalloc int[4];
            ReadOnlySpan<bool> someDown = [true, false, true, true];
            for (var i = 0; i < 1_000; i++)
            {
                foreach (var selector in selectors)
                {
                    selector.Order([], order);
                    selector.Order(someDown, order);
                    selector.Order(someDown, order, "user-42");
                    selector.ReportLatency(2, TimeSpan.FromMilliseconds(7));
                }
            }
        }
    }

    private static int[] Order(CandidateSelector selector, string? routingKey = null)
    {
        var order = new int[selector.Count];
        Assert.Equal(selector.Count, selector.Order([], order, routingKey));
        return order;
    }
}
