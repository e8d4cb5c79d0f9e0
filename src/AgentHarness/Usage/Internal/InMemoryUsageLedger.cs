using AgentHarness.Internal;
using Microsoft.Extensions.Options;

namespace AgentHarness.Usage.Internal;

/// <summary>
/// The most recent records, in a <see cref="RecordRing"/>: adding is O(1) and allocates nothing once the ring has
/// grown to its capacity, and keeps no object per call past the newest few (see the ring for why).
/// </summary>
internal sealed class InMemoryUsageLedger : IUsageLedger
{
    private readonly RecordRing _records;

    public InMemoryUsageLedger(IOptions<AgentHarnessOptions> options)
        : this(options.Value.UsageLedgerCapacity)
    {
    }

    public InMemoryUsageLedger(int capacity) => _records = new RecordRing(capacity);

    /// <summary>Gets how many records were dropped to make room, since the ledger was created.</summary>
    public long Dropped => _records.Dropped;

    public void Add(UsageRecord record) => _records.Add(record);

    /// <summary>Answers a query from the records held: the most recent <see cref="AgentHarnessOptions.UsageLedgerCapacity"/> calls.</summary>
    public Task<UsageReport> GetUsageAsync(UsageQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        cancellationToken.ThrowIfCancellationRequested();
        // Each older record is built as the report reaches it, and dies there: a report over ten thousand holds none of them.
        return Task.FromResult(UsageReport.FromRecords(query, _records.ForReport()));
    }

    public IReadOnlyList<UsageRecord> GetRecords() => _records.ToArray();
}
