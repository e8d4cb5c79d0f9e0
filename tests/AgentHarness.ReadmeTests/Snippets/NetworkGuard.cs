using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace AgentHarness.ReadmeTests.Snippets;

/// <summary>
/// Sees every socket connection and DNS lookup this process starts, through the runtime's own
/// networking events, so a snippet that would reach the network (a real provider's address, a key-less
/// call that was meant to stay offline) fails instead of passing quietly or hanging.
/// </summary>
internal sealed class NetworkGuard : EventListener
{
    private static readonly Lazy<NetworkGuard> Shared = new(static () => new NetworkGuard());

    // Created lazily: the base constructor calls OnEventSourceCreated before this class's fields are set.
    private ConcurrentQueue<string>? seen;
    private TaskCompletionSource? touched;
    private volatile bool watching;

    private NetworkGuard()
    {
    }

    /// <summary>Gets the one guard of the process (listeners are process wide).</summary>
    public static NetworkGuard Instance => Shared.Value;

    /// <summary>Starts recording connections and lookups, forgetting any recorded before.</summary>
    /// <returns>A task that completes at the first connection or lookup, so a run can stop waiting at once.</returns>
    public Task Watch()
    {
        seen = new ConcurrentQueue<string>();
        touched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        watching = true;
        return touched.Task;
    }

    /// <summary>Stops recording and returns what was seen since <see cref="Watch"/>, such as <c>ConnectStart 140.82.112.3:443</c>.</summary>
    public IReadOnlyList<string> Stop()
    {
        watching = false;
        return seen is { } recorded ? [.. recorded] : [];
    }

    /// <inheritdoc/>
    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        ArgumentNullException.ThrowIfNull(eventSource);
        if (eventSource.Name is "System.Net.Sockets" or "System.Net.NameResolution")
        {
            EnableEvents(eventSource, EventLevel.Informational);
        }

        base.OnEventSourceCreated(eventSource);
    }

    /// <inheritdoc/>
    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        ArgumentNullException.ThrowIfNull(eventData);
        if (watching && eventData.EventName is "ConnectStart" or "ResolutionStart")
        {
            var detail = eventData.Payload is { Count: > 0 } payload ? string.Join(", ", payload) : string.Empty;
            seen?.Enqueue($"{eventData.EventName} {detail}".TrimEnd());
            touched?.TrySetResult();
        }
    }
}
