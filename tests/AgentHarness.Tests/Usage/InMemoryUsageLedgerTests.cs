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
}
