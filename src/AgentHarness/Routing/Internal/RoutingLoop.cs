using AgentHarness.Internal;
using AgentHarness.Pipeline.Internal;
using AgentHarness.Telemetry;
using Microsoft.Extensions.Logging;
using System.Runtime.CompilerServices;

namespace AgentHarness.Routing.Internal;

/// <summary>
/// The routing loop of one call: it tries each candidate in order (skipping those cooling down or too small for the
/// prompt, and those a stage does not admit), retries transient failures with backoff and <c>Retry-After</c>, and falls
/// back as the route's settings allow. Everything an attempt involves happens in the pipeline's stages; what came of
/// it is judged here by <see cref="FailureClassifier"/> (through <see cref="RecentFailures"/>) and <see cref="RetryRules"/>.
/// </summary>
internal sealed partial class RoutingLoop(CandidateHealth health, KeyRedactor redactor, ILogger logger)
{
    private readonly RecentFailures _failures = new();
    private readonly SharedReasons _reasons = new();

    /// <summary>Runs the call over its candidates and returns the response to hand to the client.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<HttpResponseMessage> RunAsync(CallContext call, IReadOnlyList<Candidate> candidates, CallPipeline pipeline)
    {
        var settings = call.Settings;
        var deadline = call.Deadline;
        HttpResponseMessage? lastResponse = null;
        Exception? lastException = null;
        Failure? lastFailure = null;
        Candidate? failedCandidate = null;
        int? failedWindow = null;
        var heldBack = health.ListCoolingDown(call, candidates);

        try
        {
            // By index: a foreach over the list's interface would box its enumerator for every call.
            for (var index = 0; index < candidates.Count; index++)
            {
                var candidate = candidates[index];
                if (failedWindow is { } failed && candidate.ContextWindow is { } window && window <= failed)
                {
                    call.Skip(candidate, $"skipped: context window {window} is not larger than {failed}");
                    continue;
                }

                if (!pipeline.Admit(call, candidate))
                {
                    continue;
                }

                if (!health.TryAcquire(call, candidate, listed: heldBack > 0, out var probe))
                {
                    continue;
                }

                if (failedCandidate is not null)
                {
                    // Logged when the next candidate is really tried, not when it might be skipped.
                    LogFallback(logger, call.ModelRequested, failedCandidate.Model, failedCandidate.Provider.Name, lastFailure?.Reason ?? "failed", candidate.Model);
                }

                var report = CandidateReport.None;
                try
                {
                    for (var number = 1; ; number++)
                    {
                        call.Attempt.Begin(candidate, number);
                        var result = await pipeline.SendAsync(call).ConfigureAwait(false);
                        if (result.Status == AttemptStatus.Refused)
                        {
                            if (deadline.IsCallOver)
                            {
                                // The budget store did not answer in time: the total timeout bounds the reservation too.
                                return ExhaustedOrThrow(call, candidate, ref lastResponse, lastException, TotalTimeoutReason(settings));
                            }

                            break;
                        }

                        lastResponse?.Dispose();
                        lastResponse = null;

                        if (result.Status is AttemptStatus.Answered or AttemptStatus.Streamed)
                        {
                            var streamed = result.Status == AttemptStatus.Streamed;
                            var latency = Attempted(call, AttemptOutcome.Succeeded, streamed ? 200 : (int)result.Response!.StatusCode, null);
                            CallTelemetry.AttemptEnded(call, failure: null);
                            if (streamed)
                            {
                                // A stream's latency is that of its first output.
                                candidate.Policy?.ReportLatency(candidate.Member, latency);
                            }

                            report = streamed ? CandidateReport.Streamed : CandidateReport.Succeeded;
                            return result.Response!;
                        }

                        var failure = Judge(call, result);
                        CallTelemetry.AttemptEnded(call, failure.Kind);
                        lastResponse = result.Response;
                        lastException = result.Exception;
                        lastFailure = failure;
                        failedCandidate = candidate;
                        if (failure.Kind == FailureKind.Canceled || deadline.CallerCanceled)
                        {
                            // The caller's cancellation also ends the call's deadline: it must be seen first.
                            lastResponse?.Dispose();
                            lastResponse = null;
                            throw new OperationCanceledException("The call was cancelled by the caller.", result.Exception, call.CallerToken);
                        }

                        if (deadline.IsCallOver)
                        {
                            return ExhaustedOrThrow(call, candidate, ref lastResponse, lastException, TotalTimeoutReason(settings));
                        }

                        // These say something about the candidate's health; the caller's own errors do not.
                        if (failure.Kind is FailureKind.Transient or FailureKind.QuotaExceeded or FailureKind.Authentication or FailureKind.ModelNotFound)
                        {
                            report = CandidateReport.Unhealthy;
                        }

                        if (failure.Kind == FailureKind.Transient && number < settings.AttemptsPerCandidate)
                        {
                            var retryAfter = result.Response is { } response ? RetryRules.RetryAfter(response, call.Time) : null;
                            if (retryAfter is null || retryAfter <= settings.MaxRetryAfter)
                            {
                                var delay = retryAfter ?? RetryRules.Backoff(settings.RetryBaseDelay, number);
                                if (delay > TimeSpan.Zero)
                                {
                                    await RetryRules.WaitAsync(call, delay).ConfigureAwait(false);
                                    if (deadline.CallerCanceled)
                                    {
                                        lastResponse?.Dispose();
                                        lastResponse = null;
                                        throw new OperationCanceledException("The call was cancelled by the caller.", null, call.CallerToken);
                                    }

                                    if (deadline.IsCallOver)
                                    {
                                        return ExhaustedOrThrow(call, candidate, ref lastResponse, lastException, TotalTimeoutReason(settings));
                                    }
                                }

                                continue;
                            }

                            // A longer Retry-After would stall the agent: this candidate is done for this call.
                        }

                        if (failure.Kind == FailureKind.ContextWindowExceeded && candidate.ContextWindow is { } failedAt)
                        {
                            failedWindow = Math.Max(failedWindow ?? 0, failedAt);
                        }

                        if (!RetryRules.FallsBackOn(settings, failure.Kind))
                        {
                            // The caller's own error, or a failure this route does not fall back on: it is the call's answer.
                            return Final(call, ref lastResponse, lastException, failure);
                        }

                        break;
                    }
                }
                finally
                {
                    // One report per candidate per call: a call's own retries never put its candidate in cooldown midway.
                    health.Report(call, candidate, probe, report);
                }
            }

            return ExhaustedOrThrow(call, failedCandidate, ref lastResponse, lastException, lastFailure?.Reason);
        }
        catch
        {
            // An exception (the caller's cancellation, a budget that ends the call) leaves no response to hand over.
            lastResponse?.Dispose();
            throw;
        }
    }

