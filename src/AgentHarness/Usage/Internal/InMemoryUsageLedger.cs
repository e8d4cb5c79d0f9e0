using Microsoft.Extensions.Options;

namespace AgentHarness.Usage.Internal;

/// <summary>A bounded ring of the most recent records; adding is O(1) and never allocates beyond the record itself.</summary>
internal sealed class InMemoryUsageLedger : IUsageLedger
{
    private readonly Lock _gate = new();
    private readonly UsageRecord[] _ring;
    private int _next;
    private int _count;
    private long _dropped;

    public InMemoryUsageLedger(IOptions<AgentHarnessOptions> options)
        : this(options.Value.UsageLedgerCapacity)
    {
    }

    public InMemoryUsageLedger(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _ring = new UsageRecord[capacity];
    }

    /// <summary>Gets how many records were dropped to make room, since the ledger was created.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public void Add(UsageRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        lock (_gate)
        {
            _ring[_next] = record;
            _next = (_next + 1) % _ring.Length;
            if (_count < _ring.Length)
            {
                _count++;
            }
            else
            {
                _dropped++;
            }
        }
    }

    /// <summary>Answers a query from the records held: the most recent <see cref="AgentHarnessOptions.UsageLedgerCapacity"/> calls.</summary>
    public Task<UsageReport> GetUsageAsync(UsageQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(UsageReport.FromRecords(query, GetRecords()));
    }

    public IReadOnlyList<UsageRecord> GetRecords()
    {
        lock (_gate)
        {
            var result = new UsageRecord[_count];
            var start = (_next - _count + _ring.Length) % _ring.Length;
            for (var i = 0; i < _count; i++)
            {
                result[i] = _ring[(start + i) % _ring.Length];
            }

            return result;
        }
    }
}
