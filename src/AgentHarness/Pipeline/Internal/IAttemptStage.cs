namespace AgentHarness.Pipeline.Internal;

/// <summary>
/// One stage every attempt of a call passes through on its way to the transport, in the order the pipeline lists them:
/// it may decide about a candidate before it is tried, prepare or refuse the attempt, and act on the result on its way
/// back. A stage never calls the routing loop above it: what it wants the call to know it writes on the
/// <see cref="CallContext"/>.
/// </summary>
internal interface IAttemptStage
{
    /// <summary>
    /// Decides whether a candidate may be tried at all, before the routing loop takes its cooldown slot. A stage that
    /// says no lists the candidate as skipped, with why, on <see cref="CallContext.Attempts"/>.
    /// </summary>
    bool Admit(CallContext call, Candidate candidate);

    /// <summary>Runs the attempt <see cref="CallContext.Attempt"/> through this stage and the ones after it.</summary>
    /// <param name="call">The call; <see cref="CallContext.Attempt"/> is the attempt being made.</param>
    /// <param name="next">The stages after this one, ending with the transport.</param>
    /// <returns>What came of the attempt.</returns>
    ValueTask<AttemptResult> SendAsync(CallContext call, AttemptNext next);
}

/// <summary>Receives the end of every call, exactly once, whatever ended it: the place to settle what a call still holds and to record it.</summary>
internal interface ICallObserver
{
    /// <param name="call">The ended call; <see cref="CallContext.Outcome"/> and the rest of its figures are final, but for what this observer settles.</param>
    void OnCallEnded(CallContext call);
}

/// <summary>What came of one attempt, as the transport saw it: the routing loop judges it.</summary>
internal enum AttemptStatus
{
    /// <summary>A stage did not let the attempt go (a budget it does not fit); nothing was sent and the stage said why.</summary>
    Refused,

    /// <summary>The caller cancelled before the request's body started to leave: nothing of it reached the provider.</summary>
    NotSent,

    /// <summary>A whole successful answer, read and scanned for usage.</summary>
    Answered,

    /// <summary>A stream whose first output arrived: it is committed to the caller and ends the call when it ends.</summary>
    Streamed,

    /// <summary>An error status (<see cref="AttemptResult.Response"/> and its body), or an exception (<see cref="AttemptResult.Exception"/>).</summary>
    Failed,

    /// <summary>
    /// A success status with no answer the caller could use (<see cref="AttemptResult.Problem"/>, and an error object in
    /// <see cref="AttemptResult.Body"/>): a stream that failed before any output reached the caller, or a whole answer
    /// that is malformed or an error object.
    /// </summary>
    AnswerFailed,
}

/// <summary>The facts of one attempt.</summary>
/// <param name="Status">What came of it.</param>
/// <param name="Response">The response to hand to the caller (an answer, a stream) or to keep as the provider's own error.</param>
/// <param name="Exception">What the send or the read threw.</param>
/// <param name="Body">The error body of a failed status; the error event of a stream that failed with one.</param>
/// <param name="Problem">Why a stream failed before its first output.</param>
/// <param name="FirstEventTimedOut">Whether a stream failed by not sending its first event in time.</param>
internal readonly record struct AttemptResult(
    AttemptStatus Status,
    HttpResponseMessage? Response = null,
    Exception? Exception = null,
    byte[]? Body = null,
    string? Problem = null,
    bool FirstEventTimedOut = false)
{
    public static AttemptResult Refused => new(AttemptStatus.Refused);
}

/// <summary>The stages after the current one: a position in the pipeline, so that passing it on allocates nothing.</summary>
internal readonly struct AttemptNext
{
    private readonly CallPipeline _pipeline;
    private readonly int _index;

    public AttemptNext(CallPipeline pipeline, int index)
    {
        _pipeline = pipeline;
        _index = index;
    }

    /// <summary>Runs the attempt through the rest of the pipeline.</summary>
    public ValueTask<AttemptResult> SendAsync(CallContext call) => _pipeline.SendAsync(call, _index);
}
