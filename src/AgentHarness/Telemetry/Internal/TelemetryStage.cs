using AgentHarness.Pipeline.Internal;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace AgentHarness.Telemetry.Internal;

/// <summary>
/// The telemetry stage: right after the budget stage (so that an attempt a budget refuses, which sends nothing, has no
/// span), it starts each attempt's span around the rest of the attempt, and as the last observer of a call's end (after
/// the recorder) it ends the call's span and records the call's metrics. As the call's scope it makes the call's span
/// current while the call is routed and while its end is observed, so that what is logged then belongs to the call. With
/// nothing listening it passes the attempt on untouched: no span, no state, no allocation.
/// </summary>
internal sealed class TelemetryStage(HarnessTelemetry telemetry) : IAttemptStage, ICallObserver, ICallScope
{
    public bool Admit(CallContext call, Candidate candidate) => true;

    /// <summary>
    /// Makes the call's span (started now, when it is recorded) current on this flow: the routing loop's logs and the
    /// recorder's, on whichever flow the call ends, carry its trace and span ids.
    /// </summary>
    public CallScopeState Enter(CallContext call)
    {
        if (!telemetry.Enabled || !HarnessTelemetry.Source.HasListeners())
        {
            return default;
        }

        if (call.TelemetryState is not CallTelemetry state)
        {
            call.TelemetryState = state = new CallTelemetry(telemetry);
        }

        // Read before the span starts, which makes it current: what the flow had is what Leave restores.
        var previous = Activity.Current;
        if (state.Begin(call) is not { } span)
        {
            return default;
        }

        Activity.Current = span;
        return new CallScopeState(Entered: true, previous);
    }

    public void Leave(CallScopeState state) => Activity.Current = (Activity?)state.Previous;

    public ValueTask<AttemptResult> SendAsync(CallContext call, AttemptNext next)
    {
        if (call.TelemetryState is not CallTelemetry state)
        {
            if (!telemetry.Enabled)
            {
                return next.SendAsync(call);
            }

            call.TelemetryState = state = new CallTelemetry(telemetry);
        }

        return TracedAsync(call, next, state);
    }

    public void OnCallEnded(CallContext call)
    {
        try
        {
            CallTelemetry.CallEnded(telemetry, call);
        }
#pragma warning disable CA1031 // A listener's failure must never fail the call it observes, nor lose its record.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <remarks>An async method: the attempt's span is current for the rest of the attempt only, and the flow is restored when it returns.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<AttemptResult> TracedAsync(CallContext call, AttemptNext next, CallTelemetry state)
    {
        state.StartAttempt(call);
        var result = await next.SendAsync(call).ConfigureAwait(false);
        state.AttemptReturned(call, result);
        return result;
    }
}
