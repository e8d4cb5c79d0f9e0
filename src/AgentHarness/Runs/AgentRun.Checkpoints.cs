namespace AgentHarness;

/// <summary>The run's spend checkpoints: where a run stops to ask before spending more.</summary>
public sealed partial class AgentRun
{
    // Ordered by amount; replaced, never changed, so a reader needs no lock to walk it.
    private SpendCheckpoint[] _checkpoints = [];

    // The checkpoints not passed (not decided, or decided to stop): while there are none a call takes the path it
    // would take without checkpoints.
    private int _openCheckpoints;

    /// <summary>
    /// Gets the run's spend checkpoints, by amount, with their decisions (<see cref="SpendCheckpoint.Decision"/>) once made.
    /// </summary>
    public IReadOnlyList<SpendCheckpoint> SpendCheckpoints => [.. Volatile.Read(ref _checkpoints)];

    /// <summary>Gets a value indicating whether a checkpoint of the run has not been passed.</summary>
    internal bool HasOpenCheckpoints => Volatile.Read(ref _openCheckpoints) > 0;

    /// <summary>
    /// Adds a spend checkpoint: before a call whose worst-case reservation would carry the run's spend (with what its
    /// calls in flight hold) past <paramref name="atUsd"/>, the harness awaits <paramref name="callback"/> with the
    /// run's figures and the call, and does as it decides (<see cref="SpendCheckpointDecision"/>): the call goes on,
    /// goes on under a new <see cref="MaxCostUsd"/>, or is refused with a <see cref="SpendCheckpointException"/> before
    /// anything is sent.
    /// </summary>
    /// <remarks>
    /// <para>
    /// A checkpoint asks once. Calls that cross it while it is asking (concurrent calls of the run, or of runs nested in
    /// it) wait for the same decision; once it is made, later calls do not ask again: past a decision to continue they
    /// go on, and past a decision to stop every call that would cross it is refused (calls that stay below it go on).
    /// A call made inside a nested run stops at this run's checkpoints as at its own, as it counts against this run's cap.
    /// </para>
    /// <para>
    /// The callback may take as long as it needs (a human approving): the call's total timeout does not run while it
    /// waits, and nothing is reserved. The caller's cancellation token does end the wait: the call ends cancelled with
    /// nothing sent. The callback is given the token of the call that asked; a callback that ends by that cancellation
    /// has made no decision, and the checkpoint asks again (at once, for a call still waiting on it).
    /// </para>
    /// <para>
    /// A callback that throws (or returns <see langword="null"/>) has made no decision either: the call that asked, and
    /// every call waiting on it, is refused with a <see cref="SpendCheckpointException"/> whose
    /// <see cref="Exception.InnerException"/> is what the callback threw, and the next call that crosses the checkpoint
    /// asks again. The callback runs outside the run (<see cref="Current"/> is not this run in it), so a model call it
    /// makes is not the run's and cannot wait on its own question.
    /// </para>
    /// <para>
    /// A checkpoint applies to the attempts that start after it was added. A call's worst case is taken as its
    /// reservation takes it (the input's bound, counted by the tokenizer when the bound would cross a checkpoint). A
    /// checkpoint below what the run has already spent asks at the next call.
    /// </para>
    /// </remarks>
    /// <param name="atUsd">The checkpoint's amount of the run's spend, in US dollars.</param>
    /// <param name="callback">Asked for the decision; given the run's figures and the token of the call that asked.</param>
    /// <returns>This run, to chain calls.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="atUsd"/> is negative.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="callback"/> is <see langword="null"/>.</exception>
    public AgentRun AddSpendCheckpoint(decimal atUsd, Func<SpendCheckpointContext, CancellationToken, ValueTask<SpendCheckpointDecision>> callback)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(atUsd);
        ArgumentNullException.ThrowIfNull(callback);
        var checkpoint = new SpendCheckpoint(this, atUsd, callback);
        lock (_gate)
        {
            var current = _checkpoints;
            var at = 0;
            while (at < current.Length && current[at].AtUsd <= atUsd)
            {
                at++;
            }

            SpendCheckpoint[] next = [.. current.AsSpan(0, at), checkpoint, .. current.AsSpan(at)];
            Volatile.Write(ref _checkpoints, next);
            Volatile.Write(ref _openCheckpoints, _openCheckpoints + 1);
        }

