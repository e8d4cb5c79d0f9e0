using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using System.Runtime.CompilerServices;

namespace AgentHarness.Budget.Internal;

/// <summary>A configured budget rule, ready to match calls.</summary>
/// <param name="Name">The rule's name.</param>
/// <param name="MetadataKey">The run metadata key the rule is per (<c>customer</c>, an extra key, ...), or <see langword="null"/> for a global rule.</param>
/// <param name="Value">The one value the rule limits, or <see langword="null"/> for every value.</param>
/// <param name="Window">The rule's window.</param>
/// <param name="LimitUsd">The limit per window and value.</param>
internal sealed record BudgetRule(string Name, string? MetadataKey, string? Value, BudgetWindow Window, decimal LimitUsd)
{
    public static BudgetRule From(string name, BudgetRuleOptions options)
    {
        var dimension = options.Dimension.Trim();
        string? key = dimension.Equals("global", StringComparison.OrdinalIgnoreCase)
            ? null
            : dimension.StartsWith("extra.", StringComparison.OrdinalIgnoreCase) ? dimension["extra.".Length..] : dimension.ToLowerInvariant();
        return new BudgetRule(name, key, key is null ? null : options.Value, options.Window, options.LimitUsd);
    }

    /// <summary>Whether the rule limits a call with this metadata, and the value it is counted under.</summary>
    public bool Matches(IReadOnlyDictionary<string, string> metadata, out string? value)
    {
        if (MetadataKey is null)
        {
            value = null;
            return true;
        }

        if (metadata.TryGetValue(MetadataKey, out var actual) && (Value is null || string.Equals(actual, Value, StringComparison.Ordinal)))
        {
            value = actual;
            return true;
        }

        value = null;
        return false;
    }

    /// <summary>The counter of a value in the window that contains <paramref name="now"/>.</summary>
    public BudgetCounter Counter(string? value, DateTimeOffset now, out DateTimeOffset windowStart)
    {
        var utc = now.UtcDateTime;
        DateTime start, end;
        string stamp;
        switch (Window)
        {
            case BudgetWindow.Hour:
                start = new DateTime(utc.Year, utc.Month, utc.Day, utc.Hour, 0, 0, DateTimeKind.Utc);
                end = start.AddHours(1);
                stamp = start.ToString("yyyy-MM-dd'T'HH", CultureInfo.InvariantCulture);
                break;
            case BudgetWindow.Month:
                start = new DateTime(utc.Year, utc.Month, 1, 0, 0, 0, DateTimeKind.Utc);
                end = start.AddMonths(1);
                stamp = start.ToString("yyyy-MM", CultureInfo.InvariantCulture);
                break;
            default:
                start = utc.Date;
                end = start.AddDays(1);
                stamp = start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
                break;
        }

        windowStart = new DateTimeOffset(start, TimeSpan.Zero);

        // A day past the window's end leaves time for calls still in flight to settle.
        return new BudgetCounter($"{Name}|{value ?? "*"}|{stamp}", LimitUsd, new DateTimeOffset(end, TimeSpan.Zero).AddDays(1));
    }
}

/// <summary>What an attempt holds in the budgets until it is settled.</summary>
/// <param name="AmountUsd">The amount reserved on every counter.</param>
/// <param name="Hold">The reservation as the store knows it (its id, amount and lease); default when nothing was reserved in the store.</param>
/// <param name="Counters">The store's counters it was reserved on.</param>
/// <param name="WindowStarts">When each counter's window began, for threshold events.</param>
/// <param name="Runs">The runs it was also reserved on (every open run of the call that has a limit).</param>
internal sealed record Reservation(decimal AmountUsd, BudgetReservation Hold, BudgetCounter[] Counters, DateTimeOffset[] WindowStarts, AgentRun[] Runs);

/// <summary>The answer of a reservation: the reservation, or the figures of the budget that refused it.</summary>
internal readonly record struct ReserveOutcome(Reservation? Reservation, BudgetStatus? Refusal);

/// <summary>
/// The budget stage. For each call it finds the limits that apply (the run's cap, rules per run,
/// rules per dimension value and window), reserves each attempt's worst case against all of them
/// before it is sent, and settles the reservation to what the attempt really cost.
/// </summary>
internal sealed partial class BudgetGuard : IBudgetGuard
{
    public const string RunCapRule = nameof(AgentRun.MaxCostUsd);

