namespace AgentHarness.Internal;

/// <summary>
/// A <see cref="UsageRecord"/> held by value in a <see cref="RecordRing"/>'s array, its attempts in line (nearly every call has
/// one, a fallback two): it references only what the record referenced (names and metadata the calls share), so no
/// object is kept per call. <see cref="ToRecord"/> gives back a record with the same values as the one it
/// was made from (not equal by <see cref="object.Equals(object)"/>: its attempts are a new list).
/// </summary>
/// <remarks>A property added to <see cref="UsageRecord"/> or <see cref="UsageAttempt"/> must be added here: a test
/// sets every property of both and checks that the record comes back equal.</remarks>
internal readonly struct HeldRecord
{
    private readonly DateTimeOffset _timestamp;
    private readonly string? _runId;
    private readonly string? _agent;
    private readonly string? _task;
    private readonly IReadOnlyDictionary<string, string> _metadata;
    private readonly string _modelRequested;
    private readonly string? _modelUsed;
    private readonly string? _provider;
    private readonly string _operation;
    private readonly string? _error;
    private readonly string? _cacheKey;
    private readonly decimal _costUsd;
    private readonly decimal _savedUsd;
    private readonly TimeSpan _latency;
    private readonly int _inputTokens;
    private readonly int _outputTokens;
    private readonly int _cachedInputTokens;
    private readonly int _cacheWriteInputTokens;
    private readonly int? _statusCode;
    private readonly UsageOutcome _outcome;
    private readonly CostBasis _costBasis;
    private readonly bool _streaming;
    private readonly bool _fromCache;

    // The attempts: up to two in line (a direct call, or one fallback), _attemptCount of them; more in the record's own list.
    private readonly IReadOnlyList<UsageAttempt>? _attempts;
    private readonly AttemptEntry _first;
    private readonly AttemptEntry _second;
    private readonly int _attemptCount;

    public HeldRecord(UsageRecord record)
    {
        _timestamp = record.Timestamp;
        _runId = record.RunId;
        _agent = record.Agent;
        _task = record.Task;
        _metadata = record.Metadata;
        _modelRequested = record.ModelRequested;
        _modelUsed = record.ModelUsed;
        _provider = record.Provider;
        _operation = record.Operation;
        _error = record.Error;
        _cacheKey = record.CacheKey;
        _costUsd = record.CostUsd;
        _savedUsd = record.SavedUsd;
        _latency = record.Latency;
        _inputTokens = record.InputTokens;
        _outputTokens = record.OutputTokens;
        _cachedInputTokens = record.CachedInputTokens;
        _cacheWriteInputTokens = record.CacheWriteInputTokens;
        _statusCode = record.StatusCode;
        _outcome = record.Outcome;
        _costBasis = record.CostBasis;
        _streaming = record.Streaming;
        _fromCache = record.FromCache;

        // A record built with no list (Attempts = null!) is held as having none, rather than failing the call that adds it.
        var attempts = record.Attempts ?? [];
        if (attempts.Count switch { 0 => true, 1 => attempts[0] is not null, 2 => attempts[0] is not null && attempts[1] is not null, _ => false })
        {
            _attemptCount = attempts.Count;
            _first = attempts.Count > 0 ? new AttemptEntry(attempts[0]) : default;
            _second = attempts.Count > 1 ? new AttemptEntry(attempts[1]) : default;
        }
        else
        {
            _attempts = attempts;
        }
    }

    /// <summary>Returns a record with the values of the one this entry was made from (a new object, with a new attempts list).</summary>
    /// <param name="withAttempts">Whether to build its attempts; a usage report reads none, so its records go without.</param>
    /// <returns>The record.</returns>
    public UsageRecord ToRecord(bool withAttempts = true) => new()
    {
        Timestamp = _timestamp,
        RunId = _runId,
        Agent = _agent,
        Task = _task,
        Metadata = _metadata,
        ModelRequested = _modelRequested,
        ModelUsed = _modelUsed,
        Provider = _provider,
        Operation = _operation,
        Error = _error,
        CacheKey = _cacheKey,
        CostUsd = _costUsd,
        SavedUsd = _savedUsd,
        Latency = _latency,
        InputTokens = _inputTokens,
        OutputTokens = _outputTokens,
        CachedInputTokens = _cachedInputTokens,
        CacheWriteInputTokens = _cacheWriteInputTokens,
        StatusCode = _statusCode,
        Outcome = _outcome,
        CostBasis = _costBasis,
        Streaming = _streaming,
        FromCache = _fromCache,
        Attempts = !withAttempts ? [] : _attempts ?? _attemptCount switch
        {
            0 => [],
            1 => [_first.ToAttempt()],
            _ => [_first.ToAttempt(), _second.ToAttempt()],
        },
    };

    /// <summary>A <see cref="UsageAttempt"/> held by value.</summary>
    private readonly struct AttemptEntry(UsageAttempt attempt)
    {
        private readonly string _provider = attempt.Provider;
        private readonly string _model = attempt.Model;
        private readonly string? _error = attempt.Error;
        private readonly TimeSpan _latency = attempt.Latency;
        private readonly int? _statusCode = attempt.StatusCode;
        private readonly int? _outputTokenLimit = attempt.OutputTokenLimit;
        private readonly AttemptOutcome _outcome = attempt.Outcome;

        public UsageAttempt ToAttempt() => new(_provider, _model, _outcome, _statusCode, _error, _latency) { OutputTokenLimit = _outputTokenLimit };
    }
}
