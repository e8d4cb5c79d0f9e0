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
}
