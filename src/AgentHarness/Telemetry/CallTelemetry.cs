using System.Diagnostics;
using AgentHarness.Pipeline.Internal;
using AgentHarness.Telemetry.Internal;
using static AgentHarness.Telemetry.Internal.TelemetryNames;

namespace AgentHarness.Telemetry;

/// <summary>
/// The telemetry of one call, which exists only when something listens: the call's span and its current attempt's, and
/// what the metrics need that the usage record does not keep. The telemetry stage creates it when the call is routed (or
/// at its end, for a call that ended before) and starts each attempt's span; the routing loop ends each attempt
/// (<see cref="AttemptEnded"/>), once it has judged it; the stage, as an observer of the call's end, ends the call's span
/// and records the metrics.
/// </summary>
/// <remarks>
/// The call's span starts when the call is routed (<see cref="Begin"/>), or, for a call ended before that (unroutable, or
/// cancelled at once), when it ends; either way it is dated from the call's start. An attempt a budget refuses has no span.
/// </remarks>
internal sealed class CallTelemetry(HarnessTelemetry telemetry)
{
    private Activity? _call;
    private Activity? _attempt;
    private bool _callStarted;
    private long _lastAttemptEnded;
    private int _entriesSeen;
    private int _attemptsStarted;
    private string? _lastFailure;
    private double? _timeToFirstChunk;

    /// <summary>Ends the attempt the routing loop has judged: <paramref name="failure"/> is why it failed, <see langword="null"/> when it answered.</summary>
    public static void AttemptEnded(CallContext call, FailureKind? failure)
    {
        if (call.TelemetryState is CallTelemetry telemetry)
        {
            telemetry.EndAttempt(call, failure);
        }
    }

    /// <summary>Starts the call's span, once, if it is recorded: when the call is routed, or when it ends if it ended before that.</summary>
    /// <returns>The call's span, or <see langword="null"/> when it is not recorded.</returns>
    public Activity? Begin(CallContext call)
    {
        StartCall(call);
        return _call;
    }

    /// <summary>Starts the attempt <see cref="CallContext.Attempt"/>: counts a retry or a fallback, and starts its span, which becomes current.</summary>
    public void StartAttempt(CallContext call)
    {
        var attempt = call.Attempt;
        var candidate = attempt.Candidate;
        var now = telemetry.Time.GetTimestamp();
        var wait = _lastAttemptEnded == 0 ? TimeSpan.Zero : telemetry.Time.GetElapsedTime(_lastAttemptEnded, now);
        if (attempt.Number > 1 && telemetry.Retries.Enabled)
        {
            telemetry.Retries.Add(1, CountTags(call, candidate.Provider.Name));
        }
        else if (attempt.Number == 1 && _attemptsStarted > 0 && telemetry.Fallbacks.Enabled)
        {
            telemetry.Fallbacks.Add(1, CountTags(call, candidate.Provider.Name));
        }

        _attemptsStarted++;
        if (!HarnessTelemetry.Source.HasListeners())
        {
            return;
        }

        StartCall(call);
        AddSkips(call);
        if (_call is null)
        {
            return;
        }

        // The attempt is the call's child; the HTTP client's span, if one is recorded, is the attempt's. The stage's flow
        // restores the current activity when its attempt returns.
        Activity.Current = _call;
        _attempt = HarnessTelemetry.Source.StartActivity("attempt " + candidate.Key, ActivityKind.Internal, parentContext: default, startTime: telemetry.Time.GetUtcNow());
        if (_attempt is { IsAllDataRequested: true } span)
        {
            var server = telemetry.Server(candidate.Provider);
            span.SetTag(OperationName, OperationOrPath(call.Request.Operation));
            span.SetTag(ProviderName, candidate.Provider.Name);
            span.SetTag(RequestModel, candidate.Model);
            span.SetTag(ServerAddress, server.Host);
            span.SetTag(ServerPort, server.Port);
            span.SetTag(AttemptNumber, attempt.Number);
            span.SetTag(AttemptWait, wait.TotalSeconds);
            if (attempt.OutputLimit is { } limit)
            {
                span.SetTag(RequestMaxTokens, limit);
            }
        }
    }

