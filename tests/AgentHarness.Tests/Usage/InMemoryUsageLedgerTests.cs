using AgentHarness.Usage.Internal;

namespace AgentHarness.Tests.Usage;

public sealed class InMemoryUsageLedgerTests
{
    private static UsageRecord Record(int i) => new()
    {
        Timestamp = DateTimeOffset.UnixEpoch.AddSeconds(i),
        ModelRequested = $"m{i}",
        Operation = "chat/completions",
        Outcome = UsageOutcome.Succeeded,
    };

    [Fact]
    public void Add_BeyondCapacity_KeepsTheNewestInOrder()
    {
        var ledger = new InMemoryUsageLedger(3);

        for (var i = 0; i < 5; i++)
        {
            ledger.Add(Record(i));
        }

        Assert.Equal(["m2", "m3", "m4"], ledger.GetRecords().Select(r => r.ModelRequested));
        Assert.Equal(2, ledger.Dropped);
    }

    [Fact]
    public async Task Add_FromManyThreads_LosesNothingWithinCapacity()
    {
        var ledger = new InMemoryUsageLedger(10_000);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(
            () =>
            {
                for (var i = 0; i < 1000; i++)
                {
                    ledger.Add(Record((t * 1000) + i));
                }
            },
            TestContext.Current.CancellationToken)));

        var records = ledger.GetRecords();
        Assert.Equal(8000, records.Count);
        Assert.Equal(8000, records.Select(r => r.ModelRequested).Distinct().Count());
        Assert.Equal(0, ledger.Dropped);
    }

    [Fact]
    public void Constructor_CapacityBelowOne_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new InMemoryUsageLedger(0));
    }

    [Fact]
    public void GetRecords_OlderThanTheNewest_EqualToTheRecordsAddedInEveryProperty()
    {
        var ledger = new InMemoryUsageLedger(1000);
        var full = FullRecord(attempts: 1);
        var twoAttempts = FullRecord(attempts: 2);
        var noAttempt = FullRecord(attempts: 0);
        var threeAttempts = FullRecord(attempts: 3);
        ledger.Add(full);
        ledger.Add(twoAttempts);
        ledger.Add(noAttempt);
        ledger.Add(threeAttempts);
        for (var i = 0; i < InMemoryUsageLedger.RecentKept; i++)
        {
            ledger.Add(Record(i));
        }

        var records = ledger.GetRecords();

        // No longer among the newest: handed back as copies, equal in every property the record type has.
        Assert.NotSame(full, records[0]);
        AssertSameValues(full, records[0]);
        AssertSameValues(twoAttempts, records[1]);
        AssertSameValues(noAttempt, records[2]);
        AssertSameValues(threeAttempts, records[3]);
    }

    [Fact]
    public void GetRecords_TheNewest_AreTheObjectsAdded()
    {
        var ledger = new InMemoryUsageLedger(10_000);
        var added = Enumerable.Range(0, InMemoryUsageLedger.RecentKept * 3).Select(Record).ToArray();
        foreach (var record in added)
        {
            ledger.Add(record);
        }

        var records = ledger.GetRecords();

        Assert.Equal(added.Length, records.Count);
        for (var i = 0; i < added.Length; i++)
        {
            Assert.Equal(added[i].ModelRequested, records[i].ModelRequested);
            Assert.Equal(i >= added.Length - InMemoryUsageLedger.RecentKept, ReferenceEquals(added[i], records[i]));
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
        var ledger = new InMemoryUsageLedger(capacity);
        for (var i = 0; i < added; i++)
        {
            ledger.Add(Record(i));
        }

        var kept = Math.Min(capacity, added);
        Assert.Equal(Enumerable.Range(added - kept, kept).Select(static i => $"m{i}"), ledger.GetRecords().Select(static r => r.ModelRequested));
        Assert.Equal(added - kept, ledger.Dropped);
    }

    private static UsageRecord FullRecord(int attempts)
    {
        // Every property set to a value other than its default, so a property the ledger forgets to keep is caught.
        var attempt = new UsageAttempt("prov", "model-a", AttemptOutcome.Failed, 503, "overloaded", TimeSpan.FromMilliseconds(12)) { OutputTokenLimit = 77 };
        return new UsageRecord
        {
            Timestamp = new DateTimeOffset(2026, 5, 1, 2, 3, 4, TimeSpan.FromHours(2)),
            RunId = "run-1",
            Agent = "agent",
            Task = "task",
            Metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["agent"] = "agent", ["branch"] = "main" },
            ModelRequested = "policy/p",
            ModelUsed = "model-b-2026",
            Provider = "prov2",
            Operation = "chat/completions",
            Streaming = true,
            InputTokens = 11,
            OutputTokens = 12,
            CachedInputTokens = 3,
            CacheWriteInputTokens = 2,
            CostUsd = 0.000123456789012m,
            CostBasis = CostBasis.Estimated,
            Latency = TimeSpan.FromMilliseconds(345),
            Outcome = UsageOutcome.Incomplete,
            StatusCode = 200,
            Error = "cut",
            Attempts = attempts switch
            {
                0 => [],
                1 => [attempt],
                2 => [attempt, attempt with { Outcome = AttemptOutcome.Succeeded, StatusCode = 200, Error = null }],
                _ => [attempt, attempt with { Model = "model-c" }, attempt with { Outcome = AttemptOutcome.Succeeded, StatusCode = 200, Error = null }],
            },
            FromCache = true,
            SavedUsd = 0.5m,
            CacheKey = "key",
        };
    }

    private static void AssertSameValues(UsageRecord expected, UsageRecord actual)
    {
        foreach (var property in typeof(UsageRecord).GetProperties())
        {
            var (want, got) = (property.GetValue(expected), property.GetValue(actual));
            if (property.Name == nameof(UsageRecord.Attempts))
            {
                Assert.Equal(expected.Attempts, actual.Attempts);
            }
            else
            {
                Assert.True(Equals(want, got), $"{property.Name}: expected {want}, got {got}");
                Assert.NotEqual(property.PropertyType.IsValueType ? Activator.CreateInstance(property.PropertyType) : null, want);
            }
        }

        foreach (var property in typeof(UsageAttempt).GetProperties())
        {
            if (expected.Attempts.Count > 0 && property.Name != "EqualityContract")
            {
                Assert.NotEqual(property.PropertyType.IsValueType ? Activator.CreateInstance(property.PropertyType) : null, property.GetValue(expected.Attempts[0]));
            }
        }
    }
}
