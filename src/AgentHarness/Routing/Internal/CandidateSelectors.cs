using System.Diagnostics;

namespace AgentHarness.Routing.Internal;

/// <summary>One member of a routing policy, as the selectors see it.</summary>
/// <param name="Model">
/// The member's candidate id (for example <c>openai/gpt-4.1</c>). Sticky routing hashes it, so a key keeps its
/// member when other members are added, removed or reordered.
/// </param>
/// <param name="Weight">The member's share of traffic for weighted routing; finite and greater than zero there.</param>
/// <param name="Rank">The member's cost rank for lowest-cost routing; lower is cheaper.</param>
internal readonly record struct CandidateMember(string Model, double Weight, int Rank);

/// <summary>
/// Decides, for one call, the order in which a policy's members are tried: the first entry is the member
/// the strategy chose, the rest is the fallback order.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Order"/> runs on every model call, so it fills a span the caller provides (typically
/// <c>stackalloc int[selector.Count]</c>) and allocates nothing. A selector is built once per policy
/// and shared by all calls; every implementation is thread safe.
/// </para>
/// <para>
/// Availability (for example "not cooling down") is the caller's to decide and is passed in per call.
/// Unavailable members are not dropped but moved to the end, keeping the strategy's order among
/// themselves, so the caller can still report them as skipped (or try them as a last resort).
/// Strategies that pick the first member (weighted, sticky, round robin) pick it among the available
/// members, so an unavailable member's share is spread according to the strategy instead of all going
/// to whichever member happens to follow it.
/// </para>
/// </remarks>
internal abstract class CandidateSelector
{
    /// <summary>Up to this many members, per-call scratch space lives on the stack.</summary>
    private protected const int StackLimit = 64;

    private protected CandidateSelector(IEnumerable<CandidateMember> members)
    {
        ArgumentNullException.ThrowIfNull(members);
        Members = [.. members];
        if (Members.Length == 0)
        {
            throw new ArgumentException("A routing policy needs at least one member.", nameof(members));
        }

        foreach (var member in Members)
        {
            if (string.IsNullOrEmpty(member.Model))
            {
                throw new ArgumentException("Every member needs a model id.", nameof(members));
            }
        }
    }

    /// <summary>Gets the number of members; <see cref="Order"/> fills this many entries.</summary>
    public int Count => Members.Length;

    /// <summary>The members in configured order.</summary>
    private protected CandidateMember[] Members { get; }

    /// <summary>
    /// Fills <paramref name="order"/> with every member index exactly once: the available members in the
    /// order to try them, then the unavailable ones.
    /// </summary>
    /// <param name="available">
    /// Per member index, whether the member may be tried now; empty means every member is available.
    /// Otherwise its length must be <see cref="Count"/>.
    /// </param>
    /// <param name="order">Receives the member indexes in its first <see cref="Count"/> entries.</param>
    /// <param name="routingKey">
    /// A key (user, conversation, tenant…) that sticky strategies keep on the same member; <see langword="null"/>
    /// or empty for none. Strategies that are not sticky ignore it.
    /// </param>
    /// <returns>How many leading entries of <paramref name="order"/> are available members.</returns>
    public int Order(ReadOnlySpan<bool> available, Span<int> order, string? routingKey = null)
    {
        var count = Members.Length;
        if (!available.IsEmpty && available.Length != count)
        {
            throw new ArgumentException($"Expected one availability flag per member ({count}), got {available.Length}.", nameof(available));
        }

        if (order.Length < count)
        {
            throw new ArgumentException($"The order span needs room for {count} members, it has {order.Length}.", nameof(order));
        }

        order = order[..count];
        Arrange(available, order, string.IsNullOrEmpty(routingKey) ? null : routingKey);
        AssertPermutation(order);
        return available.IsEmpty ? count : MoveUnavailableToEnd(available, order);
    }

    /// <summary>
    /// Records how long a successful call to a member took. Only latency-based strategies use it; the others
    /// ignore it, so the caller can report every call without knowing the strategy.
    /// </summary>
    public virtual void ReportLatency(int member, TimeSpan latency)
    {
    }

    /// <summary>
    /// Writes the strategy's preference over all members into <paramref name="order"/> (a permutation of
    /// <c>0..Count-1</c>); the base class then moves unavailable members to the end.
    /// </summary>
    private protected abstract void Arrange(ReadOnlySpan<bool> available, Span<int> order, string? routingKey);

    /// <summary>Whether a member counts as available; an empty span means all are.</summary>
    private protected static bool IsAvailable(ReadOnlySpan<bool> available, int member) => available.IsEmpty || available[member];

