using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace AgentHarness.Http.Internal;

/// <summary>What arrived of a stream before it was committed to the caller.</summary>
/// <param name="Buffered">The bytes read so far, to be replayed to the caller first.</param>
/// <param name="Length">How many bytes of <paramref name="Buffered"/> are used.</param>
/// <param name="Failure">Why the stream cannot be committed, or <see langword="null"/> when it carried output or ended normally first.</param>
/// <param name="ErrorEvent">The data of the error event that came before any output, for classification.</param>
/// <param name="Observer">
/// What observed the buffered bytes, when the stream is committed and nothing after its first output needs them
/// observed again: the committed stream goes on with it instead of parsing its first events twice. The receiver owns it.
/// </param>
internal readonly record struct PeekResult(byte[] Buffered, int Length, string? Failure, byte[]? ErrorEvent, SseUsageObserver? Observer = null);

/// <summary>
/// Reads a stream up to its first event that carries output. Until then nothing has reached the
/// caller, so a stream that fails here (an error event, a cut, a stall) can still be replaced by
/// another candidate's; after it, the stream is the caller's and can only succeed or fail as it is.
/// Events without output (a role-only first chunk, empty deltas, comments and keep-alives,
/// <c>response.created</c>) are buffered and do not commit; a stream that ends normally without any
/// output is an empty answer and is committed.
/// </summary>
/// <remarks>
/// The outcome is decided by the first deciding event in stream order, so it does not depend on how
/// the bytes are split into reads; what is buffered is held to <see cref="BodyLimits.MaxResponseBytes"/>
/// and each event to <see cref="BodyLimits.MaxStreamEventBytes"/>.
/// </remarks>
internal static class StreamPeek
{
    /// <param name="stream">The response stream.</param>
    /// <param name="limits">The caps on what is buffered and on one event.</param>
    /// <param name="synchronous">
    /// Whether to read with <see cref="Stream.Read(Span{byte})"/>, for a synchronous client call: the task has
    /// then completed when this returns. The token still ends a stalled read, by closing the stream.
    /// </param>
    /// <param name="cancellationToken">Ends the wait for output.</param>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<PeekResult> ReadUntilOutputAsync(Stream stream, BodyLimits limits, bool synchronous, CancellationToken cancellationToken)
    {
        // Small on purpose: a first event is a few hundred bytes, and a read returns what has arrived. Pooled: a
        // committed stream hands the buffer back once its caller has read it.
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(1024, limits.MaxResponseBytes));
        var capacity = Math.Min(buffer.Length, limits.MaxResponseBytes);
        var length = 0;
        SseUsageObserver? observer = new(limits.MaxStreamEventBytes);
        try
        {
            while (true)
            {
                if (length == capacity)
                {
                    if (length >= limits.MaxResponseBytes)
                    {
                        // Reads never go past the limit, so a deciding event within it is never missed.
                        return new PeekResult(buffer, length, string.Create(CultureInfo.InvariantCulture, $"no output within the first {limits.MaxResponseBytes} bytes of the stream (MaxResponseBytes)"), null);
                    }

                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(capacity * 2L, limits.MaxResponseBytes));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                    capacity = Math.Min(buffer.Length, limits.MaxResponseBytes);
                }

                var read = synchronous
                    ? SynchronousRead.Read(stream, buffer.AsSpan(length, capacity - length), cancellationToken)
                    : await stream.ReadAsync(buffer.AsMemory(length, capacity - length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    observer.Complete();
                    return Judge(buffer, length, ref observer, ended: true);
                }

                observer.Observe(buffer.AsSpan(length, read));
                length += read;
                if (observer.FirstSignal != StreamSignal.None)
                {
                    return Judge(buffer, length, ref observer, ended: false);
                }
            }
        }
        finally
        {
            observer?.Dispose();
        }
    }

    // Every event read so far decides: none of them has reached the caller yet.
    private static PeekResult Judge(byte[] buffer, int length, ref SseUsageObserver? observer, bool ended)
    {
        var seen = observer!;
        switch (seen.FirstSignal)
        {
            case StreamSignal.Output or StreamSignal.Done:
                // A problem after the first output (in the same read) must surface when the caller reads it, as the
                // committed stream observes it: then the stream observes the buffered bytes again itself.
                if (!seen.EventTooLarge && !seen.Malformed && seen.ErrorEvent is null && !ended)
                {
                    observer = null;
                    return new PeekResult(buffer, length, null, null, seen);
                }

                return new PeekResult(buffer, length, null, null);
            case StreamSignal.Error:
                return new PeekResult(buffer, length, "the stream sent an error event before any output", seen.ErrorEvent);
            case StreamSignal.Malformed:
                return new PeekResult(buffer, length, "the stream sent a malformed event before any output", null);
            case StreamSignal.TooLarge:
                return new PeekResult(buffer, length, string.Create(CultureInfo.InvariantCulture, $"the stream sent an event larger than MaxStreamEventBytes ({seen.MaxEventBytes} bytes) before any output"), null);
            default:
                return ended && seen.Events == 0
                    ? new PeekResult(buffer, length, "the stream ended before its first event", null)
                    : new PeekResult(buffer, length, "the stream ended without output or its end marker", null);
        }
    }
}
