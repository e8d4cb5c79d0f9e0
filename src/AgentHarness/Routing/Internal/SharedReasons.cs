namespace AgentHarness.Routing.Internal;

/// <summary>
/// One instance for each recently seen failure reason. While a provider is down, every call's failed attempt has the
/// same reason (<c>HTTP 503 server_error</c>); a new string for each would be kept by each usage record the ledger and
/// the runs hold, and each would live long enough to be copied by the collector. Sharing them makes those records
/// hold one string, and leaves the one built for the attempt to die young.
/// </summary>
/// <remarks>
/// A small table indexed by the text's hash, so that a few reasons that alternate (two providers failing differently)
/// each keep their slot, and a stream of distinct reasons (a hostile upstream's random codes) cannot grow it. Slots are
/// replaced without a lock: a race only means one more string. One table per harness (its routing loop).
/// </remarks>
internal sealed class SharedReasons
{
    private const int Slots = 64;

    private readonly string?[] _table = new string?[Slots];

    /// <summary>Returns the instance kept for <paramref name="reason"/>'s text, keeping this one when there is none.</summary>
    public string Share(string reason)
    {
        ref var slot = ref _table[reason.GetHashCode(StringComparison.Ordinal) & (Slots - 1)];
        var kept = Volatile.Read(ref slot);
        if (kept is not null && string.Equals(kept, reason, StringComparison.Ordinal))
        {
            return kept;
        }

        Volatile.Write(ref slot, reason);
        return reason;
    }
}