    /// <summary>
    /// How many members a first pick may choose from: the available ones, or all of them when none is
    /// available (the order is then still meaningful to a caller that tries unavailable members as a last resort).
    /// </summary>
    private protected static int CountEligible(ReadOnlySpan<bool> available, int count, out bool all)
    {
        var eligible = 0;
        foreach (var flag in available)
        {
            eligible += flag ? 1 : 0;
        }

        all = available.IsEmpty || eligible == 0;
        return all ? count : eligible;
    }

    /// <summary>
    /// Sorts member indexes by ascending key, ties in index order. Insertion sort: member lists are short,
    /// and it is stable and allocation-free.
    /// </summary>
    private protected static void SortByKey<TKey>(Span<int> order, ReadOnlySpan<TKey> keys)
        where TKey : IComparable<TKey>
    {
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        for (var i = 1; i < order.Length; i++)
        {
            var member = order[i];
            var key = keys[member];
            var j = i - 1;
            while (j >= 0 && keys[order[j]].CompareTo(key) > 0)
            {
                order[j + 1] = order[j];
                j--;
            }

            order[j + 1] = member;
        }
    }

    /// <summary>Builds a fixed order once, at construction, for strategies whose order never changes.</summary>
    private protected static int[] SortedOnce<TKey>(ReadOnlySpan<TKey> keys)
        where TKey : IComparable<TKey>
    {
        var order = new int[keys.Length];
        SortByKey<TKey>(order, keys);
        return order;
    }

    /// <summary>Stable in-place partition: available members first, each group keeping its relative order.</summary>
    private static int MoveUnavailableToEnd(ReadOnlySpan<bool> available, Span<int> order)
    {
        var next = 0;
        for (var i = 0; i < order.Length; i++)
        {
            var member = order[i];
            if (!available[member])
            {
                continue;
            }

            if (i != next)
            {
                // Span.CopyTo handles the overlap like memmove.
                order[next..i].CopyTo(order[(next + 1)..]);
                order[next] = member;
            }

            next++;
        }

        return next;
    }

    [Conditional("DEBUG")]
    private static void AssertPermutation(ReadOnlySpan<int> order)
    {
        Span<bool> seen = order.Length <= StackLimit ? stackalloc bool[order.Length] : new bool[order.Length];
        foreach (var member in order)
        {
            Debug.Assert((uint)member < (uint)order.Length && !seen[member], "A selector must return each member exactly once.");
            seen[member] = true;
        }
    }
}

/// <summary>Tries the members in the order they were configured: a primary and its backups.</summary>
internal sealed class FallbackSelector(IEnumerable<CandidateMember> members) : CandidateSelector(members)
{
    /// <inheritdoc/>
    private protected override void Arrange(ReadOnlySpan<bool> available, Span<int> order, string? routingKey)
    {
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }
    }
}

/// <summary>
/// Spreads traffic by weight: the first member is drawn at random with probability weight / sum of the
/// available members' weights; the rest follow by descending weight (ties in configured order), so a
/// failed call falls back to the member most able to take the load. With a routing key the choice is
/// sticky instead (see <see cref="Arrange"/>).
/// </summary>
internal sealed class WeightedSelector : CandidateSelector
{
    private readonly double[] _weights;
    private readonly int[] _byWeight;
    private readonly Func<double> _nextDouble;

    /// <summary>Creates a weighted selector.</summary>
    /// <param name="members">The members; every weight must be finite and greater than zero.</param>
    /// <param name="nextDouble">
    /// A source of uniform numbers in [0, 1) for the random draw; defaults to <see cref="Random.Shared"/>, which is
    /// thread safe. Tests inject a seeded one; an injected source must itself be thread safe if calls are concurrent.
    /// </param>
    public WeightedSelector(IEnumerable<CandidateMember> members, Func<double>? nextDouble = null)
        : base(members)
    {
        _weights = new double[Members.Length];
        var descending = new double[Members.Length];
        for (var i = 0; i < Members.Length; i++)
        {
            var weight = Members[i].Weight;
            if (!double.IsFinite(weight) || weight <= 0)
            {
                throw new ArgumentException($"Member '{Members[i].Model}' has weight {weight}; weights must be finite and greater than zero.", nameof(members));
            }

            _weights[i] = weight;
            descending[i] = -weight;
        }

        _byWeight = SortedOnce<double>(descending);
        _nextDouble = nextDouble ?? Random.Shared.NextDouble;
    }

