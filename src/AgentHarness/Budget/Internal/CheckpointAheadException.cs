namespace AgentHarness.Budget.Internal;

/// <summary>
/// A reservation would have gone past a spend checkpoint that has not decided: another call's reservation came in after
/// this call checked its checkpoints. Nothing was reserved; the budget stage asks the checkpoint, then reserves again.
/// </summary>
#pragma warning disable CA1064 // Never leaves the budget stage: it only tells it to go back to the checkpoints.
internal sealed class CheckpointAheadException : Exception
#pragma warning restore CA1064
{
    public CheckpointAheadException()
        : base("A reservation would go past a spend checkpoint that has not decided.")
    {
    }

    public CheckpointAheadException(string message)
        : base(message)
    {
    }

    public CheckpointAheadException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
