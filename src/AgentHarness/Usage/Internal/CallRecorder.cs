using AgentHarness.Pipeline.Internal;
using Microsoft.Extensions.Logging;

namespace AgentHarness.Usage.Internal;

/// <summary>
/// The last observer of a call's end: it turns the call into its one <see cref="UsageRecord"/>, adds it to the ledger
/// and to every open run of the call (and to the scope that waits for it, <see cref="UsageCapture"/>), and logs how the call ended.
/// </summary>
internal sealed partial class CallRecorder(IUsageLedger ledger, ILoggerFactory loggerFactory) : ICallObserver
{
    // Call events are the routing category's: users filter "AgentHarness.Routing" for them (AgentHarnessLogCategories).
    private readonly ILogger logger = loggerFactory.CreateLogger(AgentHarnessLogCategories.Routing);

    public void OnCallEnded(CallContext call)
    {
        var reading = call.Reading;
        var run = call.Run;
        var record = new UsageRecord
        {
            Timestamp = call.Timestamp,
            RunId = run?.RunId,
            Agent = run?.Agent,
            Task = call.Task,
            Metadata = call.CallMetadata,
            ModelRequested = call.ModelRequested,
            ModelUsed = reading.Model,
            Provider = call.Current?.Provider.Name ?? call.CacheHit?.Provider,
            Operation = call.Request.Operation,
            Streaming = call.Request.Stream,
            InputTokens = reading.InputTokens,
            OutputTokens = reading.OutputTokens,
            CachedInputTokens = reading.CachedInputTokens,
            CacheWriteInputTokens = reading.CacheWriteInputTokens,
            CostUsd = call.CostUsd,
            CostBasis = call.CostBasis,
            Latency = call.Latency,
            Outcome = call.Outcome,
            StatusCode = call.StatusCode,
            Error = call.Error,
            Attempts = call.Attempts.ToArray(),
            FromCache = call.CacheHit is not null,
            SavedUsd = call.CacheHit?.SavedUsd ?? 0m,
            CacheKey = call.CacheKey,
        };

        try
        {
            ledger.Add(record);
        }
#pragma warning disable CA1031 // A ledger failure must never fail the model call that it records.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            LogLedgerFailed(logger, exception, ledger.GetType().Name, record.ModelRequested);
        }

        foreach (var open in call.Runs)
        {
            // An enclosing run's figures include the calls of the runs nested in it.
            open.AddCall(record);
        }

        // The IChatClient wrapper or agent run that made the call reads its record off the response it returns.
        call.Capture?.Add(record);

        if (record.Provider is null)
        {
            // Refused (by a budget, the catalog, routing) or canceled before any attempt: there is no provider to name.
            LogNotSent(logger, record.Outcome == UsageOutcome.Canceled ? LogLevel.Debug : LogLevel.Warning, record.ModelRequested, record.Operation, record.Outcome, record.Error ?? "no reason recorded");
        }
        else if (record.Outcome is UsageOutcome.Succeeded or UsageOutcome.Canceled)
        {
            LogCallEnded(logger, record.ModelRequested, record.Provider, record.Operation, record.Outcome, call.Attempts.Count, record.Latency.TotalMilliseconds, record.InputTokens, record.OutputTokens);
        }
        else
        {
            LogCallFailed(logger, record.ModelRequested, record.Provider, record.Operation, record.Outcome, call.Attempts.Count, record.Error);
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "Call to {Model} via {Provider} ({Operation}) ended {Outcome} after {Attempts} attempt(s) in {LatencyMs} ms; tokens in {InputTokens}, out {OutputTokens}.")]
    private static partial void LogCallEnded(ILogger logger, string model, string? provider, string operation, UsageOutcome outcome, int attempts, double latencyMs, int inputTokens, int outputTokens);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Call to {Model} via {Provider} ({Operation}) ended {Outcome} after {Attempts} attempt(s): {Error}")]
    private static partial void LogCallFailed(ILogger logger, string model, string? provider, string operation, UsageOutcome outcome, int attempts, string? error);

    [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "The usage ledger {Ledger} failed to add the record of a call to {Model}; the call itself is unaffected.")]
    private static partial void LogLedgerFailed(ILogger logger, Exception exception, string ledger, string model);

    [LoggerMessage(EventId = 6, Message = "Call to {Model} ({Operation}) ended {Outcome} before anything was sent to a provider: {Error}")]
    private static partial void LogNotSent(ILogger logger, LogLevel level, string model, string operation, UsageOutcome outcome, string error);
}
