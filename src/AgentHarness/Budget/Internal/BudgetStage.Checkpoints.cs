using System.Globalization;
using AgentHarness.Pipeline.Internal;
using Microsoft.Extensions.Logging;

namespace AgentHarness.Budget.Internal;

/// <summary>
/// The budget stage's spend checkpoints: before an attempt reserves, every checkpoint of the call's open runs that its
/// worst case would carry a run past is asked (once, whichever call gets there first; the others wait for the same
/// decision), with the call's total timeout paused and no lock held while it waits.
/// </summary>
internal sealed partial class BudgetStage
{
    // Checkpoints are budget events, logged with the other budget events; the stage's own logger is the routing category's.
    private readonly ILogger checkpointLogger = loggerFactory.CreateLogger(AgentHarnessLogCategories.Budget);

    /// <summary>
    /// Reserves as <see cref="ReserveAsync"/> does, once every checkpoint ahead of the attempt has decided to go on. A
    /// reservation is never made past a checkpoint that has not decided: when another call's reservation came in between
    /// the check and this one, the checkpoints are checked again.
    /// </summary>
    /// <returns>Whether the attempt may be sent.</returns>
    /// <exception cref="SpendCheckpointException">A checkpoint stopped the call, or its callback failed.</exception>
    private async ValueTask<bool> ReserveAtCheckpointsAsync(CallContext call, CallCosting state)
    {
        while (true)
        {
            await PassCheckpointsAsync(call, state).ConfigureAwait(false);
            try
            {
                return await ReserveAsync(call, state).ConfigureAwait(false);
            }
            catch (CheckpointAheadException)
            {
                // Nothing is held: ask the checkpoint the other call's reservation now puts this one past.
            }
        }
    }

    /// <summary>Asks (or waits for) each checkpoint the attempt's worst case would carry a run past, until none is left ahead.</summary>
    private async ValueTask PassCheckpointsAsync(CallContext call, CallCosting state)
    {
        while (true)
        {
            var worst = CheckpointWorstCase(call, state);
            var (run, checkpoint, figures) = CheckpointAhead(call, worst);
            if (checkpoint is not null && state.Price is not null && !state.InputCounted)
            {
                // The bound of the input would cross it; its count may not. The reservation then uses the count too.
                state.CountInput(call.Request);
                worst = CheckpointWorstCase(call, state);
                (run, checkpoint, figures) = CheckpointAhead(call, worst);
            }

            if (checkpoint is null)
            {
                return;
            }

            var context = new SpendCheckpointContext(run!, checkpoint.AtUsd, figures.SpentUsd, figures.ReservedUsd, worst, run!.MaxCostUsd, call.ModelRequested, call.Attempt.Candidate.CatalogId, call.Task);
            var decision = checkpoint.Decision ?? await DecideAsync(call, checkpoint, context).ConfigureAwait(false);
            if (decision.Action == SpendCheckpointAction.Stop)
            {
                throw Stopped(call, context, decision, failure: null);
            }
        }
    }

    /// <summary>What the attempt's first reservation will be: its worst case with the input as estimated so far.</summary>
    private decimal CheckpointWorstCase(CallContext call, CallCosting state) =>
        state.Price is { } price ? WorstCase(call, state, price, outputTokens: null) : 0m;

    /// <summary>The first checkpoint not passed that the worst case would carry one of the call's runs past, innermost run first.</summary>
    private static (AgentRun? Run, SpendCheckpoint? Checkpoint, BudgetCounterState Figures) CheckpointAhead(CallContext call, decimal worst)
    {
        foreach (var run in call.Runs)
        {
            if (run.HasOpenCheckpoints && run.CheckpointAhead(worst, out var figures) is { } checkpoint)
            {
                return (run, checkpoint, figures);
            }
        }

        return (null, null, default);
    }

