using System.Globalization;

namespace AgentHarness;

/// <summary>
/// What a spend checkpoint's callback is asked about: the run's figures as they stood when a call's worst case would
/// carry them past the checkpoint, and that call.
/// </summary>
public sealed class SpendCheckpointContext
{
    internal SpendCheckpointContext(AgentRun run, decimal checkpointUsd, decimal spentUsd, decimal reservedUsd, decimal estimateUsd, decimal? maxCostUsd, string modelRequested, string model, string? task)
    {
        Run = run;
        CheckpointUsd = checkpointUsd;
        SpentUsd = spentUsd;
        ReservedUsd = reservedUsd;
        EstimateUsd = estimateUsd;
        MaxCostUsd = maxCostUsd;
        ModelRequested = modelRequested;
        Model = model;
        Task = task;
    }

    /// <summary>Gets the run that holds the checkpoint (for a call in a nested run, possibly an enclosing one).</summary>
    public AgentRun Run { get; }

    /// <summary>Gets the checkpoint's amount, in US dollars.</summary>
    public decimal CheckpointUsd { get; }

    /// <summary>Gets what the run had spent, in US dollars.</summary>
    public decimal SpentUsd { get; }

    /// <summary>Gets what the run's calls in flight held, in US dollars.</summary>
    public decimal ReservedUsd { get; }

    /// <summary>Gets the next call's worst-case cost (what it would reserve), in US dollars.</summary>
    public decimal EstimateUsd { get; }

    /// <summary>Gets the run's cap when it asked, or <see langword="null"/>.</summary>
    public decimal? MaxCostUsd { get; }

    /// <summary>Gets the model id the next call asked for, for example <c>policy/review</c>.</summary>
    public string ModelRequested { get; }

    /// <summary>Gets the model the next call is about to be sent to, for example <c>openai/gpt-4.1</c>.</summary>
    public string Model { get; }

    /// <summary>Gets the next call's task, or <see langword="null"/>.</summary>
    public string? Task { get; }

    /// <inheritdoc/>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"Run {Run.RunId} ({Run.Agent}) reached its ${CheckpointUsd:0.########} checkpoint: spent ${SpentUsd:0.########}, reserved ${ReservedUsd:0.########}, next call to {Model}{(Task is null ? string.Empty : " for task " + Task)} costs at most ${EstimateUsd:0.########}{(MaxCostUsd is { } cap ? string.Create(CultureInfo.InvariantCulture, $", cap ${cap:0.########}") : string.Empty)}.");
}
