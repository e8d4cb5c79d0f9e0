using AgentHarness.Internal;
using AgentHarness.Telemetry;

namespace AgentHarness;

/// <summary>
/// One run of an agent: an ambient scope whose metadata (agent, task, branch, customer and the
/// rest) tags every call made inside it, and which collects the usage records of those calls.
/// </summary>
/// <remarks>
/// <para>
/// A run is opened with <see cref="IAgentHarness.BeginRun(string, Action{AgentRun}?)"/> and becomes
/// <see cref="Current"/> for the code that opened it and everything that code awaits or starts
/// afterwards. It flows like <see cref="AsyncLocal{T}"/>: runs opened in parallel flows never see
/// each other. Open it in the method that makes the calls (<c>using var run = ...</c>), not in a
/// helper that returns it, since an ambient value set inside an awaited method does not flow back out.
/// </para>
/// <para>
/// Runs nest: a run begun while another is open tags its calls with its own metadata and id, and
/// each of its calls also counts against every enclosing open run's cap and appears in that run's
/// figures (<see cref="SpentUsd"/>, <see cref="ReservedUsd"/>, <see cref="Calls"/>,
/// <see cref="CallCount"/>, <see cref="TaskTotals"/>), so an inner run can never spend past an outer cap.
/// </para>
/// <para>
/// Every metadata value is checked when it is set: it must be printable ASCII of at most 1,024
/// characters, because it is sent as an HTTP header. Members are safe to use from several threads.
/// </para>
/// </remarks>
public sealed partial class AgentRun : IDisposable
{
    /// <summary>How many of its most recent calls a run keeps in <see cref="Calls"/>.</summary>
    public const int MaxCallsKept = 1000;

    private static readonly AsyncLocal<AgentRun?> Ambient = new();

    private readonly AsyncLocal<string?> _task = new();
    private readonly Lock _gate = new();
    private readonly RecordRing _calls = new(MaxCallsKept);
    private readonly Dictionary<string, TaskTally> _taskTotals = new(StringComparer.Ordinal);
    private HashSet<(string Rule, int Threshold)>? _thresholdsReached;
    private long _callCount;
    private decimal? _maxCostUsd;
    private decimal _spentUsd;
    private decimal _reservedUsd;
    private readonly AgentRun? _previous;
    private RunMetadata _metadata;
    private int _disposed;
    private RunSpan? _span;

    // The open runs of a call made in this run when it is the only one open: built once, not for every call.
    private AgentRun[]? _alone;