    private static string TotalTimeoutReason(RouteSettings settings) => $"the call's total timeout of {settings.TotalTimeout} elapsed";

    /// <summary>Classifies what came of a failed attempt, and lists the attempt with why it failed.</summary>
    private Failure Judge(CallContext call, AttemptResult result)
    {
        Failure failure;
        int? status;
        switch (result.Status)
        {
            case AttemptStatus.NotSent:
                call.Skip(call.Attempt.Candidate, "not sent: the caller cancelled before the request left");
                return new Failure(FailureKind.Canceled, null, "cancelled by the caller");

            case AttemptStatus.AnswerFailed:
                // An error event (or a whole answer's error object) comes with status 200, so the credentials handler let it pass unread: a key it echoes
                // is removed here, before the reason (quoted by the record, the exceptions and the fallback warning) is built.
                failure = result.FirstEventTimedOut
                    ? new Failure(FailureKind.Transient, 200, $"no first event within {call.Settings.FirstTokenTimeout}")
                    : result.Body is { } errorEvent
                        ? FailureClassifier.Classify(500, redactor.RedactUtf8(errorEvent) ?? errorEvent)
                        : new Failure(FailureKind.Transient, 200, result.Problem!);
                status = 200;
                break;

            case AttemptStatus.Failed when result.Response is { } response:
                status = (int)response.StatusCode;
                failure = _failures.Classify(status.Value, result.Body);
                break;

            default:
                failure = call.Deadline.TotalExpired
                    ? new Failure(FailureKind.Transient, null, TotalTimeoutReason(call.Settings))
                    : FailureClassifier.Classify(result.Exception!, call.Deadline.CallerCanceled, call.Settings.AttemptTimeout);
                status = null;
                break;
        }

        // The record keeps the reason: while a provider is down every call fails the same way, and one string stands for all.
        failure = failure with { Reason = _reasons.Share(failure.Reason) };
        Attempted(call, AttemptOutcome.Failed, status, failure.Reason);
        return failure;
    }

