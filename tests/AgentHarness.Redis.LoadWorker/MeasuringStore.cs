using AgentHarness;

namespace AgentHarness.Redis.LoadWorker;

/// <summary>Forwards to the Redis store, measuring what each settle charged past its reservation.</summary>
internal sealed class MeasuringStore(IBudgetStore inner) : IBudgetStore
{
    private readonly Lock _gate = new();
    private decimal _excess;
    private decimal _maxExcess;
    private int _reserved;
    private int _inFlight;

    // Completed, and replaced, whenever a count changes: a waiter wakes on the change instead of polling.
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Reserved => Volatile.Read(ref _reserved);

    public int InFlightSettles => Volatile.Read(ref _inFlight);

    /// <summary>Waits until <paramref name="condition"/> holds, checked after each change of the counts; at most <paramref name="bound"/>.</summary>
    /// <returns>Whether it held.</returns>
    public async Task<bool> WaitUntilAsync(Func<MeasuringStore, bool> condition, TimeSpan bound)
    {
        using var giveUp = new CancellationTokenSource(bound);
        while (true)
        {
            var changed = Volatile.Read(ref _changed).Task;
            if (condition(this))
            {
                return true;
            }

            try
            {
                await changed.WaitAsync(giveUp.Token);
            }
            catch (OperationCanceledException)
            {
                return condition(this);
            }
        }
    }

    public decimal ExcessUsd
    {
        get
        {
            lock (_gate)
            {
                return _excess;
            }
        }
    }

    public decimal MaxExcessUsd
    {
        get
        {
            lock (_gate)
            {
                return _maxExcess;
            }
        }
    }

    public async ValueTask<BudgetReserveResult> TryReserveAsync(IReadOnlyList<BudgetCounter> counters, BudgetReservation reservation, CancellationToken cancellationToken)
    {
        var result = await inner.TryReserveAsync(counters, reservation, cancellationToken);
        if (result.Succeeded)
        {
            Interlocked.Increment(ref _reserved);
            Changed();
        }

        return result;
    }

    public async ValueTask<BudgetSettleResult> SettleAsync(IReadOnlyList<BudgetCounter> counters, BudgetReservation reservation, decimal actualUsd, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _inFlight);
        try
        {
            var excess = Math.Max(0m, actualUsd - reservation.AmountUsd);
            lock (_gate)
            {
                _excess += excess;
                _maxExcess = Math.Max(_maxExcess, excess);
            }

            return await inner.SettleAsync(counters, reservation, actualUsd, cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            Changed();
        }
    }

    private void Changed() =>
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    public ValueTask<BudgetCounterState> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);
}
