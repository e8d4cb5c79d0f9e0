namespace AgentHarness.Budget.Internal;

/// <summary>
/// The budget counters of one process. One lock makes a reservation across several counters a
/// single step: the work under it is a few additions, far shorter than any model call it guards.
/// Counters whose window has long ended are dropped as the store is used. Reservations live in the
/// process, so leases do not apply, and the guard settles each reservation once, so ids are not tracked.
/// </summary>
internal sealed class InMemoryBudgetStore(TimeProvider timeProvider) : IBudgetStore
{
    private const int SweepEvery = 1024;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Counter> _counters = new(StringComparer.Ordinal);
    private int _operations;

    public ValueTask<BudgetReserveResult> TryReserveAsync(IReadOnlyList<BudgetCounter> counters, BudgetReservation reservation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(counters);
        var amountUsd = reservation.AmountUsd;
        ArgumentOutOfRangeException.ThrowIfNegative(amountUsd);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            Sweep();
            for (var i = 0; i < counters.Count; i++)
            {
                var counter = _counters.GetValueOrDefault(counters[i].Key);
                var spent = counter?.Spent ?? 0m;
                var reserved = counter?.Reserved ?? 0m;
                if (spent + reserved + amountUsd > counters[i].LimitUsd)
                {
                    return ValueTask.FromResult(new BudgetReserveResult(false, i, new BudgetCounterState(spent, reserved)));
                }
            }

            foreach (var requested in counters)
            {
                Get(requested).Reserved += amountUsd;
            }
        }

        return ValueTask.FromResult(BudgetReserveResult.Success);
    }

    public ValueTask<BudgetSettleResult> SettleAsync(IReadOnlyList<BudgetCounter> counters, BudgetReservation reservation, decimal actualUsd, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(counters);
        var reservedUsd = reservation.AmountUsd;
        ArgumentOutOfRangeException.ThrowIfNegative(reservedUsd);
        ArgumentOutOfRangeException.ThrowIfNegative(actualUsd);
        var states = new BudgetCounterState[counters.Count];
        lock (_gate)
        {
            for (var i = 0; i < counters.Count; i++)
            {
                var counter = Get(counters[i]);
                counter.Reserved = Math.Max(0m, counter.Reserved - reservedUsd);
                counter.Spent += actualUsd;
                states[i] = new BudgetCounterState(counter.Spent, counter.Reserved);
            }
        }

        return ValueTask.FromResult(new BudgetSettleResult(states, actualUsd, AlreadySettled: false));
    }

    public ValueTask<BudgetCounterState> GetAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_gate)
        {
            return ValueTask.FromResult(_counters.TryGetValue(key, out var counter)
                ? new BudgetCounterState(counter.Spent, counter.Reserved)
                : default);
        }
    }

    /// <summary>Gets how many counters the store holds.</summary>
    internal int Count
    {
        get
        {
            lock (_gate)
            {
                return _counters.Count;
            }
        }
    }

    private Counter Get(BudgetCounter requested)
    {
        if (!_counters.TryGetValue(requested.Key, out var counter))
        {
            counter = new Counter();
            _counters.Add(requested.Key, counter);
        }

        // A counter lives until the latest expiry any caller gave it.
        if (requested.ExpiresAt > counter.ExpiresAt)
        {
            counter.ExpiresAt = requested.ExpiresAt;
        }

        return counter;
    }

    private void Sweep()
    {
        if (++_operations % SweepEvery != 0)
        {
            return;
        }

        var now = timeProvider.GetUtcNow();
        List<string>? expired = null;
        foreach (var (key, counter) in _counters)
        {
            // A counter with a reservation in flight stays: its settle must find it.
            if (counter.ExpiresAt <= now && counter.Reserved == 0m)
            {
                (expired ??= []).Add(key);
            }
        }

        if (expired is not null)
        {
            foreach (var key in expired)
            {
                _counters.Remove(key);
            }
        }
    }

    private sealed class Counter
    {
        public decimal Spent;
        public decimal Reserved;
        public DateTimeOffset ExpiresAt;
    }
}
