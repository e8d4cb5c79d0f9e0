namespace AgentHarness.Pipeline.Internal;

/// <summary>
/// Gives a call's own work an ambient context on the flows it runs in: the routing loop's, from the call's start to its
/// return, and the flow its end is observed on (a stream ends on its reader's), so that what is logged there belongs to
/// the call. The telemetry stage makes the call's span current.
/// </summary>
internal interface ICallScope
{
    /// <summary>Enters the call's scope on the current flow.</summary>
    /// <returns>What <see cref="Leave"/> restores.</returns>
    CallScopeState Enter(CallContext call);

    /// <summary>Restores the flow as <see cref="Enter"/> found it.</summary>
    void Leave(CallScopeState state);
}

/// <summary>What entering a call's scope changed: whether it did, and what was current before.</summary>
/// <param name="Entered">Whether the flow's context was changed.</param>
/// <param name="Previous">What was current before.</param>
internal readonly record struct CallScopeState(bool Entered, object? Previous);
