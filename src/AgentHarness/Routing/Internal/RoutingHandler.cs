using AgentHarness.Budget.Internal;
using AgentHarness.Http.Internal;
using AgentHarness.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentHarness.Routing.Internal;

/// <summary>
/// The top of the gateway pipeline: turns one request of an official client into one logical
/// call. It reads the body once, resolves the model to its candidates (one provider, or a
/// policy's members), runs the attempts (each a fresh request carrying its provider's own key)
/// and ends the call as one usage record.
/// </summary>
internal sealed partial class RoutingHandler(
    ProviderRegistry registry,
    CooldownTracker cooldowns,
    IUsageLedger ledger,
    CostControl costs,
    TimeProvider timeProvider,
    ILoggerFactory loggerFactory,
    IOptions<AgentHarnessOptions> options,
    KeyRedactor redactor) : DelegatingHandler
{
    /// <summary>The address official clients are pointed at; only its path matters, the host never resolves.</summary>
    public static readonly Uri VirtualEndpoint = new("https://agentharness.invalid/v1");

    private static readonly string VirtualPath = VirtualEndpoint.AbsolutePath;

    internal ILogger Logger { get; } = loggerFactory.CreateLogger(AgentHarnessLogCategories.Routing);

    internal IUsageLedger Ledger => ledger;

    internal TimeProvider TimeProvider => timeProvider;

    internal CooldownTracker Cooldowns => cooldowns;

    internal CostControl Costs => costs;

    /// <summary>Removes keys from what a 200 answer carries (a stream's error event), which the credentials handler does not see.</summary>
    internal KeyRedactor Redactor => redactor;

    /// <summary>Gets how much of an answer a call holds at once.</summary>
    internal BodyLimits Limits { get; } = BodyLimits.From(options.Value);

    /// <summary>Marks a request sent through <see cref="Send"/>, so that its logical call runs synchronously.</summary>
    internal static readonly HttpRequestOptionsKey<bool> SynchronousKey = new("AgentHarness.Synchronous");

    /// <summary>
    /// Serves the official client's synchronous methods through the same pipeline, in synchronous mode:
    /// the request body, the attempts (<see cref="DelegatingHandler.Send"/> down to the socket handler),
    /// the answer and a stream's first event are all read on this thread, so every await in
    /// <see cref="SendAsync"/> completes synchronously and the task is done when it returns. Waiting on
    /// it never needs another pool thread, which would starve the pool under concurrent synchronous
    /// calls. Only a retry delay, or a budget store that completes asynchronously, blocks this thread.
    /// Routing, keys, metadata and records do not depend on which method the application called.
    /// </summary>
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Options.Set(SynchronousKey, true);
        return SendAsync(request, cancellationToken).GetAwaiter().GetResult();
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var started = timeProvider.GetTimestamp();
        var synchronous = request.Options.TryGetValue(SynchronousKey, out var sync) && sync;
        var relative = RelativePathAndQuery(request.RequestUri);
        RequestBody body;
        try
        {
            // A caller who has already cancelled still gets the call's one record, with its model:
            // the official clients' bodies are in memory, so reading one costs no wait.
            var token = cancellationToken.IsCancellationRequested ? CancellationToken.None : cancellationToken;
            body = request.Content is null
                ? RequestBody.Empty
                : RequestBody.Parse(synchronous
                    ? SynchronousRead.ReadAll(request.Content, token)
                    : await request.Content.ReadAsByteArrayAsync(token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            new LogicalCall(this, request, RequestBody.Empty, relative, Operation(relative), started, cancellationToken)
                .Finish(UsageOutcome.Canceled, statusCode: null, "cancelled by the caller");
            throw;
        }

        var refusal = ModelIds.Refusal(body.Model);
        if (refusal is not null)
        {
            // The record and its log line quote the id escaped and shortened, never as sent.
            body = RequestBody.Parse(body.WithModel(ModelIds.Show(body.Model!)));
        }

        var call = new LogicalCall(this, request, body, relative, Operation(relative), started, cancellationToken) { Synchronous = synchronous };
        if (cancellationToken.IsCancellationRequested)
        {
            call.Finish(UsageOutcome.Canceled, statusCode: null, "cancelled by the caller");
            throw new OperationCanceledException("The call was cancelled by the caller.", null, cancellationToken);
        }

        if (body.ModelError is { } unreadable)
        {
            // Routing a model the harness cannot read would send the request where a request without one goes.
            call.Finish(UsageOutcome.Rejected, statusCode: null, unreadable);
            throw new UnroutableModelException(null, unreadable);
        }

        var error = refusal;
        if (refusal is not null || !registry.TryPlan(body.Model, out var plan, out error))
        {
            call.Finish(UsageOutcome.Rejected, statusCode: null, error);
            throw new UnroutableModelException(body.Model, error!);
        }

        var candidates = plan.Candidates(call.Run, cooldowns, costs.PricePerToken);
        using var totalTimeout = new CancellationTokenSource(plan.Settings.TotalTimeout, timeProvider);
        using var total = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, totalTimeout.Token);
        HttpResponseMessage response;
        try
        {
            response = await call.RunAsync(candidates, plan.Settings, total).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            call.Finish(UsageOutcome.Canceled, statusCode: null, "cancelled by the caller");
            throw;
        }
        catch (Exception ex) when (ex is BudgetExceededException or UnpricedModelException or BudgetStoreUnavailableException)
        {
            call.Finish(call.AnySent ? UsageOutcome.Failed : UsageOutcome.Rejected, statusCode: null, ex.Message);
            throw;
        }
        catch (Exception ex)
        {
            call.Finish(UsageOutcome.Failed, statusCode: null, ex is AllCandidatesFailedException or HttpRequestException ? ex.Message : ex.GetType().Name);
            throw;
        }

        return call.Complete(response);
    }

    internal Task<HttpResponseMessage> SendInnerAsync(HttpRequestMessage attempt, CancellationToken cancellationToken) =>
        base.SendAsync(attempt, cancellationToken);

    internal HttpResponseMessage SendInner(HttpRequestMessage attempt, CancellationToken cancellationToken) =>
        base.Send(attempt, cancellationToken);

    private static string RelativePathAndQuery(Uri? uri)
    {
        if (uri is null)
        {
            return string.Empty;
        }

        var path = uri.IsAbsoluteUri ? uri.PathAndQuery : uri.OriginalString;
        return path.StartsWith(VirtualPath, StringComparison.Ordinal) && (path.Length == VirtualPath.Length || path[VirtualPath.Length] is '/' or '?')
            ? path[VirtualPath.Length..]
            : path;
    }

    private static string Operation(string relative)
    {
        var end = relative.IndexOf('?', StringComparison.Ordinal);
        return (end < 0 ? relative : relative[..end]).Trim('/');
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "Call to {Model} via {Provider} ({Operation}) ended {Outcome} after {Attempts} attempt(s) in {LatencyMs} ms; tokens in {InputTokens}, out {OutputTokens}.")]
    internal static partial void LogCallEnded(ILogger logger, string model, string? provider, string operation, UsageOutcome outcome, int attempts, double latencyMs, int inputTokens, int outputTokens);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Call to {Model} via {Provider} ({Operation}) ended {Outcome} after {Attempts} attempt(s): {Error}")]
    internal static partial void LogCallFailed(ILogger logger, string model, string? provider, string operation, UsageOutcome outcome, int attempts, string? error);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "{Policy}: {FailedModel} via {Provider} failed ({Reason}); falling back to {NextModel}.")]
    internal static partial void LogFallback(ILogger logger, string policy, string failedModel, string provider, string reason, string nextModel);

    [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "The usage ledger {Ledger} failed to add the record of a call to {Model}; the call itself is unaffected.")]
    internal static partial void LogLedgerFailed(ILogger logger, Exception exception, string ledger, string model);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Call to {Model} via {Provider}: the reported cost ${ReportedUsd} is more than {Ratio} times the ${CatalogUsd} its tokens cost at catalog prices; the catalog cost was charged.")]
    internal static partial void LogImplausibleCost(ILogger logger, string model, string? provider, decimal reportedUsd, decimal catalogUsd, decimal ratio);

    /// <summary>Logs a call refused (by a budget, the catalog, routing) or canceled before any attempt: it has no provider to name.</summary>
    internal static void LogCallNotSent(ILogger logger, string model, string operation, UsageOutcome outcome, string? error) =>
        LogNotSent(logger, outcome == UsageOutcome.Canceled ? LogLevel.Debug : LogLevel.Warning, model, operation, outcome, error ?? "no reason recorded");

    [LoggerMessage(EventId = 6, Message = "Call to {Model} ({Operation}) ended {Outcome} before anything was sent to a provider: {Error}")]
    private static partial void LogNotSent(ILogger logger, LogLevel level, string model, string operation, UsageOutcome outcome, string error);
}
