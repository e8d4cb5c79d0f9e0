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
/// One reservation of an attempt, as the store sees it: an id that names it in every call to the
/// store, the amount held on each counter, and how long the hold may outlive its process.
/// </summary>
/// <param name="Id">
/// The reservation's id, unique per reservation. A store that can see a call twice (one retried after
/// a timeout) applies each reserve and each settle of an id once.
/// </param>
/// <param name="AmountUsd">The amount held on every counter, in US dollars; zero for a charge that reserved nothing.</param>
/// <param name="Lease">
/// How long the store may hold the amount without a settle: a store shared by several processes
/// drops a reservation whose lease ran out, so a process that died mid-call holds no budget after
/// it. The harness derives it from the call timeouts (see <see cref="BudgetLease"/>); a store whose
/// reservations end with its process may ignore it.
/// </param>
public readonly record struct BudgetReservation(string Id, decimal AmountUsd, TimeSpan Lease);

/// <summary>The answer of <see cref="IBudgetStore.SettleAsync"/>.</summary>
/// <param name="Counters">
/// Each counter's figures right after the settle, in the order of the counters; empty when the store
/// cannot say (the settle had been applied before, or it was counted where the figures are not shared).
/// </param>
/// <param name="ChargedUsd">What the settle added to each counter's spend: the actual amount, as the store rounds it.</param>
/// <param name="AlreadySettled">Whether an earlier settle of the same reservation id had already been applied, so this one changed nothing.</param>
public readonly record struct BudgetSettleResult(IReadOnlyList<BudgetCounterState> Counters, decimal ChargedUsd, bool AlreadySettled);

/// <summary>
/// Holds the budget counters. The in-memory store serves one process; a shared store (Redis) lets
/// several processes share the same limits. Both must be atomic as described on each member:
/// check-then-increment without a reservation is how concurrent calls overrun a budget.
/// </summary>
/// <remarks>
/// Implementations must be thread safe. Amounts are never negative. A store that cannot reach its
/// counters throws <see cref="BudgetStoreUnavailableException"/>, never <see cref="BudgetExceededException"/>:
/// an unreachable store is not a spent budget.
/// </remarks>
public interface IBudgetStore
{
    /// <summary>
    /// Reserves <see cref="BudgetReservation.AmountUsd"/> on every counter, or on none: as one atomic
    /// step, if for every counter <c>spent + reserved + amount &lt;= limit</c>, adds the amount to each
    /// counter's reserved figure; otherwise changes nothing and reports the first counter without room.
    /// A reserve of an id that is already held succeeds and changes nothing; one of an id already
    /// settled reserves nothing (a shared store throws <see cref="InvalidOperationException"/>: an id is for one reservation).
    /// </summary>
    /// <param name="counters">The counters, created empty when new.</param>
    /// <param name="reservation">The reservation: its id, amount and lease.</param>
    /// <param name="cancellationToken">Cancels the reservation; nothing is reserved then (a shared store's lease bounds a reservation that landed anyway).</param>
    /// <returns>Whether the amount was reserved, and which counter refused it.</returns>
    /// <exception cref="BudgetStoreUnavailableException">The store could not be reached, and it does not let calls through without it.</exception>
    ValueTask<BudgetReserveResult> TryReserveAsync(IReadOnlyList<BudgetCounter> counters, BudgetReservation reservation, CancellationToken cancellationToken);

    /// <summary>
    /// Ends a reservation, as one atomic step on every counter: subtracts the reservation's amount
    /// from its reserved figure (never below zero; nothing when its lease already ran out) and adds
    /// <paramref name="actualUsd"/> to its spend. A release is a settle with an actual amount of zero.
    /// Idempotent by <see cref="BudgetReservation.Id"/>: a settle retried after a timeout changes nothing twice.
    /// </summary>
    /// <param name="counters">The counters the amount was reserved on.</param>
    /// <param name="reservation">The reservation, as it was reserved; an amount of zero for a charge that reserved nothing.</param>
    /// <param name="actualUsd">The amount actually spent, which may exceed the reservation.</param>
    /// <param name="cancellationToken">Cancels the wait; callers settle with <see cref="CancellationToken.None"/> because a reservation must always end.</param>
    /// <returns>Each counter's figures after the settle and what it charged.</returns>
    ValueTask<BudgetSettleResult> SettleAsync(IReadOnlyList<BudgetCounter> counters, BudgetReservation reservation, decimal actualUsd, CancellationToken cancellationToken);

    /// <summary>Reads a counter's figures.</summary>
    /// <param name="key">The counter's key.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The figures; zero for a counter the store does not hold.</returns>
    ValueTask<BudgetCounterState> GetAsync(string key, CancellationToken cancellationToken);
}
