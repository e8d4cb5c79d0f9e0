using System.Globalization;
using AgentHarness.Http.Internal;
using AgentHarness.Pipeline.Internal;
using Microsoft.Extensions.Logging;
using System.Runtime.CompilerServices;

namespace AgentHarness.Budget.Internal;

/// <summary>
/// The budget stage: it prices each candidate (refusing one without a price when the options say so), reserves each
/// attempt's worst case in every budget that applies before it is sent (skipping a candidate it does not fit, or fitting
/// the answer's length to what is left), and settles the reservation to what the attempt really cost. A stream is
/// charged when it ends, and whatever a call still holds is released when the call ends.
/// </summary>
/// <remarks>
/// The worst case is first reserved with <see cref="TokenEstimator.UpperBound"/> for the input, which costs a few
/// vectorized passes over the body; the tokenizer counts the input only when that bound does not fit, or when an answer
/// reported no usage to charge from.
/// </remarks>
internal sealed partial class BudgetStage(CostControl costs, ILoggerFactory loggerFactory) : IAttemptStage, ICallObserver
{
    // An implausible reported cost is a call event: it is logged under the routing category with the call's other events.
    private readonly ILogger logger = loggerFactory.CreateLogger(AgentHarnessLogCategories.Routing);

    public bool Admit(CallContext call, Candidate candidate)
    {
        var state = State(call);
        state.CandidatePrice = null;
        if (!state.Metered)
        {
            return true;
        }

        if (costs.Catalog.TryGetPrice(candidate.CatalogId, out var price))
        {
            state.CandidatePrice = price;
        }
        else if (costs.RefuseUnpriced)
        {
            (call.Unpriced ??= []).Add(candidate.CatalogId);
            call.Skip(candidate, $"skipped: the price catalog has no price for '{candidate.CatalogId}'");
            return false;
        }

        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<AttemptResult> SendAsync(CallContext call, AttemptNext next)
    {
        var state = State(call);
        state.Price = state.CandidatePrice;
        if (state.Budget is { Limited: true } budget && !await (budget.AtCheckpoints() ? ReserveAtCheckpointsAsync(call, state) : ReserveAsync(call, state)).ConfigureAwait(false))
        {
            return AttemptResult.Refused;
        }

        AttemptResult result;
        try
        {
            result = await next.SendAsync(call).ConfigureAwait(false);
        }
        finally
        {
            if (call.Attempt.Sent)
            {
                // A budget refusal before this attempt is no longer why the call ends.
                call.BudgetEndedCall = false;
            }
        }

        switch (result.Status)
        {
            case AttemptStatus.Answered:
                ChargeAnswer(call, state, output: null);
                break;
            case AttemptStatus.Streamed:
                // Charged when it ends: OnCallEnded.
                break;
            default:
                if (call.Deadline.CallerCanceled)
                {
                    ChargeCanceledAttempt(call, state);
                }
                else if (result.Status == AttemptStatus.AnswerFailed && (call.Reading.HasInputTokens || call.Reading.HasOutputTokens))
                {
                    // An error object that reports usage (a generation that failed midway) was billed: it is charged.
                    ChargeAnswer(call, state, output: null);
                }
                else
                {
                    Charge(call, state, 0m, call.CostBasis);
                }

                break;
        }

        return result;
    }

    public void OnCallEnded(CallContext call)
    {
        if (call.CostState is not CallCosting { Active: true } state)
        {
            return;
        }

        if (call.Streamed)
        {
            try
            {
                ChargeAnswer(call, state, call.StreamOutput);
            }
#pragma warning disable CA1031 // Pricing must never lose the call's record or leave its reservation held.
            catch (Exception)
#pragma warning restore CA1031
            {
                Charge(call, state, 0m, call.CostBasis);
            }
        }

        if (state.Held is not null)
        {
            // Only an unexpected exception ends a call with a reservation still held: release it.
            Charge(call, state, 0m, call.CostBasis);
        }
    }

    private CallCosting State(CallContext call)
    {
        if (call.CostState is CallCosting { Active: true } state)
        {
            return state;
        }

        // A reused context still holds the costing of its last call, cleared: it serves this one.
        state = call.CostState as CallCosting ?? new CallCosting();
        var metered = call.Request.Model is not null && CostControl.IsMetered(call.Request.Operation);
        state.Begin(metered, metered ? costs.Guard.ForCall(call.Runs, call.CallMetadata, call.Task) : null);
        call.CostState = state;
        return state;
    }

    /// <summary>
    /// Reserves the attempt's worst case in every budget that applies. When it does not fit, the
    /// candidate is skipped: a cheaper one after it may still fit, and a dearer one is skipped without asking.
    /// </summary>
    /// <returns>Whether the attempt may be sent.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReserveAsync(CallContext call, CallCosting state)
    {
        var candidate = call.Attempt.Candidate;
        var price = state.Price;
        var token = call.Deadline.ForCall();

        // An unpriced model the options allow reserves nothing, but is still refused by a budget already overspent.
        var worst = price is null ? 0m : WorstCase(call, state, price, outputTokens: null);
        var fit = price is not null && CanFitOutput(call, price);
        var least = fit ? WorstCase(call, state, price!, costs.MinFittedOutputTokens) : worst;
        if (call.BudgetRefusal is { } refused && least >= refused.Estimate)
        {
            call.Skip(candidate, string.Create(CultureInfo.InvariantCulture, $"skipped: worst case ${least:0.########} is not below the ${refused.Estimate:0.########} that budget '{refused.Status.Rule}' refused"));
            call.BudgetEndedCall = true;
            return false;
        }

        ReserveOutcome outcome;
        try
        {
            outcome = await ReserveWithinAsync(state, worst, token).ConfigureAwait(false);
            if (outcome.Refusal is not null && price is not null && !state.InputCounted)
            {
                // The bound of the input did not fit: the estimate, counted now, may.
                state.CountInput(call.Request);
                worst = WorstCase(call, state, price, outputTokens: null);
                outcome = await ReserveWithinAsync(state, worst, token).ConfigureAwait(false);
            }

            // A request without an output limit reserves the model's whole output; when that does
            // not fit, the most output that fits what is left may be asked for instead. A few
            // rounds at most: each refusal names the budget that is tightest now.
            for (var round = 0; fit && outcome.Refusal is { } tight && round < 4; round++)
            {
                if (FittingOutputTokens(call, state, price!, tight) is not { } tokens)
                {
                    break;
                }

                var fitted = WorstCase(call, state, price!, tokens);
                var retry = await ReserveWithinAsync(state, fitted, token).ConfigureAwait(false);
                if (retry.Refusal is null)
                {
                    call.Attempt.OutputLimit = tokens;
                }
                else
                {
                    worst = fitted;
                }

                outcome = retry;
            }
        }
        catch (OperationCanceledException) when (call.Deadline.TotalExpired)
        {
            call.Skip(candidate, "skipped: the budget store did not answer within the call's total timeout");
            return false;
        }
        catch (OperationCanceledException) when (call.Deadline.CallerCanceled)
        {
            throw new OperationCanceledException("The call was cancelled by the caller.", null, call.CallerToken);
        }

        if (outcome.Refusal is { } status)
        {
            call.BudgetEndedCall = true;
            if (call.BudgetRefusal is null || worst < call.BudgetRefusal.Value.Estimate)
            {
                call.BudgetRefusal = (status, worst);
            }

            call.Skip(candidate, string.Create(CultureInfo.InvariantCulture, $"skipped: worst case ${worst:0.########} does not fit budget '{status.Rule}' (limit ${status.LimitUsd:0.########}, spent ${status.SpentUsd:0.########}, reserved ${status.ReservedUsd:0.########})"));
            return false;
        }

        state.Held = outcome.Reservation;
        return true;
    }

    /// <summary>
    /// The most an attempt at this price can cost: the input at the full input rate, and the most output the answer can
    /// have (per choice: <paramref name="outputTokens"/> when the harness limits it, else what the request allows).
    /// </summary>
    /// <remarks>
    /// Until the input is counted its bound stands in for it. Where the output's worst case depends on the input (what is
    /// left of the context window), a larger input means less output, so the output is then taken at its largest for
    /// any input up to the bound.
    /// </remarks>
    private decimal WorstCase(CallContext call, CallCosting state, ModelPrice price, int? outputTokens)
    {
        var input = state.Input(call.Request);
        long output = 0;
        if (CostControl.ProducesOutput(call.Request.Operation))
        {
            var body = call.Request.Body;
            var requested = outputTokens ?? body.MaxOutputTokens;
            output = CallCost.WorstCaseOutputTokens(price, requested, body.Choices, input, costs.DefaultMaxOutputTokens);
            if (!state.InputCounted)
            {
                output = Math.Max(output, CallCost.WorstCaseOutputTokens(price, requested, body.Choices, 0, costs.DefaultMaxOutputTokens));
            }
        }

        return CallCost.WorstCase(price, input, output);
    }

    /// <summary>Whether this request may be sent with an output limit the budget stage sets: it has none of its own, and its operation takes one.</summary>
    private bool CanFitOutput(CallContext call, ModelPrice price) =>
        costs.FitOutputToBudget
        && price.OutputPerToken > 0m
        && OutputLimit.Property(call.Request.Operation) is not null
        && !call.Request.Body.NamesOutputLimit;

    /// <summary>
    /// The most output tokens per choice whose worst case fits what the refusing budget has left,
    /// or <see langword="null"/> when fewer than the configured floor fit.
    /// </summary>
    private int? FittingOutputTokens(CallContext call, CallCosting state, ModelPrice price, BudgetStatus refusal)
    {
        var input = state.CountInput(call.Request);
        var left = refusal.LimitUsd - refusal.SpentUsd - refusal.ReservedUsd - CallCost.WorstCase(price, input, 0);
        if (left <= 0m)
        {
            return null;
        }

        var choices = call.Request.Body.Choices;
        var perChoice = price.OutputPerToken * Math.Max(1, choices);
        var tokens = Math.Floor(left / perChoice);
        var whole = CallCost.WorstCaseOutputTokens(price, null, 1, input, costs.DefaultMaxOutputTokens);
        if (tokens >= whole)
        {
            // Another call's settle freed room between the two reservations: one token less than the
            // whole output still makes the retry a strictly smaller reservation.
            tokens = whole - 1;
        }

        return tokens >= costs.MinFittedOutputTokens ? (int)tokens : null;
    }

    /// <summary>
    /// Reserves within the call's total timeout. A store that ignores cancellation may still
    /// reserve after the call gave up on it: that reservation is released as soon as it arrives.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<ReserveOutcome> ReserveWithinAsync(CallCosting state, decimal amountUsd, CancellationToken token)
    {
        var budget = state.Budget!;
        var pending = budget.TryReserveAsync(amountUsd, token);
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
                budget,
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
    private void ChargeAnswer(CallContext call, CallCosting state, OutputText? output)
    {
        if (!state.Metered)
        {
            Charge(call, state, 0m, CostBasis.None);
            return;
        }

        ref var reading = ref call.Reading;
        var reported = reading.ReportedCost is { } cost && cost >= 0m ? cost : (decimal?)null;
        if (state.Price is not { } price)
        {
            // Nothing to check a reported cost against: it is the only figure there is.
            Charge(call, state, reported is { } r ? Math.Min(r, CallCost.Ceiling) : 0m, reported is null ? CostBasis.Unpriced : CostBasis.Reported);
            return;
        }

        // A count the answer did not report (no usage, an empty usage object, a count that is no count) is estimated,
        // side by side: the input from the request, the output from the text that arrived. Never $0 for what was sent.
        var producesOutput = CostControl.ProducesOutput(call.Request.Operation);
        var estimated = false;
        if (!reading.HasInputTokens)
        {
            reading.InputTokens = state.CountInput(call.Request);
            reading.CachedInputTokens = 0;
            reading.CacheWriteInputTokens = 0;
            estimated = true;
        }

        // The bound is read from the body, which a call no budget limits never parses: it then guards no cap, and a
        // reported count is recorded as it came unless there is none and the text's count needs a ceiling.
        var outputBound = producesOutput && (state.Budget is { Limited: true } || !reading.HasOutputTokens) ? OutputBound(call) : null;
        if (producesOutput && !reading.HasOutputTokens)
        {
            // The text is counted with OpenAI's tokenizer; the provider cannot have produced more than it was allowed to.
            var counted = output is null ? AnswerOutputTokens(call) : output.CountTokens(TokenEstimator.CountTokens);
            reading.OutputTokens = (int)Math.Min(Math.Min(counted, outputBound ?? long.MaxValue), int.MaxValue);
            estimated = true;
        }

        var basis = estimated ? CostBasis.Estimated : CostBasis.Catalog;
        if (ImplausibleCounts(call, state, price, ref reading, outputBound))
        {
            basis = CostBasis.ReportedUsageImplausible;
        }

        var catalog = CallCost.Of(price, reading.InputTokens, reading.OutputTokens, reading.CachedInputTokens, reading.CacheWriteInputTokens);
        if (reported is { } claimed)
        {
            if (claimed <= catalog * CallCost.MaxReportedToCatalogRatio)
            {
                Charge(call, state, claimed, CostBasis.Reported);
                return;
            }

            // A number from outside is not charged blindly: one absurd usage.cost would exhaust every budget it touches.
            LogImplausibleCost(logger, call.ModelRequested, call.Current?.Provider.Name, claimed, catalog, CallCost.MaxReportedToCatalogRatio);
            basis = CostBasis.ReportedCostImplausible;
        }

        Charge(call, state, catalog, basis);
    }

    /// <summary>
    /// The most output the attempt could have produced: the output limit it was sent with (the request's, or the one the
    /// budget fitted), times its choices, which the provider enforces. <see langword="null"/> when it was sent none: the
    /// catalog's output limit of a model may be stale, and is not a figure to cut a provider's report with.
    /// </summary>
    private static long? OutputBound(CallContext call)
    {
        var body = call.Request.Body;
        return (call.Attempt.OutputLimit ?? body.MaxOutputTokens) is { } limit and > 0 ? (long)limit * Math.Max(1, body.Choices) : null;
    }

    /// <summary>
    /// Checks reported token counts against what the attempt could have used, as a reported cost is checked against its
    /// tokens: more output than the attempt was allowed (<paramref name="outputBound"/>), or more input than the model's
    /// context window holds, is not charged; the bound, or the input estimate, is, and a warning is logged. One absurd
    /// count would otherwise exhaust every budget it touches, past every cap. Input is bounded by nothing the body
    /// shows: a provider adds to it on its side (search results, files, stored conversations, tool prompts).
    /// </summary>
    /// <returns>Whether a count was replaced.</returns>
    private bool ImplausibleCounts(CallContext call, CallCosting state, ModelPrice price, ref UsageReading reading, long? outputBound)
    {
        int? output = null;
        int? input = null;
        if (reading.HasOutputTokens && outputBound is { } most && reading.OutputTokens > most)
        {
            output = reading.OutputTokens;
            reading.OutputTokens = (int)most;
        }

        if (reading.HasInputTokens && price.ContextWindow is { } window && reading.InputTokens > window)
        {
            input = reading.InputTokens;
            reading.InputTokens = state.CountInput(call.Request);
        }

        if (input is null && output is null)
        {
            return false;
        }

        LogImplausibleUsage(logger, call.ModelRequested, call.Current?.Provider.Name, input ?? reading.InputTokens, output ?? reading.OutputTokens, reading.InputTokens, reading.OutputTokens);
        return true;
    }

    /// <summary>The output tokens of a whole answer that reported no usage, counted from its text.</summary>
    private static long AnswerOutputTokens(CallContext call)
    {
        if (call.Answer is not { } answer)
        {
            return 0;
        }

        using var text = new OutputText();
        var reading = new UsageReading { Deltas = text };
        reading.Read(answer.Span);
        return text.CountTokens(TokenEstimator.CountTokens);
    }

    /// <summary>Charges an attempt the caller cancelled after it was sent: the provider has likely billed the prompt.</summary>
    private static void ChargeCanceledAttempt(CallContext call, CallCosting state)
    {
        if (!state.Metered)
        {
            Charge(call, state, 0m, CostBasis.None);
        }
        else if (!call.Attempt.Sent)
        {
            Charge(call, state, 0m, call.CostBasis);
        }
        else if (state.Price is { } price)
        {
            var input = state.CountInput(call.Request);
            call.Reading.InputTokens = input;
            Charge(call, state, CallCost.Of(price, input, 0, 0), CostBasis.Estimated);
        }
        else
        {
            Charge(call, state, 0m, CostBasis.Unpriced);
        }
    }

    /// <summary>Settles the held reservation (if any) at <paramref name="amountUsd"/>; zero releases it.</summary>
    private static void Charge(CallContext call, CallCosting state, decimal amountUsd, CostBasis basis)
    {
        var held = state.Held;
        state.Held = null;
        call.CostUsd += amountUsd;
        call.CostBasis = basis;
        state.Budget?.Settle(held, amountUsd);
    }

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Call to {Model} via {Provider}: the reported cost ${ReportedUsd} is more than {Ratio} times the ${CatalogUsd} its tokens cost at catalog prices; the catalog cost was charged.")]
    private static partial void LogImplausibleCost(ILogger logger, string model, string? provider, decimal reportedUsd, decimal catalogUsd, decimal ratio);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "Call to {Model} via {Provider}: the reported usage ({ReportedInputTokens} input, {ReportedOutputTokens} output tokens) is more than the attempt could have used; {ChargedInputTokens} input and {ChargedOutputTokens} output tokens were charged.")]
    private static partial void LogImplausibleUsage(ILogger logger, string model, string? provider, int reportedInputTokens, int reportedOutputTokens, int chargedInputTokens, int chargedOutputTokens);