    /// <summary>
    /// Without a routing key: a weighted random first member, then descending weight. With a routing key:
    /// weighted rendezvous (highest-random-weight) hashing. Each member scores <c>-ln(u) / weight</c>, where
    /// <c>u</c> in (0, 1) comes from a stable hash of (key, member id), and the members are tried by ascending
    /// score. The lowest score wins with probability weight / sum, so weights hold across keys, and since a
    /// key's scores never change, the key stays on its member for as long as that member is available. When
    /// it is not, the base class moves it to the end and the key falls to its own next-best member, while keys
    /// whose best member is still available do not move at all. The fallback order is the key's own score
    /// order, so a retry goes where the key would move anyway.
    /// </summary>
    private protected override void Arrange(ReadOnlySpan<bool> available, Span<int> order, string? routingKey)
    {
        if (routingKey is not null)
        {
            ArrangeSticky(order, routingKey);
            return;
        }

        var count = order.Length;
        _ = CountEligible(available, count, out var all);
        var total = 0d;
        for (var i = 0; i < count; i++)
        {
            if (all || available[i])
            {
                total += _weights[i];
            }
        }

        // Walk the cumulative weights; the last eligible member also takes any rounding remainder at the top.
        var target = Math.Clamp(_nextDouble(), 0d, 1d) * total;
        var first = -1;
        for (var i = 0; i < count; i++)
        {
            if (!all && !available[i])
            {
                continue;
            }

            first = i;
            target -= _weights[i];
            if (target < 0)
            {
                break;
            }
        }

        order[0] = first;
        var next = 1;
        foreach (var member in _byWeight)
        {
            if (member != first)
            {
                order[next++] = member;
            }
        }
    }

    private void ArrangeSticky(Span<int> order, string routingKey)
    {
        var count = order.Length;
        Span<double> scores = count <= StackLimit ? stackalloc double[count] : new double[count];

        // The key is hashed once; each member continues from that state, after a separator so that
        // ("ab", "c") and ("a", "bc") differ.
        var keyState = StableHash.Append(StableHash.Seed, routingKey);
        keyState = StableHash.Append(keyState, '\0');
        for (var i = 0; i < count; i++)
        {
            var hash = StableHash.Finish(StableHash.Append(keyState, Members[i].Model));
            scores[i] = -Math.Log(StableHash.ToOpenUnitInterval(hash)) / _weights[i];
        }

        SortByKey<double>(order, scores);
    }
}

/// <summary>
/// Takes turns: a shared counter picks the first member among the available ones, and the rest follow
/// cyclically, so every available member gets an equal share of first attempts.
/// </summary>
internal sealed class RoundRobinSelector(IEnumerable<CandidateMember> members) : CandidateSelector(members)
{
    // 64 bits so it never wraps in practice; a 32-bit counter wrapping would skew one turn.
    private ulong _counter;

    /// <inheritdoc/>
    private protected override void Arrange(ReadOnlySpan<bool> available, Span<int> order, string? routingKey)
    {
        var count = order.Length;
        var eligible = CountEligible(available, count, out var all);
        var turn = (int)((Interlocked.Increment(ref _counter) - 1) % (ulong)eligible);

        // The turn-th eligible member starts; counting only eligible members keeps turns even when one is out,
        // instead of doubling the share of the member after it.
        var start = 0;
        for (var i = 0; i < count; i++)
        {
            if ((all || available[i]) && turn-- == 0)
            {
                start = i;
                break;
            }
        }

        for (var i = 0; i < count; i++)
        {
            var member = start + i;
            order[i] = member < count ? member : member - count;
        }
    }
}

/// <summary>
/// Prefers the member that has been fastest lately. Each member keeps an exponentially weighted moving
/// average of reported latencies, <c>avg = avg + alpha * (sample - avg)</c>: recent calls count most, so the
/// order follows a provider that slows down or recovers, while one slow call does not flip it. Members never
/// measured come first, in configured order, so each gets a measurement; then ascending average, ties in
/// configured order.
/// </summary>
/// <remarks>
/// Only members that are tried get new measurements, so a member that was slow stays behind until the
/// preferred ones get slower than its last average or fail (their fallbacks then report latencies too).
/// Until a member's first report arrives, concurrent calls all try it first.
/// </remarks>
internal sealed class LowestLatencySelector : CandidateSelector
{
    /// <summary>The default smoothing factor: a sample's weight halves after about two further samples.</summary>
    public const double DefaultAlpha = 0.3;

    private const long Untried = -1;

    private readonly double _alpha;

    // Average latency in ticks per member, or Untried. Updated lock-free with compare-exchange.
    private readonly long[] _averageTicks;

    /// <summary>Creates a lowest-latency selector.</summary>
    /// <param name="members">The members.</param>
    /// <param name="alpha">The weight of each new sample in (0, 1]; 1 keeps only the latest sample.</param>
    public LowestLatencySelector(IEnumerable<CandidateMember> members, double alpha = DefaultAlpha)
        : base(members)
    {
        if (!(alpha > 0 && alpha <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "The smoothing factor must be in (0, 1].");
        }

        _alpha = alpha;
        _averageTicks = new long[Members.Length];
        Array.Fill(_averageTicks, Untried);
    }

