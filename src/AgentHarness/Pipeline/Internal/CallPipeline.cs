namespace AgentHarness.Pipeline.Internal;

/// <summary>
/// The stages of the harness's calls, in order, as the container composes them: the per-attempt stages ending with the
/// transport, and the observers of a call's end. One instance serves every call of a client's handler chain.
/// </summary>
internal sealed class CallPipeline
{
    private readonly IAttemptStage[] _stages;
    private readonly TransportStage _transport;
    private readonly ICallObserver[] _observers;
    private readonly ICallScope? _scope;

    public CallPipeline(CallStages stages, TransportStage transport)
    {
        _stages = stages.Attempt;
        _transport = transport;
        _observers = stages.End;
        _scope = stages.Scope;
    }

    /// <summary>Enters the call's scope (see <see cref="ICallScope"/>) on the current flow, for the routing handler while it routes the call.</summary>
    public CallScopeState EnterScope(CallContext call) => _scope is null ? default : _scope.Enter(call);

    /// <summary>Leaves what <see cref="EnterScope"/> entered.</summary>
    public void LeaveScope(CallScopeState state)
    {
        if (state.Entered)
        {
            _scope!.Leave(state);
        }
    }

    /// <summary>Asks every stage whether a candidate may be tried; the first that says no has listed it as skipped.</summary>
    public bool Admit(CallContext call, Candidate candidate)
    {
        foreach (var stage in _stages)
        {
            if (!stage.Admit(call, candidate))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Runs <see cref="CallContext.Attempt"/> through every stage and the transport.</summary>
    public ValueTask<AttemptResult> SendAsync(CallContext call) => SendAsync(call, 0);

    internal ValueTask<AttemptResult> SendAsync(CallContext call, int index) =>
        index < _stages.Length
            ? _stages[index].SendAsync(call, new AttemptNext(this, index + 1))
            : _transport.SendAsync(call);

    /// <summary>Tells every observer, in order, that the call ended, in the call's scope: whatever flow ends it, what they log belongs to the call.</summary>
    public void OnCallEnded(CallContext call)
    {
        var scope = EnterScope(call);
        try
        {
            foreach (var observer in _observers)
            {
                observer.OnCallEnded(call);
            }
        }
        finally
        {
            LeaveScope(scope);
        }
    }
}

/// <summary>The stages a call goes through, in order: the composition the container registers.</summary>
/// <param name="Attempt">The per-attempt stages, in the order an attempt passes them on its way to the transport.</param>
/// <param name="End">The observers of a call's end, in the order they are told: stages settle first, the recorder records last.</param>
/// <param name="Scope">What gives the call's own work its ambient context, or <see langword="null"/>.</param>
internal sealed record CallStages(IAttemptStage[] Attempt, ICallObserver[] End, ICallScope? Scope = null);
