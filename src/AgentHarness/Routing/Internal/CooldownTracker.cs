using System.Collections.Concurrent;

namespace AgentHarness.Routing.Internal;

/// <summary>
/// A per-candidate circuit breaker: after <c>failuresBeforeCooldown</c> consecutive failures a candidate
/// (a key such as <c>openai/gpt-4.1</c>) is held back for <c>cooldownPeriod</c>, so a router stops
/// spending latency and quota on a provider that is down or throttling; once the period is over exactly
/// one call is let through as a probe, and its outcome decides whether the candidate is back.
/// </summary>
/// <remarks>
/// <para>
/// The tracker only counts: the caller decides which failures say something about the candidate's
/// health (a 5xx or 429 does, a 400 caused by the request does not) and reports only those.
/// </para>
/// <para>
/// Every key has its own state and its own lock, so one key's traffic never waits on another's and
/// there is no global lock. A key is stored on its first failure only, and removed again when a success
/// brings it back to closed with no failures; <see cref="TryAcquire"/>, <see cref="ReportSuccess"/> and
/// <see cref="IsAvailable"/> on a closed key take no lock and allocate nothing, because they run on every
/// model call.
/// </para>
/// <para>
/// At most <c>capacity</c> keys are stored, because the keys come from model ids that callers choose: a
/// caller sending thousands of made-up ids that all fail must not grow the tracker for ever. When a new key
/// finds the tracker full, the states that hold nothing back are dropped (closed ones, whose partial count
/// is lost, and cooldowns whose period is over, which then let calls through without a probe); if every
/// stored key is still cooling down, the new key's failure is not counted.
/// </para>
/// <para>
/// Time is measured with <see cref="TimeProvider.GetTimestamp"/>, which is monotonic, so changes to the
/// wall clock neither shorten nor extend a cooldown, and tests can drive it with a fake provider.
/// </para>
/// <para>
/// Reports that arrive while a key is cooling down or probing, other than the probe's own, come from calls
/// that started before the cooldown opened. They are ignored: a late failure neither extends the period nor
/// reopens it under a probe that is doing well, and a late success neither ends it early nor closes it while
/// the probe is still in flight, so a burst of stale outcomes cannot make the key flap. Only the probe
/// decides, which is why every report says whether it comes from the probe.
/// </para>
/// <para>
/// With <see cref="ISharedCooldowns"/> (replicas sharing cooldowns), a key another process cools down is
/// held back here too, for the rest of its period, and once a period is over the probe must also be won
/// across processes. Without it, which is the default, the tracker is on its own.
/// </para>
/// </remarks>
internal sealed class CooldownTracker
{
    /// <summary>
    /// The default number of stored keys: far more than the candidates a configuration names, few enough
    /// that a sweep of a full tracker stays cheap next to the failed call that triggers it.
    /// </summary>
    public const int DefaultCapacity = 1024;

    private readonly ConcurrentDictionary<string, State> _states = new(StringComparer.Ordinal);
    private readonly TimeProvider _timeProvider;
    private readonly int _failuresBeforeCooldown;
    private readonly TimeSpan _cooldownPeriod;
    private readonly int _capacity;
    private readonly ISharedCooldowns? _shared;

    // Only new keys arriving at a full tracker sweep, one at a time.
    private readonly Lock _sweepGate = new();

    // Stored keys, kept here because ConcurrentDictionary.Count takes every bucket lock. A slot is taken
    // before a state is added, so the count never exceeds the capacity.
    private int _count;

    /// <summary>Creates a tracker whose keys all share the same threshold and period.</summary>
    /// <param name="timeProvider">The clock; a fake one in tests.</param>
    /// <param name="failuresBeforeCooldown">How many consecutive failures open the cooldown; at least 1.</param>
    /// <param name="cooldownPeriod">How long a key is held back before a probe is allowed; not negative.</param>
    /// <param name="capacity">The most keys stored at once; at least 1.</param>
    /// <param name="shared">The cooldowns of the other processes, or <see langword="null"/> for this process alone.</param>
    public CooldownTracker(TimeProvider timeProvider, int failuresBeforeCooldown, TimeSpan cooldownPeriod, int capacity = DefaultCapacity, ISharedCooldowns? shared = null)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentOutOfRangeException.ThrowIfLessThan(failuresBeforeCooldown, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cooldownPeriod, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _timeProvider = timeProvider;
        _failuresBeforeCooldown = failuresBeforeCooldown;
        _cooldownPeriod = cooldownPeriod;
        _capacity = capacity;
        _shared = shared;
    }

