using System.Globalization;

namespace AgentHarness;

/// <summary>
/// A spend checkpoint of a run (see <see cref="AgentRun.AddSpendCheckpoint"/>): an amount past which the run does not
/// go without a decision, and the decision once it was made.
/// </summary>
public sealed class SpendCheckpoint
{
    private SpendCheckpointDecision? _decision;
    private SpendCheckpointContext? _askedWith;
    private DateTimeOffset? _decidedAt;

    internal SpendCheckpoint(AgentRun run, decimal atUsd, Func<SpendCheckpointContext, CancellationToken, ValueTask<SpendCheckpointDecision>> callback)
    {
        Run = run;
        AtUsd = atUsd;
        Callback = callback;
    }

    /// <summary>Gets the checkpoint's amount: the run's spend, in US dollars, that no call's worst case carries it past undecided.</summary>
    public decimal AtUsd { get; }

    /// <summary>Gets what the callback decided, or <see langword="null"/> while it has not (not asked yet, being asked, or its last answer was a failure).</summary>
    public SpendCheckpointDecision? Decision => Volatile.Read(ref _decision);

    /// <summary>Gets the figures the decision was made on, or <see langword="null"/> before it was made.</summary>
    public SpendCheckpointContext? AskedWith => Volatile.Read(ref _askedWith);

    /// <summary>Gets when the decision was made, on the harness's clock, or <see langword="null"/> before it was made.</summary>
    public DateTimeOffset? DecidedAt
    {
        get
        {
            // Written before the decision, which publishes it.
            return Volatile.Read(ref _decision) is null ? null : _decidedAt;
        }
    }

    internal AgentRun Run { get; }

    internal Func<SpendCheckpointContext, CancellationToken, ValueTask<SpendCheckpointDecision>> Callback { get; }

    /// <summary>Gets or sets the question being asked, which every call that crosses the checkpoint meanwhile waits on; guarded by the run.</summary>
    internal TaskCompletionSource<SpendCheckpointDecision>? Pending { get; set; }

    /// <summary>Gets a value indicating whether calls go past the checkpoint without asking: it was decided, and not to stop.</summary>
    internal bool Passed => Volatile.Read(ref _decision) is { Action: not SpendCheckpointAction.Stop };

    /// <inheritdoc/>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"Spend checkpoint ${AtUsd:0.########}: {(Decision is { } decision ? decision.ToString() : "undecided")}");

    /// <summary>Records the decision; the run calls it under its lock.</summary>
    internal void Decided(SpendCheckpointDecision decision, SpendCheckpointContext askedWith, DateTimeOffset at)
    {
        _decidedAt = at;
        Volatile.Write(ref _askedWith, askedWith);
        Volatile.Write(ref _decision, decision);
    }
}
