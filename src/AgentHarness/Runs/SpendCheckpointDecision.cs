using System.Globalization;

namespace AgentHarness;

/// <summary>What a spend checkpoint's callback decided: how the run goes on past the checkpoint, or that it stops there.</summary>
public enum SpendCheckpointAction
{
    /// <summary>The call goes on, and so does every later call that crosses the checkpoint: it does not ask again.</summary>
    Continue,

    /// <summary>As <see cref="Continue"/>, with the run's <see cref="AgentRun.MaxCostUsd"/> set to <see cref="SpendCheckpointDecision.MaxCostUsd"/> first.</summary>
    ContinueWithCap,

    /// <summary>
    /// The call is refused with a <see cref="SpendCheckpointException"/> before anything is sent, and so is every later
    /// call whose worst case would carry the run past the checkpoint (without asking again); calls that stay below it go on.
    /// </summary>
    Stop,
}

/// <summary>The answer of a spend checkpoint's callback (see <see cref="AgentRun.AddSpendCheckpoint"/>).</summary>
public sealed class SpendCheckpointDecision
{
    private SpendCheckpointDecision(SpendCheckpointAction action, decimal? maxCostUsd, string? reason)
    {
        Action = action;
        MaxCostUsd = maxCostUsd;
        Reason = reason;
    }

    /// <summary>Gets the decision to go on past the checkpoint with the run's cap as it is.</summary>
    public static SpendCheckpointDecision Continue { get; } = new(SpendCheckpointAction.Continue, null, null);

    /// <summary>Gets what was decided.</summary>
    public SpendCheckpointAction Action { get; }

    /// <summary>Gets the run's new cap, in US dollars, for <see cref="SpendCheckpointAction.ContinueWithCap"/>; otherwise <see langword="null"/>.</summary>
    public decimal? MaxCostUsd { get; }

    /// <summary>Gets why the run was stopped, for <see cref="SpendCheckpointAction.Stop"/>, when the callback said; otherwise <see langword="null"/>.</summary>
    public string? Reason { get; }

    /// <summary>
    /// The decision to go on past the checkpoint with a new cap for the run that holds it: its
    /// <see cref="AgentRun.MaxCostUsd"/> is set before the call reserves, so the call's reservation is tried against it.
    /// </summary>
    /// <param name="maxCostUsd">The run's new cap, in US dollars.</param>
    /// <returns>The decision.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxCostUsd"/> is negative.</exception>
    public static SpendCheckpointDecision ContinueWithCap(decimal maxCostUsd)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxCostUsd);
        return new(SpendCheckpointAction.ContinueWithCap, maxCostUsd, null);
    }

    /// <summary>The decision to stop the run at the checkpoint: the call that asked, and every call waiting for the same decision, is refused with a <see cref="SpendCheckpointException"/>.</summary>
    /// <param name="reason">Why, for the exception's message and the log; optional.</param>
    /// <returns>The decision.</returns>
    public static SpendCheckpointDecision Stop(string? reason = null) => new(SpendCheckpointAction.Stop, null, reason);

    /// <inheritdoc/>
    public override string ToString() => Action switch
    {
        SpendCheckpointAction.ContinueWithCap => string.Create(CultureInfo.InvariantCulture, $"continue with a cap of ${MaxCostUsd:0.########}"),
        SpendCheckpointAction.Stop => Reason is null ? "stop" : $"stop ({Reason})",
        _ => "continue",
    };
}