    /// <summary>Gets how many keys have a stored state (failing, cooling down or probing).</summary>
    internal int Count => Volatile.Read(ref _count);

    private enum Phase
    {
        /// <summary>Healthy: every call may go through.</summary>
        Closed,

        /// <summary>Cooling down until the period since <see cref="State.OpenedAt"/> is over; then one probe may go.</summary>
        Open,

        /// <summary>The period is over and one probe is in flight; everyone else waits for its outcome.</summary>
        Probing,
    }

    /// <summary>
    /// Decides whether a call to the candidate may start now, and takes the probe slot when the
    /// cooldown is over.
    /// </summary>
    /// <param name="key">The candidate key.</param>
    /// <param name="isProbe">
    /// <see langword="true"/> when this caller got the single half-open probe: it must then call
    /// <see cref="ReportSuccess"/> or <see cref="ReportFailure"/> with <c>isProbe</c> set, or
    /// <see cref="ReleaseProbe"/> (in a <c>finally</c>), or the key stays held back.
    /// </param>
    /// <returns>
    /// <see langword="true"/> when the key is closed, or when the cooldown is over and this caller won the probe;
    /// <see langword="false"/> while cooling down or while another caller's probe is in flight.
    /// </returns>
    public bool TryAcquire(string key, out bool isProbe)
    {
        ArgumentNullException.ThrowIfNull(key);
        isProbe = false;

        // A key that never failed has no state, and a closed one needs no lock: the common path is a lookup.
        if (!_states.TryGetValue(key, out var state) || state.Current == Phase.Closed)
        {
            if (_shared?.CoolingDownElsewhere(key) is null)
            {
                return true;
            }

            // Another process cools the key down: this one holds it back too, and takes part in its probe.
            state ??= Adopt(key);
            if (state is null)
            {
                // Full of keys cooling down: held back for this call, just not remembered.
                return false;
            }
        }

        lock (state.Gate)
        {
            if (state.Current == Phase.Closed && !state.Removed && _shared?.CoolingDownElsewhere(key) is { } cooling)
            {
                OpenAsElsewhere(state, cooling);
            }

            switch (state.Current)
            {
                case Phase.Closed:
                    // Also a state removed meanwhile: removal leaves it closed.
                    return true;
                case Phase.Open when _timeProvider.GetElapsedTime(state.OpenedAt) >= _cooldownPeriod:
                    var elsewhere = _shared?.CoolingDownElsewhere(key);
                    if (elsewhere > TimeSpan.Zero)
                    {
                        // Another process's probe failed meanwhile: its new period holds here too.
                        OpenAsElsewhere(state, elsewhere.Value);
                        return false;
                    }

                    if (state.Adopted && elsewhere is null)
                    {
                        // The other process's probe succeeded: the key is healthy here too.
                        Remove(key, state);
                        return true;
                    }

                    if (_shared is not null && !_shared.TryTakeProbe(key))
                    {
                        // Another process probes: its verdict reaches this one as a closing or a new cooldown.
                        return false;
                    }

                    // Half-open: the lock makes this caller the only one to see Open here.
                    state.Current = Phase.Probing;
                    isProbe = true;
                    return true;
                default:
                    return false;
            }
        }
    }

    /// <summary>
    /// Whether <see cref="TryAcquire"/> would let a call through right now (closed, or cooldown over with the
    /// probe slot free), without taking the probe slot.
    /// </summary>
    /// <remarks>
    /// This is for ordering candidates before trying them: asking <see cref="TryAcquire"/> for every candidate
    /// up front would take probe slots for candidates the call may never try. The answer can be stale by
    /// the time the candidate is tried, so <see cref="TryAcquire"/> still has the last word.
    /// </remarks>
    public bool IsAvailable(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!_states.TryGetValue(key, out var state) || state.Current == Phase.Closed)
        {
            return _shared?.CoolingDownElsewhere(key) is not { } elsewhere || elsewhere <= TimeSpan.Zero;
        }

