using AgentHarness.Http.Internal;
using AgentHarness.Internal;

namespace AgentHarness.Pipeline.Internal;

/// <summary>
/// One logical call: what it asks for and in which run, built once when the call starts, and the facts the stages write
/// on it as it goes (attempts, usage, cost), which the observers read when it ends. Stages pass data down through it;
/// none of them calls back into the one that called it.
/// </summary>
internal sealed class CallContext : IStreamCompletion
{
    private static readonly IReadOnlyDictionary<string, string> EmptyMetadata =
        new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    private readonly AttemptLog _attempts = new();
    private CallPipeline _pipeline = null!;
    private int _finished;

    // What a reused context keeps for its next call: its own request description and deadline.
    private CallRequest? _ownRequest;
    private CallDeadline? _ownDeadline;

    // Where the context goes back when nothing holds it any more, and how many hold it: the routing handler until it
    // returns, and a stream handed to the caller until it ends.
    private CallContexts? _owner;
    private int _holders;

    /// <summary>A context to be started by <see cref="Start"/>: one the routing handler keeps for later calls (<see cref="CallContexts"/>).</summary>
    public CallContext()
    {
    }

    /// <param name="pipeline">The stages and observers of the call.</param>
    /// <param name="request">What the call asks for.</param>
    /// <param name="started">When the call started, as a timestamp of <paramref name="time"/>.</param>
    /// <param name="time">The harness's clock.</param>
    /// <param name="callerToken">The caller's token.</param>
    /// <param name="synchronous">Whether the call serves a synchronous client method.</param>
    public CallContext(CallPipeline pipeline, CallRequest request, long started, TimeProvider time, CancellationToken callerToken, bool synchronous) =>
        Start(pipeline, request, started, time, callerToken, synchronous);

    /// <summary>Begins the call: what it asks for, and the run it is made in, as they stand now.</summary>
    /// <param name="pipeline">The stages and observers of the call.</param>
    /// <param name="request">What the call asks for.</param>
    /// <param name="started">When the call started, as a timestamp of <paramref name="time"/>.</param>
    /// <param name="time">The harness's clock.</param>
    /// <param name="callerToken">The caller's token.</param>
    /// <param name="synchronous">Whether the call serves a synchronous client method.</param>
    public void Start(CallPipeline pipeline, CallRequest request, long started, TimeProvider time, CancellationToken callerToken, bool synchronous)
    {
        _pipeline = pipeline;
        Request = request;
        Started = started;
        Time = time;
        CallerToken = callerToken;
        Synchronous = synchronous;
        Timestamp = time.GetUtcNow();
        Runs = AgentRun.OpenRuns();
        Run = Runs.Length > 0 ? Runs[0] : null;
        Metadata = Run?.MetadataSnapshot;
        Task = Run?.CurrentTask;
        CallMetadata = Metadata?.ForCall(Task) ?? EmptyMetadata;
        Capture = UsageCapture.Current;
    }

    /// <summary>
    /// Gets this context's own request description, for a call from a client the harness handed out (see
    /// <see cref="CallRequest.ForClient"/>): a reused context describes each of its calls in the same object.
    /// </summary>
    public CallRequest OwnRequest => _ownRequest ??= new CallRequest();

    /// <summary>Gets this context's own deadline, started for the call (see <see cref="CallDeadline.Start"/>).</summary>
    public CallDeadline OwnDeadline => _ownDeadline ??= new CallDeadline();

    /// <summary>
    /// Gets a value indicating whether the context may serve another call once nothing holds it: its call ended, and the
    /// response cache, which may keep a stream's capture, took no part in it.
    /// </summary>
    public bool Reusable => Finished && CacheState is null;

    /// <summary>Marks the context as taken from <paramref name="owner"/> by the routing handler, which holds it until <see cref="Release"/>.</summary>
    internal void Rented(CallContexts owner)
    {
        _owner = owner;
        _holders = 1;
    }

    /// <summary>Makes a stream handed to the caller a holder of the context: its end is the call's, and comes through it.</summary>
    public void HoldForStream() => Interlocked.Increment(ref _holders);

    /// <summary>
    /// Lets go of the context, for the routing handler once it has returned (after its deadline is disposed) and for a
    /// stream once it has ended: the last to let go gives it back to the contexts it came from. A holder that ends with an
    /// exception does not let go, and that context is left to the collector.
    /// </summary>
    public void Release()
    {
        if (_owner is { } owner && Interlocked.Decrement(ref _holders) == 0)
        {
            owner.Return(this);
        }
    }

