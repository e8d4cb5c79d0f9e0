using Microsoft.Extensions.Options;

namespace AgentHarness.Usage.Internal;

/// <summary>
/// A bounded ring of the most recent records. Adding is O(1) and allocates nothing once the ring has grown to hold
/// its capacity; the newest <see cref="RecentKept"/> records are handed back as the very objects added, older ones
/// as equal copies.
/// </summary>
/// <remarks>
/// Every record is also held as a <see cref="LedgerEntry"/>, a struct in one array. Holding ten thousand record
/// objects (each with its attempts array and attempt) made every one of them survive the garbage collector's young
/// generations and be copied into the old one: about a microsecond of collector time on every call of a busy
/// process, for records hardly anyone reads. A struct in an array that lives as long as the ledger costs the
/// collector nothing per call; the record object is held only while it is among the newest, and dies young.
/// </remarks>
internal sealed class InMemoryUsageLedger : IUsageLedger
{
    /// <summary>How many of the newest records are kept as the objects added: a caller comparing what it was handed
    /// with <see cref="GetRecords"/> finds the same instance.</summary>
    internal const int RecentKept = 64;

    // The ring starts small and doubles, up to the capacity: a ledger of a million records does not take its room at start.
    private const int InitialRoom = 256;

    private readonly Lock _gate = new();
    private readonly int _capacity;
    private readonly UsageRecord?[] _recent = new UsageRecord?[RecentKept];
    private LedgerEntry[] _entries;

    // How many records were ever added: record number n is at _entries[n % _capacity] and, among the newest, at
    // _recent[n % RecentKept].
    private long _added;

    public InMemoryUsageLedger(IOptions<AgentHarnessOptions> options)
        : this(options.Value.UsageLedgerCapacity)
    {
    }

    public InMemoryUsageLedger(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _entries = new LedgerEntry[Math.Min(capacity, InitialRoom)];
    }

    /// <summary>Gets how many records were dropped to make room, since the ledger was created.</summary>
    public long Dropped
    {
        get
        {
            lock (_gate)
            {
                return Math.Max(0, _added - _capacity);
            }
        }
    }

    public void Add(UsageRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);

        // Taken apart before the lock: it only reads the record.
        var entry = new LedgerEntry(record);
        lock (_gate)
        {
            var number = _added;
            if (number == _entries.Length && number < _capacity)
            {
                // Not yet wrapped, so record n is at index n: growing keeps every index.
                Array.Resize(ref _entries, (int)Math.Min((long)_entries.Length * 2, _capacity));
            }

            _entries[number % _capacity] = entry;
            _recent[number % RecentKept] = record;
            _added = number + 1;
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
            var held = (int)Math.Min(_added, _capacity);
            var first = _added - held;
            var firstRecent = _added - Math.Min(held, RecentKept);
            var result = new UsageRecord[held];
            for (var i = 0; i < held; i++)
            {
                var number = first + i;
                result[i] = number >= firstRecent
                    ? _recent[number % RecentKept]!
                    : _entries[number % _capacity].ToRecord();
            }

            return result;
        }
    }
}
