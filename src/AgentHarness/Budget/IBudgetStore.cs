namespace AgentHarness;

/// <summary>
/// One spending counter a reservation is made against: a budget rule's value in one window, for
/// example the customer <c>acme</c> on 2026-11-24.
/// </summary>
/// <param name="Key">The counter's key; the same rule, value and window always give the same key.</param>
/// <param name="LimitUsd">The most the counter may hold, spent and reserved together, in US dollars.</param>
/// <param name="ExpiresAt">When the store may forget the counter: some time after its window has ended.</param>
public readonly record struct BudgetCounter(string Key, decimal LimitUsd, DateTimeOffset ExpiresAt);

/// <summary>A counter's figures: what was spent and what in-flight calls hold.</summary>
/// <param name="SpentUsd">The settled spend, in US dollars.</param>
/// <param name="ReservedUsd">The worst-case cost held by calls in flight, in US dollars.</param>
public readonly record struct BudgetCounterState(decimal SpentUsd, decimal ReservedUsd);

/// <summary>The answer of <see cref="IBudgetStore.TryReserveAsync"/>.</summary>
/// <param name="Succeeded">Whether the amount was reserved on every counter.</param>
/// <param name="RefusedIndex">The index of the first counter with no room, or -1 when <paramref name="Succeeded"/>.</param>
/// <param name="Refused">That counter's figures when it refused; default when <paramref name="Succeeded"/>.</param>
public readonly record struct BudgetReserveResult(bool Succeeded, int RefusedIndex, BudgetCounterState Refused)
{
    /// <summary>Gets the result of a reservation made on every counter.</summary>
    public static BudgetReserveResult Success { get; } = new(true, -1, default);
}

/// <summary>
/// Holds the budget counters. The in-memory store serves one process; a shared store (Redis) lets
/// several processes share the same limits. Both must be atomic as described on each member:
/// check-then-increment without a reservation is how concurrent calls overrun a budget.
/// </summary>
/// <remarks>Implementations must be thread safe. Amounts are never negative.</remarks>
public interface IBudgetStore
{
    /// <summary>
    /// Reserves <paramref name="amountUsd"/> on every counter, or on none: as one atomic step, if for
    /// every counter <c>spent + reserved + amount &lt;= limit</c>, adds the amount to each counter's
    /// reserved figure; otherwise changes nothing and reports the first counter without room.
    /// </summary>
    /// <param name="counters">The counters, created empty when new.</param>
    /// <param name="amountUsd">The amount to reserve.</param>
    /// <param name="cancellationToken">Cancels the reservation; nothing is reserved then.</param>
    /// <returns>Whether the amount was reserved, and which counter refused it.</returns>
    ValueTask<BudgetReserveResult> TryReserveAsync(IReadOnlyList<BudgetCounter> counters, decimal amountUsd, CancellationToken cancellationToken);

    /// <summary>
    /// Ends a reservation, as one atomic step on every counter: subtracts <paramref name="reservedUsd"/>
    /// from its reserved figure (never below zero) and adds <paramref name="actualUsd"/> to its spend.
    /// A release is a settle with an actual amount of zero.
    /// </summary>
    /// <param name="counters">The counters the amount was reserved on.</param>
    /// <param name="reservedUsd">The amount that was reserved.</param>
    /// <param name="actualUsd">The amount actually spent, which may exceed the reservation.</param>
    /// <param name="cancellationToken">Cancels the wait; callers settle with <see cref="CancellationToken.None"/> because a reservation must always end.</param>
    /// <returns>Each counter's figures after the settle, in the order of <paramref name="counters"/>.</returns>
    ValueTask<IReadOnlyList<BudgetCounterState>> SettleAsync(IReadOnlyList<BudgetCounter> counters, decimal reservedUsd, decimal actualUsd, CancellationToken cancellationToken);

    /// <summary>Reads a counter's figures.</summary>
    /// <param name="key">The counter's key.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The figures; zero for a counter the store does not hold.</returns>
    ValueTask<BudgetCounterState> GetAsync(string key, CancellationToken cancellationToken);
}