    /// <summary>Lists the attempt made, with its latency; a policy learns the latency of a whole answer.</summary>
    private static TimeSpan Attempted(CallContext call, AttemptOutcome outcome, int? status, string? error)
    {
        var attempt = call.Attempt;
        var candidate = attempt.Candidate;
        var latency = call.Time.GetElapsedTime(attempt.Started);
        call.Attempts.Add(new UsageAttempt(candidate.Provider.Name, candidate.Model, outcome, status, error, latency) { OutputTokenLimit = attempt.OutputLimit });
        if (outcome == AttemptOutcome.Succeeded && !call.Request.Stream)
        {
            candidate.Policy?.ReportLatency(candidate.Member, latency);
        }

        return latency;
    }

    private static HttpResponseMessage Final(CallContext call, ref HttpResponseMessage? response, Exception? exception, Failure failure)
    {
        if (response is not null)
        {
            var final = response;
            response = null;
            return final;
        }

        // A failed connection ends as the official client's ClientResultException, which it builds only from an
        // HttpRequestException. A body read inside the attempt that fails (a whole answer cut short, a stream cut before
        // its first output) throws an IOException, HttpIOException among them: the same failure, so it is wrapped the same
        // way. Anything else is a bug or a misconfiguration and surfaces as it was thrown.
        var current = call.Current;
        throw exception is HttpRequestException or (IOException and not StreamInterruptedException) or OperationCanceledException or null
            ? new HttpRequestException($"Model '{current?.Model}' via '{current?.Provider.Name}' did not answer: {failure.Reason}.", exception)
            : exception;
    }

    private static HttpResponseMessage ExhaustedOrThrow(CallContext call, Candidate? last, ref HttpResponseMessage? response, Exception? exception, string? reason)
    {
        if (call.BudgetRefusal is { } refusal && (!call.AnySent || call.BudgetEndedCall))
        {
            // A budget is why nothing more could be tried, also when earlier attempts were sent.
            throw new BudgetExceededException(call.ModelRequested, refusal.Status, refusal.Estimate, call.Attempts.ToArray());
        }

        if (call.Unpriced is not null && !call.AnySent)
        {
            throw new UnpricedModelException(call.ModelRequested, call.Unpriced.ToArray());
        }

        if (last is { Policy: null } && call.AnySent && (response is not null || exception is not null))
        {
            // A direct call keeps the provider's own answer, so the client raises its usual error with the status.
            return Final(call, ref response, exception, new Failure(FailureKind.Transient, null, reason ?? "failed"));
        }

        throw new AllCandidatesFailedException(call.ModelRequested, call.Attempts.ToArray());
    }

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "{Policy}: {FailedModel} via {Provider} failed ({Reason}); falling back to {NextModel}.")]
    internal static partial void LogFallback(ILogger logger, string policy, string failedModel, string provider, string reason, string nextModel);
}