        lock (state.Gate)
        {
            return state.Current switch
            {
                Phase.Closed => true,
                Phase.Open => _timeProvider.GetElapsedTime(state.OpenedAt) >= _cooldownPeriod,
                _ => false,
            };
        }
    }

    /// <summary>
    /// Records a call that worked: resets the consecutive failure count, and closes the key when the call
    /// was the probe. Any other success while cooling down or probing (a call that started before the
    /// cooldown) is ignored.
    /// </summary>
    /// <param name="key">The candidate key.</param>
    /// <param name="isProbe">Whether the call was the probe, as <see cref="TryAcquire"/> said.</param>
    public void ReportSuccess(string key, bool isProbe)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!_states.TryGetValue(key, out var state))
        {
            return;
        }

        // Nothing to reset: skip the lock on the path every successful call takes. A failure racing with
        // this read simply counts as having happened after this success.
        if (state.Current == Phase.Closed && Volatile.Read(ref state.Failures) == 0)
        {
            return;
        }

        lock (state.Gate)
        {
            if (state.Current == Phase.Closed || (state.Current == Phase.Probing && isProbe))
            {
                if (state.Current == Phase.Probing)
                {
                    _shared?.Closed(key);
                }

                // Closed with no failures is what a missing key means: free the slot.
                Remove(key, state);
            }
        }
    }

    /// <summary>
    /// Records a failure that says the candidate is unhealthy. The <c>failuresBeforeCooldown</c>-th consecutive
    /// failure opens the cooldown from now; a failed probe re-opens it for another full period; any other
    /// failure while cooling down or probing (a call that started before the cooldown) is ignored.
    /// </summary>
    /// <param name="key">The candidate key.</param>
    /// <param name="isProbe">Whether the call was the probe, as <see cref="TryAcquire"/> said.</param>
    public void ReportFailure(string key, bool isProbe)
    {
        ArgumentNullException.ThrowIfNull(key);
        while (true)
        {
            if (!_states.TryGetValue(key, out var state))
            {
                if (isProbe)
                {
                    // The probe's state cannot have been swept (probing states are kept): nothing to decide.
                    return;
                }

                if (!TryTakeSlot())
                {
                    // Every stored key is cooling down; counting this one would need unbounded memory.
                    return;
                }

                var created = new State();
                if (!_states.TryAdd(key, created))
                {
                    Interlocked.Decrement(ref _count);
                    continue;
                }

                state = created;
            }

            lock (state.Gate)
            {
                if (state.Removed)
                {
                    // Removed between the lookup and the lock: count the failure on the key's new state.
                    continue;
                }

                switch (state.Current)
                {
                    case Phase.Closed:
                        if (++state.Failures >= _failuresBeforeCooldown)
                        {
                            Open(state);
                            _shared?.Opened(key, _cooldownPeriod);
                        }

                        break;
                    case Phase.Probing when isProbe:
                        Open(state);
                        _shared?.Opened(key, _cooldownPeriod);
                        break;
                }

                return;
            }
        }
    }

    /// <summary>
    /// Gives back a probe slot whose call ended without saying anything about the candidate (cancelled by the
    /// caller, failed for a reason that is not the candidate's), so the next caller can probe at once; nothing
    /// is counted. Does nothing when no probe is in flight.
    /// </summary>
    public void ReleaseProbe(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!_states.TryGetValue(key, out var state))
        {
            return;
        }

        lock (state.Gate)
        {
            if (state.Current == Phase.Probing)
            {
                // OpenedAt is unchanged and its period is already over, so the next TryAcquire gets the probe.
                state.Current = Phase.Open;
                _shared?.ReleaseProbe(key);
            }
        }
    }

    /// <summary>
    /// How much longer the key is held back, for error messages: the rest of the period while cooling down,
    /// <see cref="TimeSpan.Zero"/> while a probe is in flight (the period is over but other callers still wait
    /// for the probe), and <see langword="null"/> when calls may go through (closed, or a probe is available).
    /// </summary>
    public TimeSpan? RemainingCooldown(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!_states.TryGetValue(key, out var state) || state.Current == Phase.Closed)
        {
            return _shared?.CoolingDownElsewhere(key) is { } elsewhere && elsewhere > TimeSpan.Zero ? elsewhere : null;
        }

        lock (state.Gate)
        {
            switch (state.Current)
            {
                case Phase.Open:
                    var remaining = _cooldownPeriod - _timeProvider.GetElapsedTime(state.OpenedAt);
                    return remaining > TimeSpan.Zero ? remaining : null;
                case Phase.Probing:
                    return TimeSpan.Zero;
                default:
                    return null;
            }
        }
    }

    /// <summary>Counts the keys holding calls back now (cooling down, or waiting for a probe in flight), for the cooldowns metric.</summary>
    public int CountCoolingDown()
    {
        var cooling = 0;
        foreach (var (_, state) in _states)
        {
            lock (state.Gate)
            {
                if (state.Current == Phase.Probing || (state.Current == Phase.Open && _timeProvider.GetElapsedTime(state.OpenedAt) < _cooldownPeriod))
                {
                    cooling++;
                }
            }
        }

        return cooling;
    }

    /// <summary>
    /// Takes a slot for a new key, sweeping the tracker when it is full; <see langword="false"/> when every
    /// stored key is still holding calls back.
    /// </summary>
    private bool TryTakeSlot()
    {
        if (Interlocked.Increment(ref _count) <= _capacity)
        {
            return true;
        }

        Interlocked.Decrement(ref _count);
        lock (_sweepGate)
        {
            // Another sweep may have made room while this one waited.
            if (Interlocked.Increment(ref _count) <= _capacity)
            {
                return true;
            }

            Interlocked.Decrement(ref _count);
            foreach (var (key, state) in _states)
            {
                lock (state.Gate)
                {
                    // Keep what holds calls back: a cooldown still running, and a probe in flight (its report needs it).
                    var holding = state.Current == Phase.Probing
                        || (state.Current == Phase.Open && _timeProvider.GetElapsedTime(state.OpenedAt) < _cooldownPeriod);
                    if (!holding && !state.Removed)
                    {
                        Remove(key, state);
                    }
                }
            }

            if (Interlocked.Increment(ref _count) <= _capacity)
            {
                return true;
            }

            Interlocked.Decrement(ref _count);
            return false;
        }
    }

    /// <summary>
    /// Drops a key's state, leaving it closed with no failures, which is how a missing key behaves. Callers
    /// hold the state's lock; a caller that looked the state up before this and locks it afterwards sees
    /// <see cref="State.Removed"/> and looks again.
    /// </summary>
    private void Remove(string key, State state)
    {
        state.Current = Phase.Closed;
        state.Failures = 0;
        state.Removed = true;
        if (_states.TryRemove(new KeyValuePair<string, State>(key, state)))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>
    /// A state for a key another process cools down (closed: the lock then opens it as the other process
    /// did), or the one a failure here stored meanwhile; <see langword="null"/> when the tracker is full.
    /// </summary>
    private State? Adopt(string key)
    {
        if (!TryTakeSlot())
        {
            return null;
        }

        var adopted = new State();
        if (_states.TryAdd(key, adopted))
        {
            return adopted;
        }

        Interlocked.Decrement(ref _count);
        return _states.TryGetValue(key, out var stored) ? stored : null;
    }

    /// <summary>Opens a state as another process's cooldown, with <paramref name="remaining"/> of its period left. Callers hold the state's lock.</summary>
    private void OpenAsElsewhere(State state, TimeSpan remaining)
    {
        state.OpenedAt = _timeProvider.GetTimestamp() - (long)((_cooldownPeriod - remaining).TotalSeconds * _timeProvider.TimestampFrequency);
        state.Failures = 0;
        state.Adopted = true;
        state.Current = Phase.Open;
    }

    /// <summary>Starts a full cooldown period from now. Callers hold the state's lock.</summary>
    private void Open(State state)
    {
        state.Adopted = false;
        state.OpenedAt = _timeProvider.GetTimestamp();
        state.Failures = 0;
        state.Current = Phase.Open;
    }

    /// <summary>One key's state; every field is written under <see cref="Gate"/>.</summary>
    private sealed class State
    {
        /// <summary>The key's own lock, so keys never contend with each other.</summary>
        public readonly Lock Gate = new();

        /// <summary>Volatile so the closed fast paths can read it without taking <see cref="Gate"/>.</summary>
        public volatile Phase Current;

        /// <summary>Consecutive failures while closed.</summary>
        public int Failures;

        /// <summary>The <see cref="TimeProvider.GetTimestamp"/> at which the current cooldown began.</summary>
        public long OpenedAt;

        /// <summary>Whether the state has left the dictionary; a failure that finds it so is counted on a new state.</summary>
        public bool Removed;

        /// <summary>Whether the cooldown was opened by another process (<see cref="ISharedCooldowns"/>), whose probe may close it.</summary>
        public bool Adopted;
    }
}
