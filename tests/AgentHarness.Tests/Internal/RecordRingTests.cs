using AgentHarness.Internal;

namespace AgentHarness.Tests.Internal;

public sealed class RecordRingTests
{
    private static UsageRecord Record(int i) => new()
    {
        Timestamp = DateTimeOffset.UnixEpoch.AddSeconds(i),
        ModelRequested = $"m{i}",
        Operation = "chat/completions",
        Outcome = UsageOutcome.Succeeded,
        Attempts = [new UsageAttempt("p", $"m{i}", AttemptOutcome.Succeeded, 200, null, TimeSpan.FromMilliseconds(i))],
    };

    [Fact]
    public void ToArray_TheNewest_AreTheObjectsAdded()
    {
        var ring = new RecordRing(10_000);
        var added = Enumerable.Range(0, RecordRing.RecentKept * 3).Select(Record).ToArray();
        foreach (var record in added)
        {
            ring.Add(record);
        }

        var records = ring.ToArray();

        Assert.Equal(added.Length, records.Length);
        for (var i = 0; i < added.Length; i++)
        {
            Assert.Equal(added[i].ModelRequested, records[i].ModelRequested);
            Assert.Equal(i >= added.Length - RecordRing.RecentKept, ReferenceEquals(added[i], records[i]));
        }
    }

    [Theory]
    [InlineData(1, 5)]
    [InlineData(3, 200)]
    [InlineData(100, 99)]
    [InlineData(300, 1000)]
    [InlineData(1000, 2501)]
    public void Add_GrowingAndWrapping_KeepsTheNewestInOrder(int capacity, int added)
    {
        var ring = new RecordRing(capacity);
        for (var i = 0; i < added; i++)
        {
            ring.Add(Record(i));
        }

        var kept = Math.Min(capacity, added);
        Assert.Equal(Enumerable.Range(added - kept, kept).Select(static i => $"m{i}"), ring.ToArray().Select(static r => r.ModelRequested));
        Assert.Equal(added, ring.Added);
        Assert.Equal(kept, ring.Count);
    }

    [Fact]
    public void ToArray_OlderThanTheNewest_EqualCopies()
    {
        var ring = new RecordRing(1000);
        var added = Enumerable.Range(0, RecordRing.RecentKept + 10).Select(Record).ToArray();
        foreach (var record in added)
        {
            ring.Add(record);
        }

        var records = ring.ToArray();

        for (var i = 0; i < 10; i++)
        {
            Assert.NotSame(added[i], records[i]);
            Assert.Equal(added[i] with { Attempts = records[i].Attempts }, records[i]);
            Assert.Equal(added[i].Attempts, records[i].Attempts);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(64)]
    [InlineData(65)]
    public void ToArray_CapacityAroundTheNewestKept_TheNewestAreTheObjectsAdded(int capacity)
    {
        var ring = new RecordRing(capacity);
        var added = Enumerable.Range(0, 300).Select(Record).ToArray();
        foreach (var record in added)
        {
            ring.Add(record);
        }

        var records = ring.ToArray();

        Assert.Equal(capacity, records.Length);
        var same = Math.Min(capacity, RecordRing.RecentKept);
        for (var i = 0; i < records.Length; i++)
        {
            var original = added[added.Length - capacity + i];
            Assert.Equal(original.ModelRequested, records[i].ModelRequested);
            Assert.Equal(i >= capacity - same, ReferenceEquals(original, records[i]));
        }

        Assert.Equal(300 - capacity, ring.Dropped);
    }

    [Fact]
    public async Task ToArray_WhileOthersAdd_ReturnsAnOrderedRunOfTheNewestWithoutGaps()
    {
        // Reading builds copies outside the lock a slice at a time: records added meanwhile must neither appear out of
        // order nor leave a gap, and an old record overwritten meanwhile is left out rather than read half-written.
        var ring = new RecordRing(1000);
        var writers = Enumerable.Range(0, 2).Select(w => Task.Run(
            () =>
            {
                for (var i = 0; i < 20_000; i++)
                {
                    lock (ring)
                    {
                        // One sequence across both writers, so that the order of the ring is the order of the numbers.
                        ring.Add(Record((int)ring.Added));
                    }
                }
            },
            TestContext.Current.CancellationToken)).ToArray();

        var reads = 0;
        while (!writers.All(static w => w.IsCompleted) || reads == 0)
        {
            var records = ring.ToArray();
            reads++;
            var numbers = records.Select(static r => int.Parse(r.ModelRequested.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            Assert.True(numbers.Length <= 1000);
            for (var i = 1; i < numbers.Length; i++)
            {
                Assert.Equal(numbers[i - 1] + 1, numbers[i]);
            }

            foreach (var record in records)
            {
                // A struct read while it was being written would mix two records: each record's attempt names its own model.
                Assert.Equal(record.ModelRequested, Assert.Single(record.Attempts).Model);
            }
        }

        await Task.WhenAll(writers);
        Assert.Equal(40_000, ring.Added);
    }

    [Fact]
    public void ForReport_TheRecordsOfToArray_OlderOnesWithoutAttempts()
    {
        var ring = new RecordRing(500);
        var added = Enumerable.Range(0, 800).Select(Record).ToArray();
        foreach (var record in added)
        {
            ring.Add(record);
        }

        var reported = ring.ForReport().ToArray();

        Assert.Equal(ring.ToArray().Select(static r => r.ModelRequested), reported.Select(static r => r.ModelRequested));
        for (var i = 0; i < reported.Length; i++)
        {
            var original = added[300 + i];
            Assert.Equal(original with { Attempts = reported[i].Attempts }, reported[i]);
            if (i < 500 - RecordRing.RecentKept)
            {
                Assert.Empty(reported[i].Attempts);
            }
            else
            {
                Assert.Same(original, reported[i]);
            }
        }
    }
}