    private static readonly double[] DefaultThresholds = [0.5, 0.8, 1.0];

    private readonly BudgetRule[] _rules;
    private readonly BudgetRule[] _runRules;
    private readonly double[] _thresholds;
    private readonly IBudgetStore _store;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;

    // Reservation ids: unique across processes by the random part, within one by the sequence.
    private readonly string _idPrefix = Guid.NewGuid().ToString("N")[..16] + "-";
    private long _idSequence;

    public BudgetGuard(IOptions<AgentHarnessOptions> options, IBudgetStore store, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        var value = options.Value;
        var rules = value.Budgets.Select(static r => BudgetRule.From(r.Key, r.Value)).ToArray();
        _rules = [.. rules.Where(static r => r.Window != BudgetWindow.Run)];
        _runRules = [.. rules.Where(static r => r.Window == BudgetWindow.Run)];
        _thresholds = [.. (value.BudgetThresholds ?? DefaultThresholds).Distinct().Order()];
        _store = store;
        _timeProvider = timeProvider;
        _logger = loggerFactory.CreateLogger(AgentHarnessLogCategories.Budget);
        Lease = BudgetLease.From(value);
    }

    public event EventHandler<BudgetThresholdEventArgs>? ThresholdReached;

    internal TimeProvider TimeProvider => _timeProvider;

    /// <summary>Gets a value indicating whether anyone listens for thresholds: without a listener, settles build no events.</summary>
    internal bool HasThresholdHandlers => ThresholdReached is not null;

    internal IBudgetStore Store => _store;

    /// <summary>Gets the lease of every reservation in the store, from the call timeouts (see <see cref="BudgetLease"/>).</summary>
    internal TimeSpan Lease { get; }

    /// <summary>A new reservation id, unique across processes.</summary>
    internal string NewReservationId() =>
        string.Concat(_idPrefix, Interlocked.Increment(ref _idSequence).ToString(CultureInfo.InvariantCulture));

    /// <summary>The budgets of one call, or <see langword="null"/> when nothing counts its spend: no run and no rule applies.</summary>
    /// <param name="runs">The call's open runs, innermost first: each one's cap and per-run rules apply.</param>
    /// <param name="metadata">The call's metadata: the innermost run's, with the task.</param>
    /// <param name="task">The call's task, for matching an enclosing run's per-run rules on its own metadata.</param>
    public CallBudget? ForCall(AgentRun[] runs, IReadOnlyDictionary<string, string> metadata, string? task)
    {
        if (runs.Length == 0 && _rules.Length == 0)
        {
            return null;
        }

        var store = Match(_rules, metadata);
        if (runs.Length == 0)
        {
            return store.Length == 0 ? null : new CallBudget(this, [], perRun: null, store);
        }

        if (_runRules.Length == 0)
        {
            // No per-run rules: the call's own runs are its limits, with nothing to build for them.
            return new CallBudget(this, runs, perRun: null, store);
        }

        var perRun = new (BudgetRule Rule, string? Value)[runs.Length][];
        for (var i = 0; i < runs.Length; i++)
        {
            // An enclosing run's per-run rules match its own metadata, not the inner run's.
            perRun[i] = Match(_runRules, i == 0 ? metadata : runs[i].MetadataSnapshot.ForCall(task));
        }

        return new CallBudget(this, runs, perRun, store);
    }

    public async ValueTask<BudgetStatus> GetStatusAsync(string rule, string? value = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(rule);
        var found = _rules.FirstOrDefault(r => r.Name.Equals(rule, StringComparison.OrdinalIgnoreCase));
        if (found is null)
        {
            throw _runRules.Any(r => r.Name.Equals(rule, StringComparison.OrdinalIgnoreCase))
                ? new ArgumentException($"Budget rule '{rule}' is per run; read AgentRun.SpentUsd of the run instead.", nameof(rule))
                : new ArgumentException($"No budget rule is named '{rule}' ({(_rules.Length + _runRules.Length == 0 ? "none is configured" : "configured: " + string.Join(", ", _rules.Concat(_runRules).Select(static r => r.Name)))}).", nameof(rule));
        }

        var counted = found.MetadataKey is null ? null : found.Value ?? value;
        if (found.MetadataKey is not null && counted is null)
        {
            throw new ArgumentException($"Budget rule '{rule}' has a limit per {found.MetadataKey}; pass the value to read.", nameof(value));
        }

        var counter = found.Counter(counted, _timeProvider.GetUtcNow(), out var start);
        var state = await _store.GetAsync(counter.Key, cancellationToken).ConfigureAwait(false);
        return new BudgetStatus(found.Name, counted, start, found.LimitUsd, state.SpentUsd, state.ReservedUsd);
    }

