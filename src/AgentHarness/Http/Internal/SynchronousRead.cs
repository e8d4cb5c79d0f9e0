namespace AgentHarness.Http.Internal;

/// <summary>
/// Blocking reads for synchronous client calls, which must not wait on another pool thread. A
/// synchronous <see cref="Stream.Read(Span{byte})"/> takes no token, so the token closes the stream
/// instead, and a read it interrupted surfaces as the cancellation it was.
/// </summary>
internal static class SynchronousRead
{
    /// <summary>Reads a whole body on the calling thread.</summary>
    public static byte[] ReadAll(HttpContent content, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var stream = content.ReadAsStream(cancellationToken);
        if (stream is MemoryStream { Position: 0 } memory)
        {
            // Buffered content (the official client's request body, a test's canned answer): no copy of a copy.
            return memory.ToArray();
        }

        using var registration = cancellationToken.Register(static s => ((Stream)s!).Dispose(), stream);
        using var target = new MemoryStream();
        try
        {
            stream.CopyTo(target);
        }
        catch (Exception ex) when (cancellationToken.IsCancellationRequested && ex is not OperationCanceledException)
        {
            throw new OperationCanceledException("The read was cancelled.", ex, cancellationToken);
        }

        return target.ToArray();
    }

    /// <summary>Reads what has arrived, up to <paramref name="buffer"/>'s length, on the calling thread.</summary>
    public static int Read(Stream stream, Span<byte> buffer, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var registration = cancellationToken.Register(static s => ((Stream)s!).Dispose(), stream);
        try
        {
            return stream.Read(buffer);
        }
        catch (Exception ex) when (cancellationToken.IsCancellationRequested && ex is not OperationCanceledException)
        {
            throw new OperationCanceledException("The read was cancelled.", ex, cancellationToken);
        }
    }
}
