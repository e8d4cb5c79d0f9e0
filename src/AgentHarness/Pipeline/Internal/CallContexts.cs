using Microsoft.Extensions.ObjectPool;

namespace AgentHarness.Pipeline.Internal;

/// <summary>
/// The contexts of calls that have ended, kept for the next calls of a routing handler: a call from a client the harness
/// handed out takes one with its own request description and deadline, so the common call builds none of them.
/// </summary>
/// <remarks>
/// A context comes back only when nothing can still reach it (<see cref="CallContext.Reusable"/>: a whole answer that
/// ended, which the response cache took no part in); any other is left to the collector. What it kept of its call is
/// cleared as it comes back, so a kept context holds no request, answer or run.
/// </remarks>
internal sealed class CallContexts
{
    private readonly DefaultObjectPool<CallContext> _pool = new(new Policy());

    /// <summary>Gets a context to <see cref="CallContext.Start"/>: a kept one, or a new one.</summary>
    public CallContext Rent() => _pool.Get();

    /// <summary>Keeps the context of a call that has returned, when nothing can still reach it.</summary>
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