    /// <summary>Raises the event for every threshold the spend crossed going from <paramref name="before"/> to the status's spend.</summary>
    internal void OnSpent(BudgetStatus status, decimal before, string? runId, Func<int, bool>? firstTime = null)
    {
        if (status.LimitUsd <= 0m || ThresholdReached is null)
        {
            return;
        }

        for (var i = 0; i < _thresholds.Length; i++)
        {
            var mark = status.LimitUsd * (decimal)_thresholds[i];
            if (before < mark && status.SpentUsd >= mark && (firstTime?.Invoke(i) ?? true))
            {
                try
                {
                    ThresholdReached?.Invoke(this, new BudgetThresholdEventArgs(status, _thresholds[i], runId));
                }
#pragma warning disable CA1031 // An application's handler must never fail the call that crossed the threshold.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    LogHandlerFailed(_logger, ex, status.Rule, _thresholds[i]);
                }
            }
        }
    }

    internal void OnSettleFailed(Exception exception, string rule) => LogSettleFailed(_logger, exception, rule);

    private static (BudgetRule Rule, string? Value)[] Match(BudgetRule[] rules, IReadOnlyDictionary<string, string> metadata)
    {
        if (rules.Length == 0)
        {
            return [];
        }

        List<(BudgetRule, string?)>? matched = null;
        foreach (var rule in rules)
        {
            if (rule.Matches(metadata, out var value))
            {
                (matched ??= []).Add((rule, value));
            }
        }

        return matched is null ? [] : [.. matched];
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Error, Message = "A handler of BudgetGuard.ThresholdReached failed for budget {Rule} at {Threshold}.")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception, string rule, double threshold);

    [LoggerMessage(EventId = 21, Level = LogLevel.Error, Message = "Settling a reservation of budget {Rule} failed; its counters may hold the reservation until they expire.")]
    private static partial void LogSettleFailed(ILogger logger, Exception exception, string rule);
}

/// <summary>One open run of a call and the per-run rules that match it.</summary>
internal readonly record struct RunLimits(AgentRun Run, (BudgetRule Rule, string? Value)[] PerRun)
{
    /// <summary>The tightest limit on the run: its own cap or a per-run rule; <see langword="null"/> when nothing limits it.</summary>
    public (string Rule, string? Value, decimal LimitUsd)? Tightest()
    {
        (string Rule, string? Value, decimal LimitUsd)? tightest = Run.MaxCostUsd is { } cap ? (BudgetGuard.RunCapRule, null, cap) : null;
        foreach (var (rule, value) in PerRun)
        {
            if (tightest is null || rule.LimitUsd < tightest.Value.LimitUsd)
            {
                tightest = (rule.Name, value, rule.LimitUsd);
            }
        }

        return tightest;
    }
}

/// <summary>
/// The budgets of one logical call: the cap of every open run (the innermost and each enclosing
/// one), their per-run rules, and the rules that match the call's metadata.
/// </summary>
internal sealed class CallBudget
{
    private readonly BudgetGuard _guard;
    private readonly AgentRun[] _runs;
    private readonly (BudgetRule Rule, string? Value)[][]? _perRun;
    private readonly (BudgetRule Rule, string? Value)[] _store;
    private bool _atCheckpoints;

    /// <param name="guard">The guard whose rules and store these are.</param>
    /// <param name="runs">The call's open runs, innermost first (the call's own array, never written to).</param>
    /// <param name="perRun">The per-run rules matching each run, by index; <see langword="null"/> when there are no per-run rules.</param>
    /// <param name="store">The rules matching the call's metadata, counted in the store.</param>
    public CallBudget(BudgetGuard guard, AgentRun[] runs, (BudgetRule Rule, string? Value)[][]? perRun, (BudgetRule Rule, string? Value)[] store)
    {
        _guard = guard;
        _runs = runs;
        _perRun = perRun;
        _store = store;
    }