    /// <summary>Clears what the last call wrote, for the next <see cref="Start"/>; its own request and deadline are kept.</summary>
    internal void Reset()
    {
        _owner = null;
        _holders = 0;
        _pipeline = null!;
        _finished = 0;
        _attempts.Clear();
        _ownRequest?.Clear();
        Request = null!;
        Started = 0;
        Timestamp = default;
        Time = null!;
        CallerToken = default;
        Synchronous = false;
        Runs = [];
        Run = null;
        Metadata = null;
        Task = null;
        CallMetadata = EmptyMetadata;
        Capture = null;
        Settings = null!;
        Deadline = null!;
        Attempt.Begin(null!, 0);
        Current = null;
        OriginalSent = false;
        AnySent = false;
        Reading = default;
        Answer = null;
        StreamOutput = null;
        Streamed = false;
        CostUsd = 0m;
        CostBasis = default;
        BudgetRefusal = null;
        BudgetEndedCall = false;
        Unpriced = null;
        if (CostState is IReusableCallState kept)
        {
            // The budget stage's state is kept, cleared, for the context's next call.
            kept.Clear();
        }
        else
        {
            CostState = null;
        }

        TelemetryState = null;
        CacheState = null;
        CacheKey = null;
        CacheHit = null;
        StreamProbe = false;
        Outcome = default;
        StatusCode = null;
        Error = null;
        Latency = default;
    }

    /// <summary>Gets what the call asks for.</summary>
    public CallRequest Request { get; private set; } = null!;

    /// <summary>Gets when the call started, as a timestamp of <see cref="Time"/>.</summary>
    public long Started { get; private set; }

    /// <summary>Gets when the call started.</summary>
    public DateTimeOffset Timestamp { get; private set; }

    /// <summary>Gets the harness's clock.</summary>
    public TimeProvider Time { get; private set; } = null!;

    /// <summary>Gets the caller's token.</summary>
    public CancellationToken CallerToken { get; private set; }

    /// <summary>
    /// Gets a value indicating whether the call serves a synchronous client method: every send and read is then
    /// synchronous, so the call's task has completed when the pipeline returns.
    /// </summary>
    public bool Synchronous { get; private set; }

    /// <summary>Gets the open runs of the call, innermost first.</summary>
    public AgentRun[] Runs { get; private set; } = [];

    /// <summary>Gets the innermost open run, or <see langword="null"/>.</summary>
    public AgentRun? Run { get; private set; }

    /// <summary>Gets the run's metadata as it stood when the call began; every attempt sends the same values.</summary>
    public RunMetadata? Metadata { get; private set; }

    /// <summary>Gets the run's task when the call began.</summary>
    public string? Task { get; private set; }

    /// <summary>Gets the metadata the call is recorded and budgeted with: the run's, with the task.</summary>
    public IReadOnlyDictionary<string, string> CallMetadata { get; private set; } = EmptyMetadata;

    /// <summary>Gets the scope that takes the call's record back to whoever opened it (an <c>IChatClient</c> wrapper, an agent run), or <see langword="null"/>.</summary>
    public UsageCapture? Capture { get; private set; }

    /// <summary>Gets the model id the caller asked for, or empty.</summary>
    public string ModelRequested => Request.Model ?? string.Empty;

    /// <summary>Gets or sets how the call retries and times out, once it is routed.</summary>
    public RouteSettings Settings { get; set; } = null!;

    /// <summary>Gets or sets the call's deadline, once it is routed.</summary>
    public CallDeadline Deadline { get; set; } = null!;

    /// <summary>Gets the attempt being made.</summary>
    public AttemptContext Attempt { get; } = new();

    /// <summary>Gets the call's attempts and skipped candidates, in order.</summary>
    public AttemptLog Attempts => _attempts;

    /// <summary>Gets or sets the candidate of the last attempt made, whose provider the record names.</summary>
    public Candidate? Current { get; set; }

    /// <summary>Gets or sets a value indicating whether the official client's own request was sent already: it goes out once, as the first attempt.</summary>
    public bool OriginalSent { get; set; }

    /// <summary>Gets or sets a value indicating whether any attempt was sent; a call refused before that is <see cref="UsageOutcome.Rejected"/>.</summary>
    public bool AnySent { get; set; }

    /// <summary>The model and usage the answer reported; a stage that charges estimated tokens writes them here.</summary>
    public UsageReading Reading;

    /// <summary>
    /// Gets or sets the bytes of the whole answer, for counting its output when it reported no usage; they are read while
    /// the call runs, before the answer is handed on (the buffer is the answer's content's, see <c>AnswerContent</c>).
    /// </summary>
    public ReadOnlyMemory<byte>? Answer { get; set; }

    /// <summary>Gets or sets the output text of a stream that has ended, for charging it when it reported no usage.</summary>
    public OutputText? StreamOutput { get; set; }

    /// <summary>Gets or sets a value indicating whether the call handed a stream to the caller: it ends when the stream ends.</summary>
    public bool Streamed { get; set; }

    // Cost: what the budget stage charged, and why the call could not go on when a budget or the catalog said no.

    /// <summary>Gets or sets what the call has been charged.</summary>
    public decimal CostUsd { get; set; }

    /// <summary>Gets or sets how the charge was computed.</summary>
    public CostBasis CostBasis { get; set; }

    /// <summary>Gets or sets the budget that refused a candidate and the smallest worst case it refused, or <see langword="null"/>.</summary>
    public (BudgetStatus Status, decimal Estimate)? BudgetRefusal { get; set; }

    /// <summary>Gets or sets a value indicating whether a budget refused a candidate after the last attempt that was sent: then it is why the call ends.</summary>
    public bool BudgetEndedCall { get; set; }

