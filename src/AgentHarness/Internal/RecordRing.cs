namespace AgentHarness.Internal;

/// <summary>
/// The newest records up to a capacity, oldest dropped first: the in-memory ledger's and a run's. The newest
/// <see cref="RecentKept"/> are handed back as the very objects added, older ones as copies with the same values.
/// Thread safe.
/// </summary>
/// <remarks>
/// <para>
/// Every record is held as a <see cref="HeldRecord"/>, a struct in one array. Holding thousands of record objects
/// (each with its attempts array and attempts) made every one of them survive the garbage collector's young
/// generations and be copied into the old one: about a microsecond of collector time on every call of a busy
/// process, for records hardly anyone reads. A struct in an array that lives as long as its owner costs the
/// collector nothing per call; the record object is held only while it is among the newest, and dies young.
/// </para>
/// <para>
/// Reading builds a record for every held struct, which for ten thousand takes milliseconds: it is done outside the
/// lock, a slice of structs copied under it at a time, so that adding (at the end of every model call) never waits
/// for more than one slice's copy.
/// </para>
/// </remarks>
internal sealed class RecordRing
{
    /// <summary>How many of the newest records are kept as the objects added: a caller comparing the record it was
    /// handed with what the ring holds finds the same instance.</summary>
    internal const int RecentKept = 64;

    // Both arrays start small and double up to their size (before the ring first wraps, so that every record keeps its
    // index): a short run, or a ledger of a million records that has seen a few calls, does not take the room of its
    // capacity.
    private const int InitialRoom = 4;

    // How many structs are copied under the lock at a time when reading (about 38 KB, below the large object heap).
    private const int ReadSlice = 128;

    private readonly Lock _gate = new();
    private readonly int _capacity;
    private readonly int _recentCapacity;
    private UsageRecord?[] _recent;
    private HeldRecord[] _held;

    // How many records were ever added: record number n is at _held[n % _capacity] and, among the newest, at
    // _recent[n % _recentCapacity].
    private long _added;

    /// <param name="capacity">How many records are kept, at least 1.</param>
    public RecordRing(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _recentCapacity = Math.Min(capacity, RecentKept);
        _recent = new UsageRecord?[Math.Min(_recentCapacity, InitialRoom)];
        _held = new HeldRecord[Math.Min(capacity, InitialRoom)];
    }

    /// <summary>Gets how many records were ever added.</summary>
    public long Added
    {
        get
        {
            lock (_gate)
            {
                return _added;
            }
        }
    }

    /// <summary>Gets how many records were dropped to make room.</summary>
    public long Dropped
    {
        get
        {
            lock (_gate)
            {
                return _added - Held(_added);
            }
        }
    }

    /// <summary>Gets how many records are held.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return Held(_added);
            }
        }
    }

    /// <summary>Adds a record, dropping the oldest when the ring is full.</summary>
    /// <param name="record">The record.</param>
    public void Add(UsageRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);

        // Taken apart before the lock: it only reads the record.
        var held = new HeldRecord(record);
        lock (_gate)
        {
            var number = _added;
            if (number == _held.Length && number < _capacity)
            {
                Array.Resize(ref _held, (int)Math.Min((long)_held.Length * 2, _capacity));
            }

            if (number == _recent.Length && number < _recentCapacity)
            {
                Array.Resize(ref _recent, Math.Min(_recent.Length * 2, _recentCapacity));
            }

            _held[number % _capacity] = held;
            _recent[number % _recentCapacity] = record;
            _added = number + 1;
        }
    }

    /// <summary>
    /// Returns the records held when the read began, oldest first; the oldest of them dropped to make room while the read
    /// went on are left out.
    /// </summary>
    /// <returns>A new array.</returns>
    public UsageRecord[] ToArray()
    {
        var (first, firstRecent, recent) = Begin();
        var result = new UsageRecord[firstRecent - first + recent.Length];
        recent.CopyTo(result, firstRecent - first);

        // The older records, a slice at a time: the structs are copied under the lock, the records built outside it.
        // Adding goes on meanwhile, and may overwrite the oldest: then every record before the overwritten ones is gone
        // too, and the read keeps only what follows them, so that it is always the newest records in order, without gaps.
        var kept = first;
        var slice = firstRecent > first ? new HeldRecord[(int)Math.Min(ReadSlice, firstRecent - first)] : [];
        for (var start = first; start < firstRecent; start += ReadSlice)
        {
            var stop = Math.Min(start + ReadSlice, firstRecent);
            var from = CopySlice(start, stop, slice);
            if (from > start)
            {
                kept = from;
            }

            for (var number = from; number < stop; number++)
            {
                result[number - first] = slice[number - from].ToRecord();
            }
        }

        return kept == first ? result : result[(int)(kept - first)..];
    }

    /// <summary>
    /// Enumerates the records held when the enumeration began, oldest first, for a usage report: each older record is
    /// built when it is reached, without its attempts (a report reads none), so none outlives the report's reading of
    /// it; the oldest dropped to make room meanwhile are left out.
    /// </summary>
    /// <returns>The records.</returns>
    public IEnumerable<UsageRecord> ForReport()
    {
        var (first, firstRecent, recent) = Begin();
        return Enumerate(first, firstRecent, recent);
    }

    private IEnumerable<UsageRecord> Enumerate(long first, long firstRecent, UsageRecord[] recent)
    {
        var slice = firstRecent > first ? new HeldRecord[(int)Math.Min(ReadSlice, firstRecent - first)] : [];
        for (var start = first; start < firstRecent; start += ReadSlice)
        {
            var stop = Math.Min(start + ReadSlice, firstRecent);
            var from = CopySlice(start, stop, slice);
            for (var number = from; number < stop; number++)
            {
                yield return slice[number - from].ToRecord(withAttempts: false);
            }
        }

        foreach (var record in recent)
        {
            yield return record;
        }
    }

    /// <summary>Starts a read: the numbers of the oldest record held and of the oldest kept as an object, and those objects.</summary>
    private (long First, long FirstRecent, UsageRecord[] Recent) Begin()
    {
        lock (_gate)
        {
            var end = _added;
            var count = Held(end);
            var firstRecent = end - Math.Min(count, _recentCapacity);
            var recent = new UsageRecord[end - firstRecent];
            for (var number = firstRecent; number < end; number++)
            {
                recent[number - firstRecent] = _recent[number % _recentCapacity]!;
            }

            return (end - count, firstRecent, recent);
        }
    }

    /// <summary>
    /// Copies the structs of records <paramref name="start"/> to <paramref name="stop"/> (excluded) under the lock, from
    /// the first still held: adding may have overwritten the oldest since the read began.
    /// </summary>
    /// <returns>The number of the first record copied (<paramref name="stop"/> when none is held any more), at <paramref name="slice"/>[0].</returns>
    private long CopySlice(long start, long stop, HeldRecord[] slice)
    {
        lock (_gate)
        {
            var from = Math.Min(Math.Max(start, _added - Held(_added)), stop);
            for (var number = from; number < stop; number++)
            {
                slice[number - from] = _held[number % _capacity];
            }

            return from;
        }
    }

    private int Held(long added) => (int)Math.Min(added, _capacity);
}
