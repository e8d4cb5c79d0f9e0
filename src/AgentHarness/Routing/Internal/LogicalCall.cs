using System.Globalization;
using AgentHarness.Budget.Internal;
using AgentHarness.Http.Internal;
using AgentHarness.Runs.Internal;

namespace AgentHarness.Routing.Internal;

/// <summary>
/// One logical call across its candidates and attempts: it tries each candidate in order
/// (skipping those cooling down or too small for the prompt), retries transient failures with
/// backoff and <c>Retry-After</c>, falls back as the route's settings allow, and ends as exactly one
/// usage record.
/// </summary>
internal sealed class LogicalCall : IStreamCompletion
{
    public static readonly HttpRequestOptionsKey<LogicalCall> OptionsKey = new("AgentHarness.Call");

    private readonly RoutingHandler _handler;
    private readonly HttpRequestMessage _request;
    private readonly RequestBody _body;
    private readonly string _relativePath;
    private readonly string _operation;
    private readonly long _started;
    private readonly DateTimeOffset _timestamp;
    private readonly AgentRun? _run;
    private readonly AgentRun[] _runs;
    private readonly CancellationToken _callerToken;
    private readonly List<UsageAttempt> _attempts = new(1);
    private Candidate? _current;
    private byte[]? _upstreamBody;
    private string? _upstreamBodyModel;
    private UsageReading _reading;
    private int _finished;

    // Whether the stream handed to the caller is the candidate's half-open probe; its report waits for the stream's end.
    private bool _streamProbe;

    // Cost control: the call's budgets, the price of the candidate being tried, the reservation its
    // attempt holds, and what the call has been charged.
    private readonly bool _metered;
    private readonly CallBudget? _budget;
    private readonly IReadOnlyDictionary<string, string> _callMetadata;
    private ModelPrice? _price;
    private Reservation? _held;
    private int? _inputEstimate;
    private decimal _costUsd;
    private CostBasis _costBasis;
    private (BudgetStatus Status, decimal Estimate)? _budgetRefusal;
    private List<string>? _unpriced;
    private bool _anySent;
    private bool _attemptSent;

    // The output limit the budget stage set on the attempt being made, or null; and whether a
    // budget refused a candidate after the last attempt that was sent (then it is why the call ends).
    private int? _outputLimit;
    private bool _budgetEndedCall;
    private byte[]? _answer;

    public LogicalCall(RoutingHandler handler, HttpRequestMessage request, RequestBody body, string relativePath, string operation, long started, CancellationToken callerToken)
    {
        _handler = handler;
        _request = request;
        _body = body;
        _relativePath = relativePath;
        _operation = operation;
        _started = started;
        _callerToken = callerToken;
        _timestamp = handler.TimeProvider.GetUtcNow();
        _runs = AgentRun.OpenRuns();
        _run = _runs.Length > 0 ? _runs[0] : null;
        Metadata = _run?.MetadataSnapshot;
        Task = _run?.CurrentTask;
        _callMetadata = Metadata?.ForCall(Task) ?? EmptyMetadata;
        _metered = body.Model is not null && CostControl.IsMetered(operation);
        _budget = _metered ? handler.Costs.Guard.ForCall(_runs, _callMetadata, Task) : null;
    }

    /// <summary>
    /// Gets a value indicating whether the call serves a synchronous client method: every send and read is
    /// then synchronous, so the call's task has completed when <see cref="RunAsync"/> returns.
    /// </summary>
    public bool Synchronous { get; init; }

    /// <summary>Gets the run's metadata as it stood when the call began; every attempt sends the same values.</summary>
    public RunMetadata? Metadata { get; }

    public string? Task { get; }

    public AgentRun? Run => _run;

    /// <summary>Gets the provider of the attempt being made.</summary>
    public ProviderEndpoint? Provider => _current?.Provider;

    public string ModelRequested => _body.Model ?? string.Empty;

    /// <summary>Gets a value indicating whether any attempt was sent; a call refused before that is <see cref="UsageOutcome.Rejected"/>.</summary>
    public bool AnySent => _anySent;

    /// <summary>Gets the input tokens of the request as estimated before sending, computed once when first needed.</summary>
    private int InputEstimate => _inputEstimate ??= TokenEstimator.EstimateInputTokens(_body.Bytes);