    /// <summary>The budget stage's state for one call.</summary>
    /// <remarks>
    /// A context that serves several calls in turn (see <c>CallContexts</c>) keeps its costing: <see cref="Clear"/> ends
    /// it with the call, <see cref="Begin"/> starts it for the next.
    /// </remarks>
    private sealed class CallCosting : IReusableCallState
    {
        private int? _bound;
        private int? _counted;

        /// <summary>Gets a value indicating whether the costing belongs to the context's current call.</summary>
        public bool Active { get; private set; }

        /// <summary>Gets a value indicating whether the call's operation is billed by the token, and so priced and budgeted.</summary>
        public bool Metered { get; private set; }

        /// <summary>Gets the budgets of the call, or <see langword="null"/> when nothing counts its spend.</summary>
        public CallBudget? Budget { get; private set; }

        public void Begin(bool metered, CallBudget? budget)
        {
            Active = true;
            Metered = metered;
            Budget = budget;
        }

        public void Clear()
        {
            Active = false;
            Metered = false;
            Budget = null;
            CandidatePrice = null;
            Price = null;
            Held = null;
            _bound = null;
            _counted = null;
        }

        /// <summary>Gets or sets the price of the candidate last admitted.</summary>
        public ModelPrice? CandidatePrice { get; set; }

        /// <summary>Gets or sets the price of the candidate being tried.</summary>
        public ModelPrice? Price { get; set; }

        /// <summary>Gets or sets the reservation the attempt holds.</summary>
        public Reservation? Held { get; set; }

        /// <summary>Gets a value indicating whether the input was counted by the tokenizer.</summary>
        public bool InputCounted => _counted is not null;

        /// <summary>The input tokens a worst case uses: the count once made, else the bound.</summary>
        public int Input(CallRequest request) => _counted ?? (_bound ??= TokenEstimator.UpperBound(request.Bytes));

        /// <summary>The input tokens of the request as estimated before sending, counted once when first needed.</summary>
        public int CountInput(CallRequest request) => _counted ??= TokenEstimator.EstimateInputTokens(request.Bytes);
    }
}
