namespace AgentHarness.Pipeline.Internal;

/// <summary>
/// Carries the records of the calls made in a scope back to whoever opened the scope: the <c>IChatClient</c> wrapper
/// opens one around each call it passes down and reads that call's record off it; the Agent Framework middleware opens
/// one around an agent run and reads every round trip's.
/// </summary>
/// <remarks>
/// <para>
/// An official client builds its own <see cref="HttpRequestMessage"/>, so nothing above it can put a slot on the request;
/// the scope travels instead as an <see cref="AsyncLocal{T}"/>, which flows into the handler where the call's context
/// is built. The context takes the scope once, when the call starts (<see cref="CallContext.Capture"/>), and the
/// recorder fills it when the call ends: a stream ends on whatever flow reads it to its end, so the end never looks
/// the scope up again.
/// </para>
/// <para>
/// Each opener's flow has its own value, so concurrent calls on one client each get their own record, and a call made
/// outside every scope costs one read of an empty <see cref="AsyncLocal{T}"/>. Scopes nest: a record goes to the scope
/// the call was made in and to every scope that encloses it (an agent run's round trips reach both the wrapper's
/// per-call scope and the agent run's).
/// </para>
/// </remarks>
internal sealed class UsageCapture
{
    private static readonly AsyncLocal<UsageCapture?> CurrentScope = new();

    private readonly UsageCapture? _parent;
    private readonly List<UsageRecord> _records = new(1);

    private UsageCapture(UsageCapture? parent) => _parent = parent;

    /// <summary>Gets the innermost open scope of this flow, or <see langword="null"/>.</summary>
    public static UsageCapture? Current => CurrentScope.Value;

    /// <summary>Gets the record of the last call that ended in this scope, or <see langword="null"/> when none has.</summary>
    public UsageRecord? Last
    {
        get
        {
            lock (_records)
            {
                return _records.Count == 0 ? null : _records[^1];
            }
        }
    }

    /// <summary>Gets the records of the calls that ended in this scope, in the order they ended.</summary>
    public UsageRecord[] Records
    {
        get
        {
            lock (_records)
            {
                return [.. _records];
            }
        }
    }

    /// <summary>Opens a scope inside the current one; it is current on this flow until the returned handle is disposed.</summary>
    public static Scope Open(out UsageCapture capture)
    {
        var previous = CurrentScope.Value;
        capture = new UsageCapture(previous);
        CurrentScope.Value = capture;
        return new Scope(previous);
    }

    /// <summary>
    /// Leaves every scope on this flow, for the rest of it: the calls made after this are nobody's to capture. An async
    /// method that calls it changes only its own flow, and its caller's scopes are current again when it returns.
    /// </summary>
    public static void LeaveAll() => CurrentScope.Value = null;

    /// <summary>Adds the record of a call that ended to this scope and to every scope enclosing it.</summary>
    public void Add(UsageRecord record)
    {
        for (var scope = this; scope is not null; scope = scope._parent)
        {
            lock (scope._records)
            {
                scope._records.Add(record);
            }
        }
    }

    /// <summary>Makes the enclosing scope current again.</summary>
    public readonly struct Scope(UsageCapture? previous) : IDisposable
    {
        public void Dispose() => CurrentScope.Value = previous;
    }
}