    /// <summary>Gets or sets the catalog ids of candidates refused for having no price.</summary>
    public List<string>? Unpriced { get; set; }

    /// <summary>Gets or sets the budget stage's own state for the call.</summary>
    public object? CostState { get; set; }

    /// <summary>Gets or sets the telemetry's own state for the call, when something listens; <see langword="null"/> otherwise.</summary>
    public object? TelemetryState { get; set; }

    /// <summary>Gets or sets the response cache's own state for the call, when the cache serves it; <see langword="null"/> otherwise.</summary>
    public object? CacheState { get; set; }

    /// <summary>Gets or sets the key of the cache entry the call was served from or stored in, or <see langword="null"/>.</summary>
    public string? CacheKey { get; set; }

    /// <summary>Gets or sets what the cache's answer stands for when the call was served from it, or <see langword="null"/>.</summary>
    public CacheHit? CacheHit { get; set; }

    /// <summary>Gets or sets the routing loop's state for a stream it handed over: whether its candidate holds a probe slot until it ends.</summary>
    public bool StreamProbe { get; set; }

    // The end, set once by Finish.

    /// <summary>Gets how the call ended.</summary>
    public UsageOutcome Outcome { get; private set; }

    /// <summary>Gets the HTTP status the call ended with, or <see langword="null"/>.</summary>
    public int? StatusCode { get; private set; }

    /// <summary>Gets why the call did not succeed, or <see langword="null"/>.</summary>
    public string? Error { get; private set; }

    /// <summary>Gets the call's latency, from its start to its end.</summary>
    public TimeSpan Latency { get; private set; }

    /// <summary>Gets a value indicating whether the call has ended.</summary>
    public bool Finished => Volatile.Read(ref _finished) != 0;

    /// <summary>Lists a candidate that was not tried, with why.</summary>
    public void Skip(Candidate candidate, string reason) =>
        _attempts.Add(new UsageAttempt(candidate.Provider.Name, candidate.Model, AttemptOutcome.Skipped, null, reason, TimeSpan.Zero));

    /// <summary>
    /// Ends the call, exactly once, whoever ends it (the handler for an answer or a failure, the stream when it ends):
    /// every observer settles and records it, in order.
    /// </summary>
    public void Finish(UsageOutcome outcome, int? statusCode, string? error)
    {
        if (Interlocked.Exchange(ref _finished, 1) != 0)
        {
            return;
        }

        Outcome = outcome;
        StatusCode = statusCode;
        Error = error;
        Latency = Time.GetElapsedTime(Started);
        _pipeline.OnCallEnded(this);
    }

    /// <summary>Ends the call with the final response: a stream is ended when it ends, anything else now.</summary>
    public HttpResponseMessage Complete(HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
        {
            Finish(UsageOutcome.Failed, (int)response.StatusCode, $"HTTP {(int)response.StatusCode}");
        }
        else if (!Streamed)
        {
            Finish(UsageOutcome.Succeeded, (int)response.StatusCode, error: null);
        }

        return response;
    }

    /// <summary>The stream handed to the caller ended: what it carried is the call's usage, and its end is the call's.</summary>
    void IStreamCompletion.OnStreamCompleted(SseUsageObserver observer, bool endedNormally, bool canceled, string? error)
    {
        Reading = observer.Reading;
        StreamOutput = observer.Output;
        Finish(endedNormally ? UsageOutcome.Succeeded : canceled ? UsageOutcome.Canceled : UsageOutcome.Incomplete, 200, error);

        // The stream calls this once, and never touches the context again.
        Release();
    }
}

/// <summary>A stage's state for a call that a reused context keeps for its next call, cleared, instead of building a new one.</summary>
internal interface IReusableCallState
{
    /// <summary>Lets go of everything of the call that ended; the stage begins it again for the next call.</summary>
    void Clear();
}

/// <summary>A call the response cache answered: the provider whose answer it was, and what that answer had cost.</summary>
internal sealed record CacheHit(string? Provider, decimal SavedUsd);

/// <summary>
/// A call's attempts and skipped candidates. Nearly every call has one entry, which is held without a list; the
/// record gets an array either way.
/// </summary>
internal sealed class AttemptLog
{
    private UsageAttempt? _first;
    private List<UsageAttempt>? _more;

    /// <summary>Gets how many entries there are.</summary>
    public int Count => _first is null ? 0 : 1 + (_more?.Count ?? 0);

    /// <summary>Gets an entry.</summary>
    public UsageAttempt this[int index] => index == 0 ? _first! : _more![index - 1];

    public void Add(UsageAttempt attempt)
    {
        if (_first is null)
        {
            _first = attempt;
        }
        else
        {
            (_more ??= new List<UsageAttempt>(2)).Add(attempt);
        }
    }

    /// <summary>Removes every entry, keeping what was allocated for them.</summary>
    public void Clear()
    {
        _first = null;
        _more?.Clear();
    }

    public UsageAttempt[] ToArray()
    {
        if (_first is null)
        {
            return [];
        }

        var result = new UsageAttempt[Count];
        result[0] = _first;
        _more?.CopyTo(result, 1);
        return result;
    }
}
