namespace AgentHarness.AgentFramework.Internal;

/// <summary>
/// Moves an inner stream on in the execution context it was opened in, whatever flow asks for the next item.
/// </summary>
/// <remarks>
/// An async iterator's changes to <see cref="AsyncLocal{T}"/> values (the <see cref="AgentRun"/> it opens, the usage
/// capture) last only until it yields: its consumer's next <c>MoveNextAsync</c> runs in the consumer's context. The
/// model round trips of a streamed agent run happen inside the inner stream's later moves, so each move runs in the
/// context captured when the run was opened, and every round trip is made in the run.
/// </remarks>
internal sealed class FlowEnumerator<T>(ExecutionContext? flow, IAsyncEnumerator<T> inner) : IAsyncEnumerator<T>
{
    private static readonly ContextCallback MoveNextInFlow = static state =>
    {
        var self = (FlowEnumerator<T>)state!;
        self._step = self._inner.MoveNextAsync();
    };

    private readonly IAsyncEnumerator<T> _inner = inner;
    private ValueTask<bool> _step;

    public T Current => _inner.Current;

    public ValueTask<bool> MoveNextAsync()
    {
        if (flow is null)
        {
            // Flow was suppressed when the run opened: there is nothing to restore.
            return _inner.MoveNextAsync();
        }

        ExecutionContext.Run(flow, MoveNextInFlow, this);
        var step = _step;
        _step = default;
        return step;
    }

    public ValueTask DisposeAsync() => _inner.DisposeAsync();
}
