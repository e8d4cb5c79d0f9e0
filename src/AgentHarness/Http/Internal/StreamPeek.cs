namespace AgentHarness.Http.Internal;

/// <summary>What arrived of a stream before it was committed to the caller.</summary>
/// <param name="Buffered">The bytes read so far, to be replayed to the caller first.</param>
/// <param name="Length">How many bytes of <paramref name="Buffered"/> are used.</param>
/// <param name="Failure">Why the stream cannot be committed, or <see langword="null"/> when its first event is a good one.</param>
/// <param name="ErrorEvent">The first event's data when it was an error event, for classification.</param>
internal readonly record struct PeekResult(byte[] Buffered, int Length, string? Failure, byte[]? ErrorEvent);

/// <summary>
/// Reads a stream up to its first data event. Until then nothing has reached the caller, so a
/// stream that fails here (an error event, a cut, a stall) can still be replaced by another
/// candidate's; after it, the stream is the caller's and can only succeed or fail as it is.
/// </summary>
internal static class StreamPeek
{
    private const int MaxPeekBytes = 1 << 20;

    /// <param name="stream">The response stream.</param>
    /// <param name="synchronous">
    /// Whether to read with <see cref="Stream.Read(Span{byte})"/>, for a synchronous client call: the task has
    /// then completed when this returns. The token still ends a stalled read, by closing the stream.
    /// </param>
    /// <param name="cancellationToken">Ends the wait for the first event.</param>
    public static async Task<PeekResult> ReadFirstEventAsync(Stream stream, bool synchronous, CancellationToken cancellationToken)
    {
        // Small on purpose: a first event is a few hundred bytes, and a read returns what has arrived.
        var buffer = new byte[1024];
        var length = 0;
        using var observer = new SseUsageObserver();
        while (true)
        {
            if (length == buffer.Length)
            {
                if (length >= MaxPeekBytes)
                {
                    return new PeekResult(buffer, length, "no event within the first 1 MiB of the stream", null);
                }

                Array.Resize(ref buffer, buffer.Length * 2);
            }

            var read = synchronous
                ? SynchronousRead.Read(stream, buffer.AsSpan(length), cancellationToken)
                : await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                observer.Complete();
                return observer.Events == 0
                    ? new PeekResult(buffer, length, "the stream ended before its first event", null)
                    : Judge(buffer, length, observer);
            }

            observer.Observe(buffer.AsSpan(length, read));
            length += read;
            if (observer.Events > 0)
            {
                return Judge(buffer, length, observer);
            }
        }
    }

    // Every event read so far decides: none of them has reached the caller yet.
    private static PeekResult Judge(byte[] buffer, int length, SseUsageObserver observer) =>
        observer.ErrorEvent is { } error ? new PeekResult(buffer, length, "the stream sent an error event before any output", error)
        : observer.Malformed ? new PeekResult(buffer, length, "the stream sent a malformed event before any output", null)
        : new PeekResult(buffer, length, null, null);
}
