using System.Globalization;

namespace AgentHarness;

/// <summary>
/// Thrown when a run's spend checkpoint stops a call before anything is sent (see <see cref="AgentRun.AddSpendCheckpoint"/>):
/// its callback decided to stop (<see cref="Decision"/>), or failed (<see cref="Exception.InnerException"/> is what it
/// threw, and <see cref="Decision"/> is <see langword="null"/>). As a <see cref="BudgetExceededException"/>, its
/// <see cref="BudgetExceededException.Rule"/> is <see cref="RuleName"/>, its <see cref="BudgetExceededException.LimitUsd"/>
/// the checkpoint's amount, and its spent, reserved and estimate figures the run's and the call's when it stopped.
/// </summary>
public sealed class SpendCheckpointException : BudgetExceededException
{
    /// <summary>The <see cref="BudgetExceededException.Rule"/> of a call a spend checkpoint stopped: <c>SpendCheckpoint</c>.</summary>
    public const string RuleName = "SpendCheckpoint";

    /// <summary>Initializes a new instance of the <see cref="SpendCheckpointException"/> class.</summary>
    public SpendCheckpointException()
        : this("A spend checkpoint stopped the call.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="SpendCheckpointException"/> class.</summary>
    /// <param name="message">The message.</param>
    public SpendCheckpointException(string message)
        : base(message)
    {
        RunId = string.Empty;
    }

    /// <summary>Initializes a new instance of the <see cref="SpendCheckpointException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public SpendCheckpointException(string message, Exception innerException)
        : base(message, innerException)
    {
        RunId = string.Empty;
    }

    internal SpendCheckpointException(SpendCheckpointContext context, SpendCheckpointDecision? decision, IReadOnlyList<UsageAttempt> attempts, Exception? failure)
        : base(
            Describe(context, decision, failure),
            context.ModelRequested,
            new BudgetStatus(RuleName, null, context.Run.StartedAt, context.CheckpointUsd, context.SpentUsd, context.ReservedUsd),
            context.EstimateUsd,
            attempts,
            failure)
    {
        RunId = context.Run.RunId;
        CheckpointUsd = context.CheckpointUsd;
        Decision = decision;
    }

    /// <summary>Gets the id of the run whose checkpoint stopped the call (for a call in a nested run, possibly an enclosing run's).</summary>
    public string RunId { get; }

    /// <summary>Gets the checkpoint's amount, in US dollars.</summary>
    public decimal CheckpointUsd { get; }

    /// <summary>Gets the decision to stop, or <see langword="null"/> when the callback failed and made none.</summary>
    public SpendCheckpointDecision? Decision { get; }

    private static string Describe(SpendCheckpointContext context, SpendCheckpointDecision? decision, Exception? failure)
    {
        var why = decision is not null
            ? decision.Reason is { } reason ? $"its decision was to stop: {reason}" : "its decision was to stop"
            : $"its callback failed ({failure?.GetType().Name}: {failure?.Message})";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"The call to '{context.ModelRequested}' was stopped before sending at spend checkpoint ${context.CheckpointUsd:0.########} of run {context.Run.RunId} (spent ${context.SpentUsd:0.########}, reserved by calls in flight ${context.ReservedUsd:0.########}, the call's worst case ${context.EstimateUsd:0.########}): {why}.");
    }
}