    /// <summary>Notes what the transport saw: the answer's status, and when a stream's first output arrived.</summary>
    public void AttemptReturned(CallContext call, AttemptResult result)
    {
        if (result.Status == AttemptStatus.Streamed)
        {
            _timeToFirstChunk = telemetry.Time.GetElapsedTime(call.Started).TotalSeconds;
            _call?.SetTag(ResponseTimeToFirstChunk, _timeToFirstChunk.Value);
        }

        if (_attempt is { IsAllDataRequested: true } span)
        {
            var status = result.Response is { } response ? (int)response.StatusCode : result.Status == AttemptStatus.AnswerFailed ? 200 : (int?)null;
            if (status is { } code)
            {
                span.SetTag(HttpResponseStatusCode, code);
            }
        }
    }

    /// <summary>Ends the call's span and records the call's metrics; called once, when the call ends.</summary>
    public static void CallEnded(HarnessTelemetry telemetry, CallContext call)
    {
        if (call.TelemetryState is not CallTelemetry state)
        {
            if (!telemetry.Enabled)
            {
                return;
            }

            // Nothing was sent (refused, cancelled, unroutable): the call still has its span and its duration.
            call.TelemetryState = state = new CallTelemetry(telemetry);
        }

        state.EndCall(call);
    }

    private void EndAttempt(CallContext call, FailureKind? failure)
    {
        _lastAttemptEnded = telemetry.Time.GetTimestamp();
        var error = failure is { } kind ? ErrorTypes.Of(kind) : null;
        _lastFailure = error ?? _lastFailure;
        var span = _attempt;
        _attempt = null;
        if (span is null)
        {
            return;
        }

        if (error is not null && span.IsAllDataRequested)
        {
            span.SetTag(ErrorType, error);
            var attempts = call.Attempts;
            span.SetStatus(ActivityStatusCode.Error, attempts.Count > 0 ? attempts[attempts.Count - 1].Error : error);
        }

        telemetry.Stop(span);
    }

    private void EndCall(CallContext call)
    {
        var error = CallError(call);
        if (_attempt is { } open)
        {
            // The attempt ended the call by throwing (the caller cancelled it before it was sent, say).
            _attempt = null;
            open.SetTag(ErrorType, error ?? ErrorTypes.Other);
            open.SetStatus(ActivityStatusCode.Error, call.Error);
            telemetry.Stop(open);
        }

        if (HarnessTelemetry.Source.HasListeners())
        {
            StartCall(call);
            AddSkips(call);
            if (_call is { } span)
            {
                if (span.IsAllDataRequested)
                {
                    TagEnd(span, call, error);
                }

                // The call ended when its latency says, not when its last observer got to it (a first estimate may wait for
                // the tokenizer to load): the span lasts as long as the record's latency and the duration metric.
                telemetry.Stop(span, call.Timestamp + call.Latency);
            }
        }

        RecordMetrics(call, error);
    }

    /// <summary>Starts the call's span, once, dated back to the call's start, as a child of the flow's current span.</summary>
    private void StartCall(CallContext call)
    {
        if (_callStarted)
        {
            return;
        }

        _callStarted = true;
        var operation = OperationOrPath(call.Request.Operation);
        var model = call.ModelRequested;
        _call = HarnessTelemetry.Source.StartActivity(
            model.Length == 0 ? operation : operation + " " + model,
            ActivityKind.Client,
            parentContext: default,
            startTime: call.Timestamp);
        if (_call is not { IsAllDataRequested: true } span)
        {
            return;
        }

        span.SetTag(OperationName, operation);
        if (model.Length > 0)
        {
            span.SetTag(RequestModel, model);
        }

        if (call.Request.Stream)
        {
            span.SetTag(RequestStream, true);
        }

        if (call.Run is { } run)
        {
            span.SetTag(AgentName, run.Agent);
            span.SetTag(RunId, run.RunId);
        }

        if (call.Task is { } task)
        {
            span.SetTag(TaskName, task);
        }

        foreach (var attribute in telemetry.Metadata)
        {
            if (call.CallMetadata.TryGetValue(attribute.Key, out var value))
            {
                span.SetTag(attribute.Name, value);
            }
        }

        // The request is read while it is sure to be there: a stream's call ends after the client let go of it.
        if (call.Request.HasContent && (call.Request.Body.MaxOutputTokens is { } limit))
        {
            span.SetTag(RequestMaxTokens, limit);
        }

        if (telemetry.CaptureContent && call.Request.HasContent && operation == Chat && MessageContent.Input(call.Request.Bytes) is { } input)
        {
            span.SetTag(InputMessages, input);
        }
    }

