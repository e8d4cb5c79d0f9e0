namespace AgentHarness;

/// <summary>
/// The budget stage of the harness: raises an event when spending crosses a threshold of a limit,
/// and reads the figures of a budget rule.
/// </summary>
public interface IBudgetGuard
{
    /// <summary>
    /// Raised, once per counter and threshold, when a call's settled cost takes the spend of a
    /// budget rule's counter (or of a run with <see cref="AgentRun.MaxCostUsd"/>) to or past one of
    /// <see cref="AgentHarnessOptions.BudgetThresholds"/>. It is raised on the thread that ended the
    /// call; an exception from a handler is logged and does not reach the call.
    /// </summary>
    event EventHandler<BudgetThresholdEventArgs>? ThresholdReached;

    /// <summary>Reads the current window's figures of a budget rule.</summary>
    /// <param name="rule">The rule's name in <see cref="AgentHarnessOptions.Budgets"/>.</param>
    /// <param name="value">The dimension value, for example a customer; ignored by a rule with a fixed value or a <c>global</c> one.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The rule's figures in the window that contains the current time.</returns>
    /// <exception cref="ArgumentException">No rule has that name, the rule's window is <see cref="BudgetWindow.Run"/> (read the run's figures instead), or <paramref name="value"/> is missing for a rule that needs one.</exception>
    ValueTask<BudgetStatus> GetStatusAsync(string rule, string? value = null, CancellationToken cancellationToken = default);
}

/// <summary>A budget counter's figures.</summary>
/// <param name="Rule">The rule's name, or <c>MaxCostUsd</c> for a run's own cap.</param>
/// <param name="Value">The dimension value the counter is for, or <see langword="null"/> for a global rule.</param>
/// <param name="WindowStart">When the counter's window began (the run's start for a run).</param>
/// <param name="LimitUsd">The limit.</param>
/// <param name="SpentUsd">The settled spend.</param>
/// <param name="ReservedUsd">The worst-case cost held by calls in flight.</param>
public sealed record BudgetStatus(string Rule, string? Value, DateTimeOffset WindowStart, decimal LimitUsd, decimal SpentUsd, decimal ReservedUsd)
{
    /// <summary>Gets what is left to reserve: the limit less spend and reservations, never below zero.</summary>
    public decimal RemainingUsd => Math.Max(0m, LimitUsd - SpentUsd - ReservedUsd);
}

/// <summary>The data of <see cref="IBudgetGuard.ThresholdReached"/>.</summary>
/// <param name="status">The counter's figures right after the call that crossed the threshold.</param>
/// <param name="threshold">The fraction of the limit that was reached, for example 0.8.</param>
/// <param name="runId">The run whose call crossed it, or <see langword="null"/> outside a run.</param>
public sealed class BudgetThresholdEventArgs(BudgetStatus status, double threshold, string? runId) : EventArgs
{
    /// <summary>Gets the counter's figures right after the call that crossed the threshold.</summary>
    public BudgetStatus Status { get; } = status;

    /// <summary>Gets the fraction of the limit that was reached, for example 0.8.</summary>
    public double Threshold { get; } = threshold;

    /// <summary>Gets the run whose call crossed the threshold, or <see langword="null"/> outside a run.</summary>
    public string? RunId { get; } = runId;
}
