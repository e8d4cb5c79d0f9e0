namespace AgentHarness.Internal;

/// <summary>
/// The newest records up to a capacity, oldest dropped first: the in-memory ledger's and a run's. The newest
/// <see cref="RecentKept"/> are handed back as the very objects added, older ones as equal copies. Not thread safe:
/// its owner adds and reads under its own lock.
/// </summary>
/// <remarks>
/// Every record is held as a <see cref="HeldRecord"/>, a struct in one array. Holding thousands of record objects
/// (each with its attempts array and attempts) made every one of them survive the garbage collector's young
/// generations and be copied into the old one: about a microsecond of collector time on every call of a busy
/// process, for records hardly anyone reads. A struct in an array that lives as long as its owner costs the
/// collector nothing per call; the record object is held only while it is among the newest, and dies young.
/// </remarks>
internal sealed class RecordRing
{
    /// <summary>How many of the newest records are kept as the objects added: a caller comparing the record it was
    /// handed with what the ring holds finds the same instance.</summary>
    internal const int RecentKept = 64;

    // The array starts small and doubles up to the capacity: a short run, or a ledger of a million records that has
    // seen a few calls, does not take the room of its capacity.
    private const int InitialRoom = 8;

    private readonly int _capacity;
    private readonly UsageRecord?[] _recent;
    private HeldRecord[] _held;

    // How many records were ever added: record number n is at _held[n % _capacity] and, among the newest, at
    // _recent[n % RecentKept].
    private long _added;

    /// <param name="capacity">How many records are kept, at least 1.</param>
    public RecordRing(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _recent = new UsageRecord?[Math.Min(capacity, RecentKept)];
        _held = new HeldRecord[Math.Min(capacity, InitialRoom)];
    }

    /// <summary>Gets how many records were ever added.</summary>
    public long Added => _added;

    /// <summary>Gets how many records are held.</summary>
    public int Count => (int)Math.Min(_added, _capacity);

    /// <summary>Adds a record, dropping the oldest when the ring is full.</summary>
    /// <param name="record">The record.</param>
    public void Add(UsageRecord record)
    {
        var number = _added;
        if (number == _held.Length && number < _capacity)
        {
            // Not yet wrapped, so record n is at index n: growing keeps every index.
            Array.Resize(ref _held, (int)Math.Min((long)_held.Length * 2, _capacity));
        }

        _held[number % _capacity] = new HeldRecord(record);
        _recent[number % _recent.Length] = record;
        _added = number + 1;
    }

    /// <summary>Returns the records held, oldest first.</summary>
    /// <returns>A new array.</returns>
    public UsageRecord[] ToArray()
    {
        var count = Count;
        var first = _added - count;
        var firstRecent = _added - Math.Min(count, _recent.Length);
        var result = new UsageRecord[count];
        for (var i = 0; i < count; i++)
        {
            var number = first + i;
            result[i] = number >= firstRecent ? _recent[number % _recent.Length]! : _held[number % _capacity].ToRecord();
        }

        return result;
    }
}