    /// <summary>Adds an event to the call's span for each candidate skipped since the last look (cooling down, over budget, ...).</summary>
    private void AddSkips(CallContext call)
    {
        var attempts = call.Attempts;
        if (_call is not { IsAllDataRequested: true } span)
        {
            _entriesSeen = attempts.Count;
            return;
        }

        for (; _entriesSeen < attempts.Count; _entriesSeen++)
        {
            var entry = attempts[_entriesSeen];
            if (entry.Outcome == AttemptOutcome.Skipped)
            {
                span.AddEvent(new ActivityEvent(CandidateSkipped, telemetry.Time.GetUtcNow(), new ActivityTagsCollection
                {
                    [ProviderName] = entry.Provider,
                    [RequestModel] = entry.Model,
                    [SkipReason] = entry.Error,
                }));
            }
        }
    }

    private void TagEnd(Activity span, CallContext call, string? error)
    {
        var reading = call.Reading;
        if (call.Current is { } current)
        {
            var server = telemetry.Server(current.Provider);
            span.SetTag(ProviderName, current.Provider.Name);
            span.SetTag(ServerAddress, server.Host);
            span.SetTag(ServerPort, server.Port);
            if (current.Policy is not null && call.ModelRequested.StartsWith(PolicyId.Prefix, StringComparison.OrdinalIgnoreCase))
            {
                span.SetTag(PolicyName, call.ModelRequested[PolicyId.Prefix.Length..]);
            }
        }

        if (reading.Model is { } responseModel)
        {
            span.SetTag(ResponseModel, responseModel);
        }

        var reasons = call.Streamed ? FinishReasons.Of(reading.FinishReason) : call.Answer is { } answer ? FinishReasons.Read(answer.Span) : [];
        if (reasons.Length > 0)
        {
            span.SetTag(ResponseFinishReasons, reasons);
        }

        if (call.AnySent)
        {
            span.SetTag(UsageInputTokens, reading.InputTokens);
            span.SetTag(UsageOutputTokens, reading.OutputTokens);
            span.SetTag(UsageCacheReadInputTokens, reading.CachedInputTokens);
        }

        span.SetTag(AttemptCount, CountAttempts(call));
        span.SetTag(CostUsd, (double)call.CostUsd);
        if (call.CacheHit is { } hit)
        {
            span.SetTag(CacheHitName, true);
            span.SetTag(CacheSavedUsd, (double)hit.SavedUsd);
        }
        span.SetTag(CostBasisName, BasisValue(call.CostBasis));
        span.SetTag(OutcomeName, OutcomeValue(call.Outcome));
        if (call.BudgetRefusal is { } refusal)
        {
            span.SetTag(BudgetRule, refusal.Status.Rule);
        }

        if (telemetry.CaptureContent && call.Outcome == UsageOutcome.Succeeded && OperationOrPath(call.Request.Operation) == Chat)
        {
            var output = call.Streamed
                ? call.StreamOutput is { } text ? MessageContent.StreamOutput(text.Text, reading.FinishReason) : null
                : call.Answer is { } whole ? MessageContent.Output(whole.Span) : null;
            if (output is not null)
            {
                span.SetTag(OutputMessages, output);
            }
        }

        if (error is not null)
        {
            span.SetTag(ErrorType, error);
            span.SetStatus(ActivityStatusCode.Error, call.Error);
        }
    }