    /// <summary>
    /// Waits for a checkpoint's decision, asking for it when no other call is: the call's total timeout is paused while
    /// it waits, and the caller's token ends the wait.
    /// </summary>
    private async ValueTask<SpendCheckpointDecision> DecideAsync(CallContext call, SpendCheckpoint checkpoint, SpendCheckpointContext context)
    {
        var caller = call.CallerToken;
        var paused = call.Deadline.Pause();
        try
        {
            while (true)
            {
                var pending = checkpoint.Run.JoinCheckpoint(checkpoint, out var asks);
                if (asks)
                {
                    LogCheckpointAsking(checkpointLogger, context.Run.RunId, context.CheckpointUsd, context.Model, context.SpentUsd, context.ReservedUsd, context.EstimateUsd);
                    _ = AskAsync(checkpoint, context, call.Time, caller);
                }
                else if (!pending.IsCompleted)
                {
                    LogCheckpointWaiting(checkpointLogger, context.Run.RunId, context.CheckpointUsd, context.Model);
                }

                try
                {
                    return await pending.WaitAsync(caller).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (caller.IsCancellationRequested)
                {
                    // Nothing was reserved and nothing sent: the call ends cancelled.
                    throw new OperationCanceledException("The call was cancelled by the caller.", null, caller);
                }
                catch (OperationCanceledException) when (pending.IsCanceled)
                {
                    // The call that asked was cancelled, and its callback with it: no decision was made, so this call asks.
                }
                catch (Exception ex) when (pending.IsFaulted)
                {
                    throw Stopped(call, context, decision: null, ex);
                }
            }
        }
        finally
        {
            call.Deadline.Resume(paused);
        }
    }

    /// <summary>Runs a checkpoint's callback, outside the run, and records what came of it; never throws.</summary>
    private async Task AskAsync(SpendCheckpoint checkpoint, SpendCheckpointContext context, TimeProvider time, CancellationToken caller)
    {
        var run = checkpoint.Run;
        try
        {
            // A model call the callback makes is not the run's: it would wait on the question it is part of. Nor is its
            // record the crossing call's or the agent run's, whose usage capture would otherwise take it.
            AgentRun.LeaveRuns();
            UsageCapture.LeaveAll();
            var decision = await checkpoint.Callback(context, caller).ConfigureAwait(false)
                ?? throw new InvalidOperationException("The spend checkpoint's callback returned no decision.");
            run.DecideCheckpoint(checkpoint, decision, context, time.GetUtcNow());
            LogCheckpointDecided(checkpointLogger, run.RunId, checkpoint.AtUsd, decision.ToString());
        }
        catch (OperationCanceledException) when (caller.IsCancellationRequested)
        {
            run.AbandonCheckpoint(checkpoint, failure: null);
            LogCheckpointAbandoned(checkpointLogger, run.RunId, checkpoint.AtUsd);
        }
#pragma warning disable CA1031 // The callback is the application's: what it throws goes to the calls waiting on it, not to the pool.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            run.AbandonCheckpoint(checkpoint, ex);
            LogCheckpointFailed(checkpointLogger, ex, run.RunId, checkpoint.AtUsd);
        }
    }

    /// <summary>Lists the candidate as stopped and builds the exception the call ends with; nothing was reserved or sent.</summary>
    private static SpendCheckpointException Stopped(CallContext call, SpendCheckpointContext context, SpendCheckpointDecision? decision, Exception? failure)
    {
        var why = decision is not null ? decision.ToString() : "its callback failed";
        call.Skip(call.Attempt.Candidate, string.Create(CultureInfo.InvariantCulture, $"stopped: spend checkpoint ${context.CheckpointUsd:0.########} of run {context.Run.RunId}: {why}"));
        return new SpendCheckpointException(context, decision, call.Attempts.ToArray(), failure);
    }

    [LoggerMessage(EventId = 22, Level = LogLevel.Information, Message = "Run {RunId}: a call to {Model} would go past spend checkpoint ${CheckpointUsd} (spent ${SpentUsd}, reserved ${ReservedUsd}, its worst case ${EstimateUsd}); asking for a decision.")]
    private static partial void LogCheckpointAsking(ILogger logger, string runId, decimal checkpointUsd, string model, decimal spentUsd, decimal reservedUsd, decimal estimateUsd);

    [LoggerMessage(EventId = 26, Level = LogLevel.Debug, Message = "Run {RunId}: a call to {Model} waits for the decision of spend checkpoint ${CheckpointUsd} another call asked for.")]
    private static partial void LogCheckpointWaiting(ILogger logger, string runId, decimal checkpointUsd, string model);

    [LoggerMessage(EventId = 23, Level = LogLevel.Information, Message = "Run {RunId}: spend checkpoint ${CheckpointUsd} decided: {Decision}.")]
    private static partial void LogCheckpointDecided(ILogger logger, string runId, decimal checkpointUsd, string decision);

    [LoggerMessage(EventId = 24, Level = LogLevel.Information, Message = "Run {RunId}: the call that asked spend checkpoint ${CheckpointUsd} was cancelled before a decision; the checkpoint asks again.")]
    private static partial void LogCheckpointAbandoned(ILogger logger, string runId, decimal checkpointUsd);

    [LoggerMessage(EventId = 25, Level = LogLevel.Error, Message = "Run {RunId}: the callback of spend checkpoint ${CheckpointUsd} failed; the calls waiting on it are refused and the checkpoint asks again.")]
    private static partial void LogCheckpointFailed(ILogger logger, Exception exception, string runId, decimal checkpointUsd);
}