    private RunLimits Limits(int index) => new(_runs[index], _perRun?[index] ?? []);

    /// <summary>Whether any limit applies, so that attempts need a worst case and a reservation.</summary>
    public bool Limited
    {
        get
        {
            if (_store.Length > 0)
            {
                return true;
            }

            for (var i = 0; i < _runs.Length; i++)
            {
                var run = _runs[i];
                if (_perRun?[i].Length > 0 || run.MaxCostUsd is not null || run.HasOpenCheckpoints)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// Whether an open run of the call holds a spend checkpoint it has not passed. From then on the call's reservations
    /// are also held by such a run without a cap, and refused past such a checkpoint (<see cref="CheckpointAheadException"/>):
    /// a call never reserves across a checkpoint that has not decided.
    /// </summary>
    public bool AtCheckpoints()
    {
        foreach (var run in _runs)
        {
            if (run.HasOpenCheckpoints)
            {
                return _atCheckpoints = true;
            }
        }

        return _atCheckpoints = false;
    }

    /// <summary>Reserves an attempt's worst case on every limited run and on every matching rule, or on none of them.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ReserveOutcome> TryReserveAsync(decimal amountUsd, CancellationToken cancellationToken)
    {
        var onRuns = ReserveOnRuns(amountUsd, out var refusal);
        if (refusal is not null)
        {
            return new ReserveOutcome(null, refusal);
        }

        if (_store.Length == 0)
        {
            return new ReserveOutcome(new Reservation(amountUsd, default, [], [], onRuns), null);
        }

        var counters = Counters(out var starts);
        var hold = new BudgetReservation(_guard.NewReservationId(), amountUsd, _guard.Lease);
        BudgetReserveResult result;
        try
        {
            result = await _guard.Store.TryReserveAsync(counters, hold, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            ReleaseOnRuns(onRuns, amountUsd);
            throw;
        }

        if (!result.Succeeded)
        {
            ReleaseOnRuns(onRuns, amountUsd);
            var (rule, value) = _store[result.RefusedIndex];
            return new ReserveOutcome(null, new BudgetStatus(rule.Name, value, starts[result.RefusedIndex], rule.LimitUsd, result.Refused.SpentUsd, result.Refused.ReservedUsd));
        }

        return new ReserveOutcome(new Reservation(amountUsd, hold, counters, starts, onRuns), null);
    }

    /// <summary>
    /// Ends a reservation at what the attempt really cost (zero releases it), or charges an attempt
    /// that reserved nothing. Never throws and never waits for a shared store: a reservation must
    /// always end, and a model call must not fail for its bookkeeping.
    /// </summary>
    public void Settle(Reservation? reservation, decimal actualUsd)
    {
        for (var i = 0; i < _runs.Length; i++)
        {
            var limits = Limits(i);
            var reserved = reservation is not null && Array.IndexOf(reservation.Runs, limits.Run) >= 0 ? reservation.AmountUsd : 0m;
            var (before, after) = limits.Run.Settle(reserved, actualUsd);
            if (actualUsd > 0m && _guard.HasThresholdHandlers)
            {
                RunThresholds(limits, before, after);
            }
        }

        DateTimeOffset[] starts = [];
        var counters = reservation?.Counters ?? (actualUsd > 0m && _store.Length > 0 ? Counters(out starts) : []);
        starts = reservation?.WindowStarts ?? starts;
        if (counters.Length == 0)
        {
            return;
        }

        // A charge that reserved nothing still gets an id of its own: the store applies each id once.
        var hold = reservation?.Hold ?? new BudgetReservation(_guard.NewReservationId(), 0m, _guard.Lease);
        try
        {
            var pending = _guard.Store.SettleAsync(counters, hold, actualUsd, CancellationToken.None);
            if (pending.IsCompletedSuccessfully)
            {
                StoreThresholds(pending.Result, starts);
            }
            else
            {
                _ = CompleteAsync(pending, starts);
            }
        }
#pragma warning disable CA1031 // See the summary: bookkeeping never fails the call.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _guard.OnSettleFailed(ex, _store[0].Rule.Name);
        }
    }

    /// <summary>
    /// Reserves the amount on every run that has a limit, innermost first, or on none: a refusal
    /// gives back what was reserved on the runs before it.
    /// </summary>
    private AgentRun[] ReserveOnRuns(decimal amountUsd, out BudgetStatus? refusal)
    {
        refusal = null;
        if (_runs.Length == 0)
        {
            return [];
        }

        List<AgentRun>? reserved = null;
        for (var i = 0; i < _runs.Length; i++)
        {
            var limits = Limits(i);
            if (limits.Tightest() is not { } limit)
            {
                if (!_atCheckpoints || !limits.Run.HasOpenCheckpoints)
                {
                    continue;
                }

                // Without a cap the run still holds the reservation: its checkpoints count what calls in flight hold.
                limit = (BudgetGuard.RunCapRule, null, decimal.MaxValue);
            }

            if (!limits.Run.TryReserve(amountUsd, limit.LimitUsd, _atCheckpoints, out var state, out var checkpoint))
            {
                ReleaseOnRuns(reserved, amountUsd);
                if (checkpoint is not null)
                {
                    throw new CheckpointAheadException();
                }

                refusal = new BudgetStatus(limit.Rule, limit.Value, limits.Run.StartedAt, limit.LimitUsd, state.SpentUsd, state.ReservedUsd);
                return [];
            }

            (reserved ??= new List<AgentRun>(_runs.Length)).Add(limits.Run);
        }

        return reserved is null ? [] : [.. reserved];
    }

    private static void ReleaseOnRuns(IEnumerable<AgentRun>? runs, decimal amountUsd)
    {
        if (runs is null)
        {
            return;
        }

        foreach (var run in runs)
        {
            run.Settle(amountUsd, 0m);
        }
    }

    private async Task CompleteAsync(ValueTask<BudgetSettleResult> pending, DateTimeOffset[] starts)
    {
        try
        {
            StoreThresholds(await pending.ConfigureAwait(false), starts);
        }
#pragma warning disable CA1031 // See Settle.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _guard.OnSettleFailed(ex, _store[0].Rule.Name);
        }
    }

    /// <param name="settled">Each counter's figures after the settle, and what it added to each counter's spend.</param>
    /// <param name="starts">The window each counter was reserved in: the one it was charged to, even if the clock has moved on.</param>
    private void StoreThresholds(BudgetSettleResult settled, DateTimeOffset[] starts)
    {
        var actualUsd = settled.ChargedUsd;
        var states = settled.Counters;

        // A settle applied before (a retry) crossed its thresholds then; one without figures cannot tell.
        if (actualUsd <= 0m || settled.AlreadySettled || states is null || !_guard.HasThresholdHandlers)
        {
            return;
        }

        var runId = _runs.Length > 0 ? _runs[0].RunId : null;
        for (var i = 0; i < states.Count && i < _store.Length && i < starts.Length; i++)
        {
            var (rule, value) = _store[i];
            var state = states[i];

            // The store settled atomically, so exactly one settle moves a counter across each threshold,
            // in every process that shares the store.
            _guard.OnSpent(new BudgetStatus(rule.Name, value, starts[i], rule.LimitUsd, state.SpentUsd, state.ReservedUsd), state.SpentUsd - actualUsd, runId);
        }
    }

    private void RunThresholds(RunLimits limits, decimal before, decimal after)
    {
        var run = limits.Run;
        var reserved = run.ReservedUsd;
        if (run.MaxCostUsd is { } cap)
        {
            _guard.OnSpent(new BudgetStatus(BudgetGuard.RunCapRule, null, run.StartedAt, cap, after, reserved), before, run.RunId, i => run.MarkThresholdReached(BudgetGuard.RunCapRule, i));
        }

        foreach (var (rule, value) in limits.PerRun)
        {
            _guard.OnSpent(new BudgetStatus(rule.Name, value, run.StartedAt, rule.LimitUsd, after, reserved), before, run.RunId, i => run.MarkThresholdReached(rule.Name, i));
        }
    }

    private BudgetCounter[] Counters(out DateTimeOffset[] starts)
    {
        var now = _guard.TimeProvider.GetUtcNow();
        var counters = new BudgetCounter[_store.Length];
        starts = new DateTimeOffset[_store.Length];
        for (var i = 0; i < _store.Length; i++)
        {
            counters[i] = _store[i].Rule.Counter(_store[i].Value, now, out starts[i]);
        }

        return counters;
    }
}