    /// <summary>Folds a successful call's latency into the member's moving average; negative latencies count as zero.</summary>
    public override void ReportLatency(int member, TimeSpan latency)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(member);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(member, _averageTicks.Length);
        var sample = Math.Max(latency.Ticks, 0);
        ref var slot = ref _averageTicks[member];
        var current = Volatile.Read(ref slot);
        while (true)
        {
            var updated = current == Untried ? sample : current + (long)Math.Round(_alpha * (sample - current));
            var seen = Interlocked.CompareExchange(ref slot, updated, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>Gets a member's moving average latency, or <see langword="null"/> before its first report.</summary>
    public TimeSpan? GetAverageLatency(int member)
    {
        var ticks = Volatile.Read(ref _averageTicks[member]);
        return ticks == Untried ? null : TimeSpan.FromTicks(ticks);
    }

    /// <inheritdoc/>
    private protected override void Arrange(ReadOnlySpan<bool> available, Span<int> order, string? routingKey)
    {
        // Snapshot the averages so concurrent reports cannot change keys mid-sort. Untried (-1) sorts first.
        var count = order.Length;
        Span<long> keys = count <= StackLimit ? stackalloc long[count] : new long[count];
        for (var i = 0; i < count; i++)
        {
            keys[i] = Volatile.Read(ref _averageTicks[i]);
        }

        SortByKey<long>(order, keys);
    }
}

/// <summary>Tries the cheapest member first: ascending <see cref="CandidateMember.Rank"/>, ties in configured order.</summary>
internal sealed class LowestCostSelector : CandidateSelector
{
    private readonly int[] _byRank;

    /// <summary>Creates a lowest-cost selector; the order is fixed, so it is computed once here.</summary>
    public LowestCostSelector(IEnumerable<CandidateMember> members)
        : base(members)
    {
        var ranks = new int[Members.Length];
        for (var i = 0; i < ranks.Length; i++)
        {
            ranks[i] = Members[i].Rank;
        }

        _byRank = SortedOnce<int>(ranks);
    }

    /// <inheritdoc/>
    private protected override void Arrange(ReadOnlySpan<bool> available, Span<int> order, string? routingKey) => _byRank.CopyTo(order);
}

/// <summary>
/// A 64-bit string hash that is the same in every process, on every machine and in every version, unlike
/// <see cref="string.GetHashCode()"/>, which is randomized per process. Sticky routing depends on it: a change
/// would move every routing key to a different member.
/// </summary>
/// <remarks>
/// FNV-1a 64 over the UTF-16 little-endian bytes of the text, then the MurmurHash3 64-bit finalizer, because
/// FNV-1a alone mixes the last characters poorly into the high bits that <see cref="ToOpenUnitInterval"/> uses.
/// Not for security: anyone can craft keys that collide, which only lets them choose their own member.
/// </remarks>
internal static class StableHash
{
    /// <summary>The FNV-1a 64 offset basis: the state before any input.</summary>
    public const ulong Seed = 0xcbf29ce484222325;

    private const ulong Prime = 0x00000100000001b3;

    /// <summary>Hashes a whole string.</summary>
    public static ulong Hash(ReadOnlySpan<char> text) => Finish(Append(Seed, text));

    /// <summary>Continues an FNV-1a state with more text, so a shared prefix is hashed only once.</summary>
    public static ulong Append(ulong state, ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            state = Append(state, c);
        }

        return state;
    }

    /// <summary>Continues an FNV-1a state with one UTF-16 code unit, low byte first.</summary>
    public static ulong Append(ulong state, char c)
    {
        state = (state ^ (byte)c) * Prime;
        return (state ^ (byte)(c >> 8)) * Prime;
    }

    /// <summary>Spreads every input bit over all 64 output bits (MurmurHash3 fmix64).</summary>
    public static ulong Finish(ulong state)
    {
        state ^= state >> 33;
        state *= 0xff51afd7ed558ccd;
        state ^= state >> 33;
        state *= 0xc4ceb9fe1a85ec53;
        return state ^ (state >> 33);
    }

    /// <summary>
    /// Maps a hash to a uniform double strictly between 0 and 1, so its logarithm is finite and never zero.
    /// It keeps the top 52 bits: with 53, adding the half step to the largest value would round up to exactly 1.
    /// </summary>
    public static double ToOpenUnitInterval(ulong hash) => ((hash >> 12) + 0.5) * (1.0 / (1UL << 52));
}
