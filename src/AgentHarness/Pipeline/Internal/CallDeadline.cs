namespace AgentHarness.Pipeline.Internal;

/// <summary>
/// The call's one cancellation source: the caller's token cancels it, and one timer on the harness's clock fires at the
/// nearest deadline of what the call is doing now: the call's total timeout, or within it an attempt's timeout or the
/// wait for a stream's first event (a phase).
/// </summary>
/// <remarks>
/// <para>
/// One source re-armed for each phase costs one timer per call, where a source per deadline linked to the caller's and
/// to each other costs four sources and two timers for the simplest call. A source that fired is spent: the next phase
/// gets a new one, which only happens after an attempt timed out. The source is created by the first phase, so the
/// timer is armed once for the common call.
/// </para>
/// <para>
/// What fired is known from what the timer was armed for, not from the clock: a timer may fire a tick before a
/// high-resolution clock says the deadline passed, and a total timeout must never be told apart from it that way.
/// </para>
/// </remarks>
internal sealed class CallDeadline : IDisposable
{
    private TimeProvider _time = null!;
    private CancellationToken _caller;
    private long _started;
    private TimeSpan _total;
    private CancellationTokenRegistration _callerRegistration;
    private DeadlineSources? _sources;
    private CancellationTokenSource? _source;

    // Whether the current source's timer is the total timeout's: the phase would end with the call or after it.
    private bool _armedForTotal;

    /// <param name="time">The harness's clock.</param>
    /// <param name="caller">The caller's token.</param>
    /// <param name="started">When the call started, as a <paramref name="time"/> timestamp.</param>
    /// <param name="total">The call's total timeout.</param>
    /// <param name="sources">Where the source comes from and goes back to when <see cref="Recycle"/> says so; <see langword="null"/> for a new one.</param>
    public CallDeadline(TimeProvider time, CancellationToken caller, long started, TimeSpan total, DeadlineSources? sources = null) =>
        Start(time, caller, started, total, sources);

    /// <summary>A deadline to be started by <see cref="Start"/>, owned by a context that is reused (<see cref="CallContext.OwnDeadline"/>).</summary>
    internal CallDeadline()
    {
    }

    /// <summary>Starts the deadline of a call; one that is reused is started again only after <see cref="Dispose"/>.</summary>
    /// <param name="time">The harness's clock.</param>
    /// <param name="caller">The caller's token.</param>
    /// <param name="started">When the call started, as a <paramref name="time"/> timestamp.</param>
    /// <param name="total">The call's total timeout.</param>
    /// <param name="sources">Where the source comes from and goes back to when <see cref="Recycle"/> says so; <see langword="null"/> for a new one.</param>
    /// <returns>This deadline.</returns>
    public CallDeadline Start(TimeProvider time, CancellationToken caller, long started, TimeSpan total, DeadlineSources? sources = null)
    {
        _time = time;
        _sources = sources?.Time == time ? sources : null;
        _caller = caller;
        _started = started;
        _total = total;
        _source = null;
        _armedForTotal = false;
        Recycle = false;
        _callerRegistration = caller.CanBeCanceled
            ? caller.UnsafeRegister(static state => ((CallDeadline)state!).CancelFromCaller(), this)
            : default;
        return this;
    }

    /// <summary>Gets the caller's own token.</summary>
    public CancellationToken CallerToken => _caller;

    /// <summary>Gets a value indicating whether the caller cancelled: that always wins over a timeout.</summary>
    public bool CallerCanceled => _caller.IsCancellationRequested;

    /// <summary>Gets the call's total timeout.</summary>
    public TimeSpan TotalTimeout => _total;

    /// <summary>Gets a value indicating whether the call's total timeout ended the current phase (and so the call).</summary>
    public bool TotalExpired => _source is { IsCancellationRequested: true } && _armedForTotal && !_caller.IsCancellationRequested;

    /// <summary>Gets a value indicating whether the current phase's own deadline (not the total's) fired.</summary>
    public bool PhaseExpired => _source is { IsCancellationRequested: true } && !_armedForTotal && !_caller.IsCancellationRequested;

    /// <summary>Gets a value indicating whether the call is over: the caller cancelled or its total timeout elapsed.</summary>
    public bool IsCallOver => _caller.IsCancellationRequested || TotalExpired;

    /// <summary>Gets the token for work bounded by the call's total timeout only: a retry delay, a budget reservation.</summary>
    public CancellationToken ForCall() => Arm(Timeout.InfiniteTimeSpan);

    /// <summary>Gets the token for a phase that ends at <paramref name="timeout"/> from now, or with the call if that is sooner.</summary>
    public CancellationToken ForPhase(TimeSpan timeout) => Arm(timeout);

    /// <summary>
    /// Gets or sets a value indicating whether the source may serve a later call once this one is disposed: set when
    /// nothing the call handed to the caller can still hold its token (not for a stream).
    /// </summary>
    public bool Recycle { get; set; }

    /// <summary>
    /// Stops the total timeout's clock for a wait it must not count (a spend checkpoint's decision, which may take a
    /// human minutes): the timer is disarmed until <see cref="Resume"/>. The caller's token still cancels the call.
    /// </summary>
    /// <returns>When the pause began, for <see cref="Resume"/>.</returns>
    public long Pause()
    {
        if (_source is { IsCancellationRequested: false } source)
        {
            source.CancelAfter(Timeout.InfiniteTimeSpan);
        }

        return _time.GetTimestamp();
    }

    /// <summary>Starts the total timeout's clock again after <see cref="Pause"/>: the pause is not counted, and an armed source ends with the call again.</summary>
    /// <param name="paused">What <see cref="Pause"/> returned.</param>
    public void Resume(long paused)
    {
        // Moving the start by the pause's length is what keeps the common path free of it: Remaining() is unchanged.
        _started += _time.GetTimestamp() - paused;
        if (_source is { IsCancellationRequested: false })
        {
            Arm(Timeout.InfiniteTimeSpan);
        }
    }

    public void Dispose()
    {
        // First, so that the caller's cancellation cannot reach a source another call has taken (it waits for a
        // cancellation callback already running), nor this deadline once it serves another call.
        _callerRegistration.Dispose();
        _callerRegistration = default;
        if (_source is { } source && Recycle && _sources is not null)
        {
            _source = null;
            _sources.Return(source);
        }
        else
        {
            _source?.Dispose();
        }
    }

    private CancellationToken Arm(TimeSpan phase)
    {
        var remaining = Remaining();
        var total = phase == Timeout.InfiniteTimeSpan || phase >= remaining;
        var delay = total ? remaining : phase;
        if (_source is null || _source.IsCancellationRequested)
        {
            // The first phase creates the source, armed for it at once; one spent by an attempt's timeout is replaced
            // (a caller's cancellation or the total ends the call, so it is not re-armed for them).
            var spent = _source;
            _source = _sources?.Rent(delay) ?? new CancellationTokenSource(delay, _time);
            spent?.Dispose();
            if (_caller.IsCancellationRequested)
            {
                _source.Cancel();
            }
        }
        else
        {
            _source.CancelAfter(delay);
        }

        _armedForTotal = total;
        return _source.Token;
    }

    private TimeSpan Remaining()
    {
        var remaining = _total - _time.GetElapsedTime(_started);
        return remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
    }

    private void CancelFromCaller()
    {
        try
        {
            Volatile.Read(ref _source)?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The call ended and disposed its source while the caller cancelled: nothing is left to cancel.
        }
    }
}