    private void RecordMetrics(CallContext call, string? error)
    {
        var reading = call.Reading;
        if (telemetry.Duration.Enabled)
        {
            var tags = CallTags(call);
            if (error is not null)
            {
                tags.Add(ErrorType, error);
            }

            telemetry.Duration.Record(call.Latency.TotalSeconds, tags);
        }

        if (telemetry.TokenUsage.Enabled && call.AnySent && (reading.HasUsage || reading.InputTokens > 0 || reading.OutputTokens > 0))
        {
            var tags = CallTags(call);
            tags.Add(TokenType, Input);
            telemetry.TokenUsage.Record(reading.InputTokens, tags);
            tags = CallTags(call);
            tags.Add(TokenType, Output);
            telemetry.TokenUsage.Record(reading.OutputTokens, tags);
        }

        if (_timeToFirstChunk is { } first && telemetry.TimeToFirstChunk.Enabled)
        {
            telemetry.TimeToFirstChunk.Record(first, CallTags(call));
        }

        if (call.CostUsd != 0m && telemetry.Cost.Enabled)
        {
            telemetry.Cost.Add((double)call.CostUsd, CallTags(call));
        }

        if (error == ErrorTypes.BudgetExceeded && call.BudgetRefusal is { } refusal && telemetry.BudgetRefusals.Enabled)
        {
            var tags = CountTags(call, provider: null);
            tags.Add(BudgetRule, refusal.Status.Rule);
            telemetry.BudgetRefusals.Add(1, tags);
        }
    }

    /// <summary>What ended the call, as its <c>error.type</c>; <see langword="null"/> when it succeeded.</summary>
    private string? CallError(CallContext call)
    {
        switch (call.Outcome)
        {
            case UsageOutcome.Succeeded:
                return null;
            case UsageOutcome.Canceled:
                return ErrorTypes.Canceled;
            case UsageOutcome.Incomplete:
                return ErrorTypes.StreamIncomplete;
        }

        if (call.BudgetRefusal is not null && (!call.AnySent || call.BudgetEndedCall))
        {
            return ErrorTypes.BudgetExceeded;
        }

        if (call.Unpriced is not null && !call.AnySent)
        {
            return ErrorTypes.UnpricedModel;
        }

        if (call.Outcome == UsageOutcome.Rejected)
        {
            return ErrorTypes.UnroutableModel;
        }

        return _lastFailure ?? (call.StatusCode is { } status ? status.ToString(System.Globalization.CultureInfo.InvariantCulture) : ErrorTypes.Other);
    }

    /// <summary>The conventions' attributes of a call's metrics, and the agent and task (few values) and the configured metadata.</summary>
    private TagList CallTags(CallContext call)
    {
        var tags = new TagList
        {
            { OperationName, OperationOrPath(call.Request.Operation) },
        };

        if (call.Current is { } current)
        {
            var server = telemetry.Server(current.Provider);
            tags.Add(ProviderName, current.Provider.Name);
            tags.Add(ServerAddress, server.Host);
            tags.Add(ServerPort, server.Port);
        }

        if (call.ModelRequested.Length > 0)
        {
            tags.Add(RequestModel, call.ModelRequested);
        }

        if (call.Reading.Model is { } responseModel)
        {
            tags.Add(ResponseModel, responseModel);
        }

        AddRunTags(ref tags, call);
        return tags;
    }

    /// <summary>The attributes of the harness's counters: the model asked for, the provider, the agent and the task.</summary>
    private TagList CountTags(CallContext call, string? provider)
    {
        var tags = default(TagList);
        if (call.ModelRequested.Length > 0)
        {
            tags.Add(RequestModel, call.ModelRequested);
        }

        if (provider is not null)
        {
            tags.Add(ProviderName, provider);
        }

        AddRunTags(ref tags, call);
        return tags;
    }

    private void AddRunTags(ref TagList tags, CallContext call)
    {
        if (call.Run is { } run)
        {
            tags.Add(AgentName, run.Agent);
        }

        if (call.Task is { } task)
        {
            tags.Add(TaskName, task);
        }

        foreach (var attribute in telemetry.Metadata)
        {
            if (call.CallMetadata.TryGetValue(attribute.Key, out var value))
            {
                tags.Add(attribute.Name, value);
            }
        }
    }

    private static int CountAttempts(CallContext call)
    {
        var count = 0;
        var attempts = call.Attempts;
        for (var i = 0; i < attempts.Count; i++)
        {
            if (attempts[i].Outcome != AttemptOutcome.Skipped)
            {
                count++;
            }
        }

        return count;
    }
}