    /// <summary>Runs the call over its candidates and returns the response to hand to the client.</summary>
    public async Task<HttpResponseMessage> RunAsync(IReadOnlyList<Candidate> candidates, RouteSettings settings, CancellationTokenSource total)
    {
        var time = _handler.TimeProvider;
        var cooldowns = _handler.Cooldowns;
        HttpResponseMessage? lastResponse = null;
        Exception? lastException = null;
        Failure? lastFailure = null;
        Candidate? failedCandidate = null;
        int? failedWindow = null;
        var heldBack = ListCoolingDown(candidates, cooldowns);

        foreach (var candidate in candidates)
        {
            if (failedWindow is { } failed && candidate.ContextWindow is { } window && window <= failed)
            {
                Skip(candidate, $"skipped: context window {window} is not larger than {failed}");
                continue;
            }

            ModelPrice? price = null;
            if (_metered)
            {
                price = _handler.Costs.Catalog.Find(candidate.CatalogId);
                if (price is null && _handler.Costs.RefuseUnpriced)
                {
                    (_unpriced ??= []).Add(candidate.CatalogId);
                    Skip(candidate, $"skipped: the price catalog has no price for '{candidate.CatalogId}'");
                    continue;
                }
            }

            if (!cooldowns.TryAcquire(candidate.Key, out var probe))
            {
                if (heldBack == 0 || !IsListed(candidate))
                {
                    SkipCoolingDown(candidate, cooldowns);
                }

                continue;
            }

            if (failedCandidate is not null)
            {
                // Logged when the next candidate is really tried, not when it might be skipped.
                RoutingHandler.LogFallback(_handler.Logger, ModelRequested, failedCandidate.Model, failedCandidate.Provider.Name, lastFailure?.Reason ?? "failed", candidate.Model);
            }

            var healthFailure = false;
            var succeeded = false;
            var streamed = false;
            try
            {
                for (var attempt = 1; ; attempt++)
                {
                    _price = price;
                    _outputLimit = null;
                    if (_budget is { Limited: true } && !await ReserveAsync(candidate, price, total).ConfigureAwait(false))
                    {
                        if (total.IsCancellationRequested)
                        {
                            // The budget store did not answer in time: the total timeout bounds the reservation too.
                            return ExhaustedOrThrow(candidate, lastResponse, lastException, $"the call's total timeout of {settings.TotalTimeout} elapsed");
                        }

                        break;
                    }

                    lastResponse?.Dispose();
                    lastResponse = null;

                    var result = await AttemptAsync(candidate, settings, total).ConfigureAwait(false);
                    if (result.Failure is not { } failure)
                    {
                        streamed = result.Response!.Content is ObservedStreamContent;
                        succeeded = true;
                        if (result.Response!.Content is not ObservedStreamContent)
                        {
                            // A stream is charged when it ends; anything else has been read whole.
                            ChargeAnswer(output: null);
                        }

                        return result.Response!;
                    }

                    if (failure.Kind == FailureKind.Canceled || _callerToken.IsCancellationRequested)
                    {
                        ChargeCanceledAttempt();
                    }
                    else
                    {
                        Charge(0m, _costBasis);
                    }

                    lastResponse = result.Response;
                    lastException = result.Exception;
                    lastFailure = failure;
                    failedCandidate = candidate;
                    if (failure.Kind == FailureKind.Canceled || _callerToken.IsCancellationRequested)
                    {
                        // The caller's cancellation also cancels the total token: it must be seen first.
                        lastResponse?.Dispose();
                        throw new OperationCanceledException("The call was cancelled by the caller.", result.Exception, _callerToken);
                    }

                    if (total.IsCancellationRequested)
                    {
                        return ExhaustedOrThrow(candidate, lastResponse, lastException, $"the call's total timeout of {settings.TotalTimeout} elapsed");
                    }

                    // These say something about the candidate's health; the caller's own errors do not.
                    healthFailure |= failure.Kind is FailureKind.Transient or FailureKind.QuotaExceeded or FailureKind.Authentication or FailureKind.ModelNotFound;

                    if (failure.Kind == FailureKind.Transient && attempt < settings.AttemptsPerCandidate)
                    {
                        var retryAfter = result.Response is { } response ? RetryAfter(response, time) : null;
                        if (retryAfter is null || retryAfter <= settings.MaxRetryAfter)
                        {
                            var delay = retryAfter ?? Backoff(settings.RetryBaseDelay, attempt);
                            if (delay > TimeSpan.Zero)
                            {
                                await WaitAsync(delay, time, total).ConfigureAwait(false);
                                if (_callerToken.IsCancellationRequested)
                                {
                                    lastResponse?.Dispose();
                                    throw new OperationCanceledException("The call was cancelled by the caller.", null, _callerToken);
                                }

                                if (total.IsCancellationRequested)
                                {
                                    return ExhaustedOrThrow(candidate, lastResponse, lastException, $"the call's total timeout of {settings.TotalTimeout} elapsed");
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

                    if (!settings.FallsBackOn(failure.Kind))
                    {
                        // The caller's own error, or a failure this route does not fall back on: it is the call's answer.
                        return Final(lastResponse, lastException, failure);
                    }

                    break;
                }
            }
            finally
            {
                // One report per candidate per call: a call's own retries never put its candidate in cooldown midway.
                if (streamed)
                {
                    // A stream handed over says nothing yet: it reports once it ends (OnStreamCompleted), and a
                    // probe keeps its slot until then.
                    _streamProbe = probe;
                }
                else if (succeeded)
                {
                    cooldowns.ReportSuccess(candidate.Key, probe);
                }
                else if (healthFailure)
                {
                    cooldowns.ReportFailure(candidate.Key, probe);
                }
                else if (probe)
                {
                    cooldowns.ReleaseProbe(candidate.Key);
                }
            }
        }

        return ExhaustedOrThrow(failedCandidate, lastResponse, lastException, lastFailure?.Reason);
    }

    /// <summary>Ends the call with the final response: a stream is recorded when it ends, anything else now.</summary>
    public HttpResponseMessage Complete(HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
        {
            Finish(UsageOutcome.Failed, (int)response.StatusCode, $"HTTP {(int)response.StatusCode}");
        }
        else if (response.Content is not ObservedStreamContent)
        {
            Finish(UsageOutcome.Succeeded, (int)response.StatusCode, error: null);
        }

        return response;
    }

    public void OnStreamCompleted(SseUsageObserver observer, bool endedNormally, bool canceled, string? error)
    {
        _reading = observer.Reading;
        try
        {
            ChargeAnswer(observer.Output);
        }
#pragma warning disable CA1031 // Pricing must never lose the call's record or leave its reservation held.
        catch (Exception)
#pragma warning restore CA1031
        {
            Charge(0m, _costBasis);
        }

        var outcome = endedNormally ? UsageOutcome.Succeeded : canceled ? UsageOutcome.Canceled : UsageOutcome.Incomplete;
        if (_current is { } candidate)
        {
            ReportStreamHealth(candidate, outcome, error);
        }

        Finish(outcome, 200, error);
    }

    /// <summary>
    /// The stream's one cooldown report, made when it ends: a model that keeps breaking its streams must cool
    /// down like one that refuses them, while a caller that stops reading or cancels says nothing about the model.
    /// </summary>
    private void ReportStreamHealth(Candidate candidate, UsageOutcome outcome, string? error)
    {
        var cooldowns = _handler.Cooldowns;
        if (outcome == UsageOutcome.Succeeded)
        {
            cooldowns.ReportSuccess(candidate.Key, _streamProbe);
        }
        else if (outcome == UsageOutcome.Incomplete
            && !string.Equals(error, ObservedStreamContent.ClosedEarly, StringComparison.Ordinal)
            && !string.Equals(error, ObservedStreamContent.AbandonedByCaller, StringComparison.Ordinal))
        {
            cooldowns.ReportFailure(candidate.Key, _streamProbe);
        }
        else if (_streamProbe)
        {
            cooldowns.ReleaseProbe(candidate.Key);
        }
    }

    public void Finish(UsageOutcome outcome, int? statusCode, string? error)
    {
        if (Interlocked.Exchange(ref _finished, 1) != 0)
        {
            return;
        }

        if (_held is not null)
        {
            // Only an unexpected exception ends a call with a reservation still held: release it.
            Charge(0m, _costBasis);
        }

        var latency = _handler.TimeProvider.GetElapsedTime(_started);
        var record = new UsageRecord
        {
            Timestamp = _timestamp,
            RunId = _run?.RunId,
            Agent = _run?.Agent,
            Task = Task,
            Metadata = _callMetadata,
            ModelRequested = ModelRequested,
            ModelUsed = _reading.Model,
            Provider = _current?.Provider.Name,
            Operation = _operation,
            Streaming = _body.Stream,
            InputTokens = _reading.InputTokens,
            OutputTokens = _reading.OutputTokens,
            CachedInputTokens = _reading.CachedInputTokens,
            CostUsd = _costUsd,
            CostBasis = _costBasis,
            Latency = latency,
            Outcome = outcome,
            StatusCode = statusCode,
            Error = error,
            Attempts = _attempts.ToArray(),
        };

        try
        {
            _handler.Ledger.Add(record);
        }
#pragma warning disable CA1031 // A ledger failure must never fail the model call that it records.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            RoutingHandler.LogLedgerFailed(_handler.Logger, exception, _handler.Ledger.GetType().Name, record.ModelRequested);
        }

        foreach (var run in _runs)
        {
            // An enclosing run's figures include the calls of the runs nested in it.
            run.AddCall(record);
        }

        if (record.Provider is null)
        {
            RoutingHandler.LogCallNotSent(_handler.Logger, record.ModelRequested, _operation, outcome, error);
        }
        else if (outcome is UsageOutcome.Succeeded or UsageOutcome.Canceled)
        {
            RoutingHandler.LogCallEnded(_handler.Logger, record.ModelRequested, record.Provider, _operation, outcome, _attempts.Count, latency.TotalMilliseconds, record.InputTokens, record.OutputTokens);
        }
        else
        {
            RoutingHandler.LogCallFailed(_handler.Logger, record.ModelRequested, record.Provider, _operation, outcome, _attempts.Count, error);
        }
    }

    /// <summary>
    /// Reserves the attempt's worst case in every budget that applies. When it does not fit, the
    /// candidate is skipped: a cheaper one after it may still fit, and a dearer one is skipped without asking.
    /// </summary>
    /// <returns>Whether the attempt may be sent.</returns>
    private async ValueTask<bool> ReserveAsync(Candidate candidate, ModelPrice? price, CancellationTokenSource total)
    {
        // An unpriced model the options allow reserves nothing, but is still refused by a budget already overspent.
        var worst = price is null ? 0m : WorstCase(price, outputTokens: null);
        var fit = price is not null && CanFitOutput(price);
        var least = fit ? WorstCase(price!, _handler.Costs.MinFittedOutputTokens) : worst;
        if (_budgetRefusal is { } refused && least >= refused.Estimate)
        {
            Skip(candidate, string.Create(CultureInfo.InvariantCulture, $"skipped: worst case ${least:0.########} is not below the ${refused.Estimate:0.########} that budget '{refused.Status.Rule}' refused"));
            _budgetEndedCall = true;
            return false;
        }

        ReserveOutcome outcome;
        try
        {
            outcome = await ReserveWithinAsync(worst, total.Token).ConfigureAwait(false);

            // A request without an output limit reserves the model's whole output; when that does
            // not fit, the most output that fits what is left may be asked for instead. A few
            // rounds at most: each refusal names the budget that is tightest now.
            for (var round = 0; fit && outcome.Refusal is { } tight && round < 4; round++)
            {
                if (FittingOutputTokens(price!, tight) is not { } tokens)
                {
                    break;
                }

                var fitted = WorstCase(price!, tokens);
                var retry = await ReserveWithinAsync(fitted, total.Token).ConfigureAwait(false);
                if (retry.Refusal is null)
                {
                    _outputLimit = tokens;
                }
                else
                {
                    worst = fitted;
                }

                outcome = retry;
            }
        }
        catch (OperationCanceledException) when (total.IsCancellationRequested && !_callerToken.IsCancellationRequested)
        {
            Skip(candidate, "skipped: the budget store did not answer within the call's total timeout");
            return false;
        }
        catch (OperationCanceledException) when (_callerToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The call was cancelled by the caller.", null, _callerToken);
        }

        if (outcome.Refusal is { } status)
        {
            _budgetEndedCall = true;
            if (_budgetRefusal is null || worst < _budgetRefusal.Value.Estimate)
            {
                _budgetRefusal = (status, worst);
            }

            Skip(candidate, string.Create(CultureInfo.InvariantCulture, $"skipped: worst case ${worst:0.########} does not fit budget '{status.Rule}' (limit ${status.LimitUsd:0.########}, spent ${status.SpentUsd:0.########}, reserved ${status.ReservedUsd:0.########})"));
            return false;
        }

        _held = outcome.Reservation;
        return true;
    }

    /// <summary>
    /// The most an attempt at this price can cost: the input estimate at the full input rate, and the
    /// most output the answer can have (per choice: <paramref name="outputTokens"/> when the harness
    /// limits it, else what the request allows).
    /// </summary>
    private decimal WorstCase(ModelPrice price, int? outputTokens)
    {
        var input = InputEstimate;
        var output = CostControl.ProducesOutput(_operation)
            ? CallCost.WorstCaseOutputTokens(price, outputTokens ?? _body.MaxOutputTokens, _body.Choices, input, _handler.Costs.DefaultMaxOutputTokens)
            : 0;
        return CallCost.WorstCase(price, input, output);
    }

    /// <summary>Whether this request may be sent with an output limit the budget stage sets: it has none of its own, and its operation takes one.</summary>
    private bool CanFitOutput(ModelPrice price) =>
        _handler.Costs.FitOutputToBudget
        && !_body.NamesOutputLimit
        && price.OutputPerToken > 0m
        && CostControl.OutputLimitProperty(_operation) is not null;

    /// <summary>
    /// The most output tokens per choice whose worst case fits what the refusing budget has left,
    /// or <see langword="null"/> when fewer than the configured floor fit.
    /// </summary>
    private int? FittingOutputTokens(ModelPrice price, BudgetStatus refusal)
    {
        var left = refusal.LimitUsd - refusal.SpentUsd - refusal.ReservedUsd - CallCost.WorstCase(price, InputEstimate, 0);
        if (left <= 0m)
        {
            return null;
        }

        var perChoice = price.OutputPerToken * Math.Max(1, _body.Choices);
        var tokens = Math.Floor(left / perChoice);
        var whole = CallCost.WorstCaseOutputTokens(price, null, 1, InputEstimate, _handler.Costs.DefaultMaxOutputTokens);
        if (tokens >= whole)
        {
            // Another call's settle freed room between the two reservations: one token less than the
            // whole output still makes the retry a strictly smaller reservation.
            tokens = whole - 1;
        }

        return tokens >= _handler.Costs.MinFittedOutputTokens ? (int)tokens : null;
    }

    /// <summary>
    /// Reserves within the call's total timeout. A store that ignores cancellation may still
    /// reserve after the call gave up on it: that reservation is released as soon as it arrives.
    /// </summary>
    private async ValueTask<ReserveOutcome> ReserveWithinAsync(decimal amountUsd, CancellationToken token)
    {
        var pending = _budget!.TryReserveAsync(amountUsd, token);
        if (pending.IsCompleted)
        {
            return pending.GetAwaiter().GetResult();
        }

        var task = pending.AsTask();
        try
        {
            return await task.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Also when the store finished just as the wait gave up: its reservation is nobody's now.
            _ = task.ContinueWith(
                static (reserved, budget) =>
                {
                    if (reserved.IsCompletedSuccessfully && reserved.Result.Reservation is { } reservation)
                    {
                        ((CallBudget)budget!).Settle(reservation, 0m);
                    }
                },
                _budget,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
            throw;
        }
    }

    /// <summary>
    /// Charges the answer that was returned: the cost the provider reported, else its usage at
    /// catalog prices, else (a stream that stopped before its usage event) the input estimate and
    /// the output that arrived.
    /// </summary>
    private void ChargeAnswer(OutputText? output)
    {
        if (!_metered)
        {
            Charge(0m, CostBasis.None);
            return;
        }

        var reported = _reading.ReportedCost is { } cost && cost >= 0m ? cost : (decimal?)null;
        if (_price is not { } price)
        {
            // Nothing to check a reported cost against: it is the only figure there is.
            Charge(reported is { } r ? Math.Min(r, CallCost.Ceiling) : 0m, reported is null ? CostBasis.Unpriced : CostBasis.Reported);
            return;
        }

        if (!_reading.HasUsage)
        {
            // No usage arrived (a stream cut before its usage event, an answer without usage): the
            // record shows the tokens it is charged for, not zeros beside a cost.
            _reading.InputTokens = InputEstimate;
            _reading.OutputTokens = (int)Math.Min(output is null ? AnswerOutputTokens() : output.CountTokens(TokenEstimator.CountTokens), int.MaxValue);
            _reading.CachedInputTokens = 0;
        }

        var catalog = CallCost.Of(price, _reading.InputTokens, _reading.OutputTokens, _reading.CachedInputTokens);
        var basis = _reading.HasUsage ? CostBasis.Catalog : CostBasis.Estimated;
        if (reported is { } claimed)
        {
            if (claimed <= catalog * CallCost.MaxReportedToCatalogRatio)
            {
                Charge(claimed, CostBasis.Reported);
                return;
            }

            // A number from outside is not charged blindly: one absurd usage.cost would exhaust every budget it touches.
            RoutingHandler.LogImplausibleCost(_handler.Logger, ModelRequested, _current?.Provider.Name, claimed, catalog, CallCost.MaxReportedToCatalogRatio);
            basis = CostBasis.ReportedCostImplausible;
        }

        Charge(catalog, basis);
    }

    /// <summary>The output tokens of a whole answer that reported no usage, counted from its text.</summary>
    private long AnswerOutputTokens()
    {
        if (_answer is null)
        {
            return 0;
        }

        using var text = new OutputText();
        var reading = new UsageReading { Deltas = text };
        reading.Read(_answer);
        return text.CountTokens(TokenEstimator.CountTokens);
    }

    /// <summary>Charges an attempt the caller cancelled after it was sent: the provider has likely billed the prompt.</summary>
    private void ChargeCanceledAttempt()
    {
        if (!_metered)
        {
            Charge(0m, CostBasis.None);
        }
        else if (!_attemptSent)
        {
            Charge(0m, _costBasis);
        }
        else if (_price is { } price)
        {
            _reading.InputTokens = InputEstimate;
            Charge(CallCost.Of(price, InputEstimate, 0, 0), CostBasis.Estimated);
        }
        else
        {
            Charge(0m, CostBasis.Unpriced);
        }
    }

    /// <summary>Settles the held reservation (if any) at <paramref name="amountUsd"/>; zero releases it.</summary>
    private void Charge(decimal amountUsd, CostBasis basis)
    {
        var held = _held;
        _held = null;
        _costUsd += amountUsd;
        _costBasis = basis;
        _budget?.Settle(held, amountUsd);
    }

    /// <summary>Reads <c>retry-after-ms</c>, or <c>Retry-After</c> in seconds or as an HTTP date; <see langword="null"/> when absent.</summary>
    internal static TimeSpan? RetryAfter(HttpResponseMessage response, TimeProvider timeProvider)
    {
        if (response.Headers.TryGetValues("retry-after-ms", out var values)
            && double.TryParse(values.FirstOrDefault(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var ms)
            && ms >= 0)
        {
            // A provider's number is not trusted to fit a TimeSpan; anything over a day is "too long" anyway.
            return ms < TimeSpan.FromDays(1).TotalMilliseconds ? TimeSpan.FromMilliseconds(ms) : TimeSpan.FromDays(1);
        }

        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - timeProvider.GetUtcNow();
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return null;
    }

    private static readonly IReadOnlyDictionary<string, string> EmptyMetadata =
        new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    private static TimeSpan Backoff(TimeSpan baseDelay, int attempt)
    {
        if (baseDelay <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        // Exponential with ±20% jitter so that clients failing together do not retry together.
        var exponential = baseDelay.TotalMilliseconds * Math.Pow(2, attempt - 1);
        var jittered = exponential * (0.8 + (Random.Shared.NextDouble() * 0.4));
        return TimeSpan.FromMilliseconds(Math.Min(jittered, TimeSpan.FromMinutes(1).TotalMilliseconds));
    }

    private static bool IsEventStream(HttpResponseMessage response) =>
        response.IsSuccessStatusCode
        && string.Equals(response.Content.Headers.ContentType?.MediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase);

    private async Task WaitAsync(TimeSpan delay, TimeProvider time, CancellationTokenSource total)
    {
        try
        {
            var wait = System.Threading.Tasks.Task.Delay(delay, time, total.Token);
            if (Synchronous)
            {
                // The synchronous caller's thread waits here rather than handing the rest of the call to the pool.
                wait.GetAwaiter().GetResult();
            }
            else
            {
                await wait.ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_callerToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The call was cancelled by the caller.", null, _callerToken);
        }
        catch (OperationCanceledException)
        {
            // The total timeout ended the wait; the caller of this method sees it on the token.
        }
    }

    private void Skip(Candidate candidate, string reason) =>
        _attempts.Add(new UsageAttempt(candidate.Provider.Name, candidate.Model, AttemptOutcome.Skipped, null, reason, TimeSpan.Zero));

    private void SkipCoolingDown(Candidate candidate, CooldownTracker cooldowns) =>
        Skip(candidate, cooldowns.RemainingCooldown(candidate.Key) is { } remaining && remaining > TimeSpan.Zero
            ? $"skipped: cooling down for {remaining}"
            : "skipped: cooling down, a probe call is in flight");

    /// <summary>
    /// Lists, before anything is tried, every candidate held back because it cools down: the plan moved it
    /// behind the others, so a call answered before reaching it must still say it was passed over. One that
    /// is still cooling when its turn comes is not listed twice; one whose cooldown ended meanwhile is tried.
    /// </summary>
    /// <returns>How many were listed.</returns>
    private int ListCoolingDown(IReadOnlyList<Candidate> candidates, CooldownTracker cooldowns)
    {
        var listed = 0;
        for (var i = 0; i < candidates.Count; i++)
        {
            if (cooldowns.RemainingCooldown(candidates[i].Key) is not null)
            {
                SkipCoolingDown(candidates[i], cooldowns);
                listed++;
            }
        }

        return listed;
    }

    /// <summary>Whether the candidate already has an entry in the attempts (the cooldown list comes first).</summary>
    private bool IsListed(Candidate candidate)
    {
        for (var i = 0; i < _attempts.Count; i++)
        {
            if (string.Equals(_attempts[i].Provider, candidate.Provider.Name, StringComparison.Ordinal) && string.Equals(_attempts[i].Model, candidate.Model, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private HttpResponseMessage Final(HttpResponseMessage? response, Exception? exception, Failure failure)
    {
        if (response is not null)
        {
            return response;
        }

        throw exception is HttpRequestException or OperationCanceledException or null
            ? new HttpRequestException($"Model '{_current?.Model}' via '{_current?.Provider.Name}' did not answer: {failure.Reason}.", exception)
            : exception;
    }

    private HttpResponseMessage ExhaustedOrThrow(Candidate? last, HttpResponseMessage? response, Exception? exception, string? reason)
    {
        if (_budgetRefusal is { } refusal && (!_anySent || _budgetEndedCall))
        {
            // A budget is why nothing more could be tried, also when earlier attempts were sent.
            response?.Dispose();
            throw new BudgetExceededException(ModelRequested, refusal.Status, refusal.Estimate, _attempts.ToArray());
        }

        if (_unpriced is not null && !_anySent)
        {
            response?.Dispose();
            throw new UnpricedModelException(ModelRequested, _unpriced.ToArray());
        }

        if (last is { Policy: null } && _anySent && (response is not null || exception is not null))
        {
            // A direct call keeps the provider's own answer, so the client raises its usual error with the status.
            return Final(response, exception, new Failure(FailureKind.Transient, null, reason ?? "failed"));
        }

        response?.Dispose();
        throw new AllCandidatesFailedException(ModelRequested, _attempts.ToArray());
    }

    private async Task<AttemptResult> AttemptAsync(Candidate candidate, RouteSettings settings, CancellationTokenSource total)
    {
        var time = _handler.TimeProvider;
        var started = time.GetTimestamp();
        _current = candidate;
        if (_callerToken.IsCancellationRequested)
        {
            // Nothing is sent for a caller who has already given up.
            throw new OperationCanceledException("The call was cancelled by the caller.", null, _callerToken);
        }

        var attempt = CreateAttempt(candidate);

        // Sent unless the caller cancels before the transport starts writing the body: then nothing
        // left the process, and the caller is charged nothing for it.
        _attemptSent = true;
        using var attemptTimeout = new CancellationTokenSource(settings.AttemptTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(total.Token, attemptTimeout.Token);
        HttpResponseMessage? response = null;
        try
        {
            response = Synchronous
                ? _handler.SendInner(attempt, linked.Token)
                : await _handler.SendInnerAsync(attempt, linked.Token).ConfigureAwait(false);
            response.RequestMessage = _request;
            var status = (int)response.StatusCode;
            if (!IsEventStream(response))
            {
                // A body that is not streamed is read inside the attempt, so the attempt timeout covers
                // it, its usage is known when the call ends, and an error body can be classified.
                var bytes = Synchronous
                    ? BoundedContent.Read(response.Content, _handler.Limits.MaxResponseBytes, linked.Token)
                    : await BoundedContent.ReadAsync(response.Content, _handler.Limits.MaxResponseBytes, linked.Token).ConfigureAwait(false);
                var buffered = new ByteArrayContent(bytes);
                foreach (var header in response.Content.Headers.NonValidated)
                {
                    buffered.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }

                response.Content.Dispose();
                response.Content = buffered;
                if (response.IsSuccessStatusCode)
                {
                    _reading.Read(bytes);
                    _answer = bytes;
                    Attempted(candidate, AttemptOutcome.Succeeded, status, null, started);
                    return new AttemptResult(response, null, null);
                }

                var failure = FailureClassifier.Classify(status, bytes);
                Attempted(candidate, AttemptOutcome.Failed, status, failure.Reason, started);
                return new AttemptResult(response, failure, null);
            }

            return await PeekAsync(candidate, settings, response, total, started).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not StreamInterruptedException && _callerToken.IsCancellationRequested && attempt.Content is AttemptContent { Started: false })
        {
            response?.Dispose();
            _attemptSent = false;
            Skip(candidate, "not sent: the caller cancelled before the request left");
            return new AttemptResult(null, new Failure(FailureKind.Canceled, null, "cancelled by the caller"), ex);
        }
        catch (Exception ex) when (ex is not StreamInterruptedException)
        {
            response?.Dispose();
            var failure = total.IsCancellationRequested && !_callerToken.IsCancellationRequested
                ? new Failure(FailureKind.Transient, null, $"the call's total timeout of {settings.TotalTimeout} elapsed")
                : FailureClassifier.Classify(ex, _callerToken.IsCancellationRequested, settings.AttemptTimeout);
            Attempted(candidate, AttemptOutcome.Failed, null, failure.Reason, started);
            return new AttemptResult(null, failure, ex);
        }
        finally
        {
            _anySent |= _attemptSent;
            if (_attemptSent)
            {
                // A budget refusal before this attempt is no longer why the call ends.
                _budgetEndedCall = false;
            }
        }
    }

    private async Task<AttemptResult> PeekAsync(Candidate candidate, RouteSettings settings, HttpResponseMessage response, CancellationTokenSource total, long started)
    {
        var time = _handler.TimeProvider;
        var stream = Synchronous
            ? response.Content.ReadAsStream(total.Token)
            : await response.Content.ReadAsStreamAsync(total.Token).ConfigureAwait(false);
        using var firstToken = new CancellationTokenSource(settings.FirstTokenTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(total.Token, firstToken.Token);
        PeekResult peek;
        try
        {
            peek = await StreamPeek.ReadUntilOutputAsync(stream, _handler.Limits, Synchronous, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (firstToken.IsCancellationRequested && !total.IsCancellationRequested)
        {
            response.Dispose();
            var failure = new Failure(FailureKind.Transient, 200, $"no first event within {settings.FirstTokenTimeout}");
            Attempted(candidate, AttemptOutcome.Failed, 200, failure.Reason, started);
            return new AttemptResult(null, failure, null);
        }

        if (peek.Failure is { } problem)
        {
            response.Dispose();
            // An error event comes with status 200, so the credentials handler let it pass unread: a key it echoes
            // is removed here, before the reason (quoted by the record, the exceptions and the fallback warning) is built.
            var failure = peek.ErrorEvent is { } error
                ? FailureClassifier.Classify(500, _handler.Redactor.RedactUtf8(error) ?? error)
                : new Failure(FailureKind.Transient, 200, problem);
            Attempted(candidate, AttemptOutcome.Failed, 200, failure.Reason, started);
            return new AttemptResult(null, failure, null);
        }

        // Nothing has reached the caller yet; from here on the stream is theirs.
        response.Content = new ObservedStreamContent(
            response.Content,
            stream,
            peek.Buffered,
            peek.Length,
            new StreamGuard(candidate.Provider.Name, candidate.Model, settings.StreamIdleTimeout, time, _handler.Limits.MaxStreamEventBytes),
            this);
        var latency = Attempted(candidate, AttemptOutcome.Succeeded, 200, null, started);
        candidate.Policy?.ReportLatency(candidate.Member, latency);
        return new AttemptResult(response, null, null);
    }

    private TimeSpan Attempted(Candidate candidate, AttemptOutcome outcome, int? status, string? error, long started)
    {
        var latency = _handler.TimeProvider.GetElapsedTime(started);
        _attempts.Add(new UsageAttempt(candidate.Provider.Name, candidate.Model, outcome, status, error, latency) { OutputTokenLimit = _outputLimit });
        if (outcome == AttemptOutcome.Succeeded && !_body.Stream)
        {
            candidate.Policy?.ReportLatency(candidate.Member, latency);
        }

        return latency;
    }

    private HttpRequestMessage CreateAttempt(Candidate candidate)
    {
        var attempt = new HttpRequestMessage(_request.Method, candidate.Provider.BuildUri(_relativePath))
        {
            Version = _request.Version,
            VersionPolicy = _request.VersionPolicy,
        };

        // NonValidated: copying must neither parse nor allocate the header values.
        foreach (var header in _request.Headers.NonValidated)
        {
            attempt.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        if (_request.Content is not null)
        {
            if (!string.Equals(_upstreamBodyModel, candidate.Model, StringComparison.Ordinal))
            {
                _upstreamBody = _body.WithModel(candidate.Model);
                _upstreamBodyModel = candidate.Model;
            }

            // A limit the budget stage set goes into this attempt's body only; the cached body stays the caller's.
            attempt.Content = new AttemptContent(_outputLimit is { } limit
                ? OutputLimit.Insert(_upstreamBody!, CostControl.OutputLimitProperty(_operation)!, limit)
                : _upstreamBody!);
            foreach (var header in _request.Content.Headers.NonValidated)
            {
                if (!header.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    attempt.Content.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }
            }
        }

        candidate.Provider.Authorize(attempt);
        attempt.Options.Set(OptionsKey, this);

        // Public, so that a primary handler (the sandbox, a test double) knows the call and candidate without reading the body.
        attempt.Options.Set(AttemptTarget.OptionsKey, new AttemptTarget(candidate.Provider.Name, _body.Model, candidate.Model));
        return attempt;
    }

    private readonly record struct AttemptResult(HttpResponseMessage? Response, Failure? Failure, Exception? Exception);
}