    internal AgentRun(string agent, string runId, DateTimeOffset startedAt)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(agent);
        MetadataRules.ValidateValue(agent, nameof(Agent));
        RunId = runId;
        StartedAt = startedAt;
        _metadata = RunMetadata.Create(agent);
        _previous = Current;
        Ambient.Value = this;
    }

    /// <summary>Gets the run open in the current asynchronous flow, or <see langword="null"/> when there is none.</summary>
    /// <remarks>Runs disposed out of order are skipped: the innermost run that is still open is current.</remarks>
    public static AgentRun? Current
    {
        get
        {
            var run = Ambient.Value;
            while (run is not null && Volatile.Read(ref run._disposed) != 0)
            {
                run = run._previous;
            }

            return run;
        }
    }

    /// <summary>
    /// The open runs of the current flow, innermost first: a call made inside a nested run counts
    /// against every enclosing run's cap and appears in every one's figures. Empty when none is open.
    /// </summary>
    internal static AgentRun[] OpenRuns()
    {
        var innermost = Current;
        if (innermost is null)
        {
            return [];
        }

        var count = 0;
        for (var run = innermost; run is not null; run = run.OpenParent)
        {
            count++;
        }

        if (count == 1)
        {
            // Shared by every call of the run: nothing writes to a call's runs.
            return innermost._alone ??= [innermost];
        }

        var runs = new AgentRun[count];
        var i = 0;
        for (var run = innermost; run is not null; run = run.OpenParent)
        {
            runs[i++] = run;
        }

        return runs;
    }

    /// <summary>The nearest enclosing run that is still open, skipping runs disposed out of order.</summary>
    private AgentRun? OpenParent
    {
        get
        {
            var run = _previous;
            while (run is not null && Volatile.Read(ref run._disposed) != 0)
            {
                run = run._previous;
            }

            return run;
        }
    }

    /// <summary>Gets the run's unique id, recorded with every call.</summary>
    public string RunId { get; }

    /// <summary>Gets when the run began.</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>Gets the agent's name, sent as the <c>Agent</c> metadata header.</summary>
    public string Agent => _metadata.Get(RunMetadata.AgentIndex)!;

    /// <summary>Gets the task set by the innermost <see cref="BeginTask(string)"/> scope in the current flow, or <see langword="null"/>.</summary>
    public string? CurrentTask => _task.Value;

    /// <summary>Gets or sets the source-control branch the run works on, for example <c>feat/auth-refactor</c>.</summary>
    /// <exception cref="ArgumentException">The value is not printable ASCII or is longer than 1,024 characters.</exception>
    public string? Branch { get => Get(RunMetadata.BranchIndex); set => Set(RunMetadata.BranchIndex, value, nameof(Branch)); }

    /// <summary>Gets or sets the deployment environment, for example <c>prod</c>, <c>staging</c> or <c>dev</c>.</summary>
    /// <exception cref="ArgumentException">The value is not printable ASCII or is longer than 1,024 characters.</exception>
    public string? Environment { get => Get(RunMetadata.EnvironmentIndex); set => Set(RunMetadata.EnvironmentIndex, value, nameof(Environment)); }

    /// <summary>Gets or sets the end customer the run works for.</summary>
    /// <exception cref="ArgumentException">The value is not printable ASCII or is longer than 1,024 characters.</exception>
    public string? Customer { get => Get(RunMetadata.CustomerIndex); set => Set(RunMetadata.CustomerIndex, value, nameof(Customer)); }

    /// <summary>Gets or sets the team or department that owns the run.</summary>
    /// <exception cref="ArgumentException">The value is not printable ASCII or is longer than 1,024 characters.</exception>
    public string? Team { get => Get(RunMetadata.TeamIndex); set => Set(RunMetadata.TeamIndex, value, nameof(Team)); }

    /// <summary>Gets or sets the repository the run works on.</summary>
    /// <exception cref="ArgumentException">The value is not printable ASCII or is longer than 1,024 characters.</exception>
    public string? Repo { get => Get(RunMetadata.RepoIndex); set => Set(RunMetadata.RepoIndex, value, nameof(Repo)); }

    /// <summary>Gets or sets the developer or operator on whose behalf the run works.</summary>
    /// <exception cref="ArgumentException">The value is not printable ASCII or is longer than 1,024 characters.</exception>
    public string? User { get => Get(RunMetadata.UserIndex); set => Set(RunMetadata.UserIndex, value, nameof(User)); }

    /// <summary>
    /// Gets all the run's metadata as it stands: <c>agent</c>, <c>branch</c>, <c>environment</c>,
    /// <c>customer</c>, <c>team</c>, <c>repo</c>, <c>user</c> (those that are set) and every extra
    /// key, keyed without regard to case. The task is not included; see <see cref="CurrentTask"/>.
    /// </summary>
    public IReadOnlyDictionary<string, string> Metadata => _metadata.AsDictionary();

    /// <summary>
    /// Gets a snapshot of the usage records of the calls this run has completed, oldest first: the
    /// most recent <see cref="MaxCallsKept"/> of them, so a long-lived run does not grow without bound.
    /// Every record also goes to the <see cref="IUsageLedger"/>. The newest 64 are the instances the calls
    /// produced; older ones are copies with the same values (the run keeps them by value), which
    /// <see cref="object.Equals(object)"/> does not find equal to the originals: their attempts are a new list.
    /// </summary>
    public IReadOnlyList<UsageRecord> Calls
    {
        get
        {
            // The ring has its own lock, and builds the older records outside it: a caller reading them holds up no call.
            return _calls.ToArray();
        }
    }

    /// <summary>Gets how many calls this run has completed, including those no longer kept in <see cref="Calls"/>.</summary>
    public long CallCount
    {
        get
        {
            lock (_gate)
            {
                return _callCount;
            }
        }
    }

    /// <summary>
    /// Gets or sets what the response cache does for the calls made from now on in this run (and in runs nested in it
    /// that set none), or <see langword="null"/> to follow <see cref="AgentHarnessOptions.ResponseCache"/>. Setting it
    /// turns the cache on for the run's calls to any model; set it around one call to change that call only.
    /// </summary>
    public ResponseCacheMode? CacheMode { get; set; }

    /// <summary>
    /// Gets or sets the most this run may spend, in US dollars, or <see langword="null"/> for no cap.
    /// Before each attempt of each call the attempt's worst-case cost is reserved against it, and a
    /// call whose worst case does not fit is refused with a <see cref="BudgetExceededException"/>
    /// before anything is sent. Lowering it below <see cref="SpentUsd"/> refuses every further call.
    /// A call made inside a nested run counts against this cap too, as against every enclosing run's.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public decimal? MaxCostUsd
    {
        get
        {
            lock (_gate)
            {
                return _maxCostUsd;
            }
        }

        set
        {
            if (value is < 0m)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, $"{nameof(MaxCostUsd)} must not be negative; got {value}.");
            }

            lock (_gate)
            {
                _maxCostUsd = value;
            }
        }
    }

    /// <summary>
    /// Gets what the run's calls have cost so far, in US dollars: the sum of their records'
    /// <see cref="UsageRecord.CostUsd"/>, including the calls made inside runs nested in this one.
    /// </summary>
    public decimal SpentUsd
    {
        get
        {
            lock (_gate)
            {
                return _spentUsd;
            }
        }
    }

    /// <summary>Gets the worst-case cost held by the run's calls in flight, in US dollars.</summary>
    public decimal ReservedUsd
    {
        get
        {
            lock (_gate)
            {
                return _reservedUsd;
            }
        }
    }

    /// <summary>
    /// Gets what is left of <see cref="MaxCostUsd"/> for new calls (the cap less spend and
    /// reservations, never below zero), or <see langword="null"/> when the run has no cap.
    /// </summary>
    public decimal? RemainingUsd
    {
        get
        {
            lock (_gate)
            {
                return _maxCostUsd is { } cap ? Math.Max(0m, cap - _spentUsd - _reservedUsd) : null;
            }
        }
    }

    /// <summary>
    /// Gets the run's totals per task: calls, tokens and cost of the completed calls made in each
    /// <see cref="BeginTask(string)"/> scope. Calls made outside any task are under the empty string.
    /// </summary>
    public IReadOnlyDictionary<string, RunTaskTotals> TaskTotals
    {
        get
        {
            lock (_gate)
            {
                var totals = new Dictionary<string, RunTaskTotals>(_taskTotals.Count, StringComparer.Ordinal);
                foreach (var (task, tally) in _taskTotals)
                {
                    totals[task] = new RunTaskTotals(tally.Calls, tally.InputTokens, tally.OutputTokens, tally.CostUsd);
                }

                return totals;
            }
        }
    }

    /// <summary>
    /// Sets an extra metadata key, sent to gateways as <c>&lt;prefix&gt;&lt;name&gt;</c> (for example
    /// <c>X-Requesty-Ticket</c>) and recorded as <c>extra.&lt;name&gt;</c>. A <see langword="null"/>
    /// value removes the key.
    /// </summary>
    /// <param name="name">The key: an HTTP header token such as <c>Ticket</c> or <c>Pr-Number</c>; not one of the built-in names.</param>
    /// <param name="value">The value: printable ASCII of at most 1,024 characters.</param>
    /// <returns>This run, to chain calls.</returns>
    /// <exception cref="ArgumentException">The name or the value is not allowed.</exception>
    public AgentRun SetExtra(string name, string? value)
    {
        ArgumentNullException.ThrowIfNull(name);
        MetadataRules.ValidateName(name, nameof(name));
        if (RunMetadata.IsBuiltInName(name))
        {
            throw new ArgumentException($"'{name}' is a built-in run metadata name; set it through its property (or BeginTask(...) for the task).", nameof(name));
        }

        if (value is not null)
        {
            MetadataRules.ValidateValue(value, name);
        }

        lock (_gate)
        {
            _metadata = _metadata.WithExtra(name, value);
        }

        return this;
    }

    /// <summary>
    /// Sets the task for the calls made inside the returned scope in the current flow, for example
    /// <c>using (run.BeginTask("classify")) { ... }</c>. Scopes nest; disposing one restores the task
    /// that was set before it.
    /// </summary>
    /// <param name="name">The task: printable ASCII of at most 1,024 characters.</param>
    /// <returns>A scope that restores the previous task when disposed.</returns>
    /// <exception cref="ArgumentException">The name is empty or not allowed.</exception>
    public IDisposable BeginTask(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        MetadataRules.ValidateValue(name, "Task");
        var scope = new TaskScope(_task, _task.Value);
        _task.Value = name;
        return scope;
    }

    /// <summary>Ends the run: it stops being <see cref="Current"/> and the run that was current before it is restored.</summary>
    public void Dispose()
    {
        Interlocked.Exchange(ref _span, null)?.End(this);
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && ReferenceEquals(Ambient.Value, this))
        {
            Ambient.Value = Current;
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"AgentRun {RunId} ({Agent})";

    internal RunMetadata MetadataSnapshot => Volatile.Read(ref _metadata);

    /// <summary>Sets the run's span, when a listener records one; <see cref="Dispose"/> ends it.</summary>
    internal RunSpan? Span
    {
        set => Volatile.Write(ref _span, value);
    }

    /// <summary>
    /// Reserves an amount if spend, reservations and the amount fit the limit; the check and the reservation are one step.
    /// With <paramref name="atCheckpoints"/>, an amount that would go past a checkpoint not passed is not reserved either:
    /// <paramref name="checkpoint"/> is that checkpoint.
    /// </summary>
    internal bool TryReserve(decimal amount, decimal limit, bool atCheckpoints, out BudgetCounterState state, out SpendCheckpoint? checkpoint)
    {
        lock (_gate)
        {
            state = new BudgetCounterState(_spentUsd, _reservedUsd);
            checkpoint = atCheckpoints ? CheckpointAheadLocked(amount) : null;
            if (checkpoint is not null || _spentUsd + _reservedUsd + amount > limit)
            {
                return false;
            }

            _reservedUsd += amount;
            return true;
        }
    }

    /// <summary>Ends a reservation (zero for a call that reserved nothing) and adds what was actually spent.</summary>
    /// <returns>The spend before and after.</returns>
    internal (decimal Before, decimal After) Settle(decimal reserved, decimal actual)
    {
        lock (_gate)
        {
            var before = _spentUsd;
            _reservedUsd = Math.Max(0m, _reservedUsd - reserved);
            _spentUsd += actual;
            return (before, _spentUsd);
        }
    }

    /// <summary>Marks a threshold of a limit as reached; <see langword="true"/> only the first time.</summary>
    internal bool MarkThresholdReached(string rule, int threshold)
    {
        lock (_gate)
        {
            return (_thresholdsReached ??= []).Add((rule, threshold));
        }
    }

    internal void AddCall(UsageRecord record)
    {
        lock (_gate)
        {
            var task = record.Task ?? string.Empty;
            if (!_taskTotals.TryGetValue(task, out var tally))
            {
                _taskTotals[task] = tally = new TaskTally();
            }

            // Counted in place: a new totals record per call would cost every call an allocation nobody reads.
            tally.Calls++;
            tally.InputTokens += record.InputTokens;
            tally.OutputTokens += record.OutputTokens;
            tally.CostUsd += record.CostUsd;
            _callCount++;
            _calls.Add(record);
        }
    }

    private string? Get(int index) => Volatile.Read(ref _metadata).Get(index);

    private void Set(int index, string? value, string field)
    {
        if (value is not null)
        {
            MetadataRules.ValidateValue(value, field);
        }

        lock (_gate)
        {
            _metadata = _metadata.With(index, value);
        }
    }

    /// <summary>A task's running totals, counted under the run's lock; read out as <see cref="RunTaskTotals"/>.</summary>
    private sealed class TaskTally
    {
        public long Calls;
        public long InputTokens;
        public long OutputTokens;
        public decimal CostUsd;
    }

    private sealed class TaskScope(AsyncLocal<string?> slot, string? previous) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                slot.Value = previous;
            }
        }
    }
}

/// <summary>The totals of a run's calls in one task.</summary>
/// <param name="Calls">How many calls completed.</param>
/// <param name="InputTokens">Their input tokens.</param>
/// <param name="OutputTokens">Their output tokens.</param>
/// <param name="CostUsd">What they cost, in US dollars.</param>
public sealed record RunTaskTotals(long Calls, long InputTokens, long OutputTokens, decimal CostUsd);
