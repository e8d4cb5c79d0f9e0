using Microsoft.Extensions.ObjectPool;

namespace AgentHarness.Pipeline.Internal;

/// <summary>
/// The contexts of calls that have ended, kept for the next calls of a routing handler: a call from a client the harness
/// handed out takes one with its own request description, deadline and stage state, so the common call builds none of them.
/// </summary>
/// <remarks>
/// A context comes back when its last holder lets go (<see cref="CallContext.Release"/>: the routing handler once it has
/// returned, and a stream handed to the caller once it has ended) and its call took nothing with it
/// (<see cref="CallContext.Reusable"/>); any other is left to the collector. What it kept of its call is
/// cleared as it comes back, so a kept context holds no request, answer or run.
/// </remarks>
internal sealed class CallContexts
{
    private readonly DefaultObjectPool<CallContext> _pool = new(new Policy());

    /// <summary>Gets a context to <see cref="CallContext.Start"/>, held by the caller until <see cref="CallContext.Release"/>: a kept one, or a new one.</summary>
    public CallContext Rent()
    {
        var call = _pool.Get();
        call.Rented(this);
        return call;
    }

    /// <summary>Keeps the context of a call that nothing holds any more, when nothing can still reach it.</summary>
    public void Return(CallContext call)
    {
        if (call.Reusable)
        {
            _pool.Return(call);
        }
    }

    private sealed class Policy : PooledObjectPolicy<CallContext>
    {
        public override CallContext Create() => new();

        public override bool Return(CallContext obj)
        {
            obj.Reset();
            return true;
        }
    }
}