        return this;
    }

    /// <summary>Makes the current flow leave every run: the flow a checkpoint's callback runs in is no run's.</summary>
    /// <remarks>Only for an async method's own flow, which the caller's is restored from when it returns.</remarks>
    internal static void LeaveRuns() => Ambient.Value = null;

    /// <summary>The first checkpoint not passed that the run's spend, reservations and the amount together would go past, and the run's figures.</summary>
    internal SpendCheckpoint? CheckpointAhead(decimal amount, out BudgetCounterState state)
    {
        lock (_gate)
        {
            state = new BudgetCounterState(_spentUsd, _reservedUsd);
            return CheckpointAheadLocked(amount);
        }
    }

    /// <summary>
    /// Joins the question of a checkpoint: the decision if it was made, else the question being asked, else a new
    /// question that <paramref name="asks"/> says this caller must ask.
    /// </summary>
    internal Task<SpendCheckpointDecision> JoinCheckpoint(SpendCheckpoint checkpoint, out bool asks)
    {
        lock (_gate)
        {
            asks = false;
            if (checkpoint.Decision is { } decision)
            {
                return Task.FromResult(decision);
            }

            if (checkpoint.Pending is not { } pending)
            {
                checkpoint.Pending = pending = new TaskCompletionSource<SpendCheckpointDecision>(TaskCreationOptions.RunContinuationsAsynchronously);
                asks = true;
            }

            return pending.Task;
        }
    }

    /// <summary>Records a checkpoint's decision and applies it (a new cap first) in one step, then answers every call waiting on it.</summary>
    internal void DecideCheckpoint(SpendCheckpoint checkpoint, SpendCheckpointDecision decision, SpendCheckpointContext askedWith, DateTimeOffset at)
    {
        TaskCompletionSource<SpendCheckpointDecision>? pending;
        lock (_gate)
        {
            if (decision.MaxCostUsd is { } cap)
            {
                _maxCostUsd = cap;
            }

            checkpoint.Decided(decision, askedWith, at);
            if (decision.Action != SpendCheckpointAction.Stop)
            {
                Volatile.Write(ref _openCheckpoints, _openCheckpoints - 1);
            }

            pending = checkpoint.Pending;
            checkpoint.Pending = null;
        }

        Volatile.Read(ref _span)?.CheckpointDecided(checkpoint.AtUsd, decision, at);
        pending?.TrySetResult(decision);
    }

    /// <summary>Ends a checkpoint's question without a decision: cancelled (<paramref name="failure"/> is null), or failed; the next call asks again.</summary>
    internal void AbandonCheckpoint(SpendCheckpoint checkpoint, Exception? failure)
    {
        TaskCompletionSource<SpendCheckpointDecision>? pending;
        lock (_gate)
        {
            pending = checkpoint.Pending;
            checkpoint.Pending = null;
        }

        if (failure is null)
        {
            pending?.TrySetCanceled();
        }
        else
        {
            pending?.TrySetException(failure);
        }
    }

    private SpendCheckpoint? CheckpointAheadLocked(decimal amount)
    {
        if (_openCheckpoints == 0)
        {
            return null;
        }

        var total = _spentUsd + _reservedUsd + amount;
        foreach (var checkpoint in _checkpoints)
        {
            if (checkpoint.AtUsd >= total)
            {
                break;
            }

            if (!checkpoint.Passed)
            {
                return checkpoint;
            }
        }

        return null;
    }
}
