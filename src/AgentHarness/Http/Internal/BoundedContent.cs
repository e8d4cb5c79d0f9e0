using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace AgentHarness.Http.Internal;

/// <summary>
/// Reads a whole response body, but never more than a limit: an answer that declares a larger
/// <c>Content-Length</c> is refused before a byte is read, and one that turns out larger (chunked,
/// or decompressed from a small gzip body) stops being read one byte past the limit. Either way a
/// <see cref="BodyTooLargeException"/> names the limit, and what the read allocated stays within
/// about three times it.
/// </summary>
internal static class BoundedContent
{
    /// <summary>The option that sets the limit of a whole answer, as messages name it.</summary>
    public const string Setting = "MaxResponseBytes";

    // A typical answer fits in the first buffer; larger ones double up to the limit.
    private const int InitialBufferBytes = 16 * 1024;

    /// <summary>Reads the body whole.</summary>
    /// <param name="content">The body.</param>
    /// <param name="maxBytes">The most bytes it may have.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The body's bytes.</returns>
    /// <exception cref="BodyTooLargeException">The body has more than <paramref name="maxBytes"/> bytes.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<byte[]> ReadAsync(HttpContent content, int maxBytes, CancellationToken cancellationToken) =>
        Copy(await ReadPooledAsync(content, maxBytes, cancellationToken).ConfigureAwait(false));

    /// <summary>Reads the body whole into a pooled buffer, which the caller then owns (and returns to <see cref="ArrayPool{T}.Shared"/>).</summary>
    /// <param name="content">The body.</param>
    /// <param name="maxBytes">The most bytes it may have.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The buffer, rented from <see cref="ArrayPool{T}.Shared"/>, and how many of its bytes are the body.</returns>
    /// <exception cref="BodyTooLargeException">The body has more than <paramref name="maxBytes"/> bytes.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<(byte[] Buffer, int Length)> ReadPooledAsync(HttpContent content, int maxBytes, CancellationToken cancellationToken)
    {
        var accumulator = new Accumulator(DeclaredLength(content, maxBytes), maxBytes);
        try
        {
            var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                while (true)
                {
                    var read = await stream.ReadAsync(accumulator.Window(), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return accumulator.Detach();
                    }

                    accumulator.Advance(read);
                }
            }
        }
        finally
        {
            accumulator.Dispose();
        }
    }

    /// <summary>Reads the body whole into a pooled buffer, on the calling thread; the caller then owns the buffer.</summary>
    /// <param name="content">The body.</param>
    /// <param name="maxBytes">The most bytes it may have.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The buffer, rented from <see cref="ArrayPool{T}.Shared"/>, and how many of its bytes are the body.</returns>
    /// <exception cref="BodyTooLargeException">The body has more than <paramref name="maxBytes"/> bytes.</exception>
    public static (byte[] Buffer, int Length) ReadPooled(HttpContent content, int maxBytes, CancellationToken cancellationToken)
    {
        var accumulator = new Accumulator(DeclaredLength(content, maxBytes), maxBytes);
        try
        {
            using var stream = content.ReadAsStream(cancellationToken);
            while (true)
            {
                // A blocking read takes no token: the token closes the stream instead.
                var read = SynchronousRead.Read(stream, accumulator.Window().Span, cancellationToken);
                if (read == 0)
                {
                    return accumulator.Detach();
                }

                accumulator.Advance(read);
            }
        }
        finally
        {
            accumulator.Dispose();
        }
    }

    /// <summary>Reads the body whole, on the calling thread.</summary>
    /// <param name="content">The body.</param>
    /// <param name="maxBytes">The most bytes it may have.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The body's bytes.</returns>
    /// <exception cref="BodyTooLargeException">The body has more than <paramref name="maxBytes"/> bytes.</exception>
    public static byte[] Read(HttpContent content, int maxBytes, CancellationToken cancellationToken) =>
        Copy(ReadPooled(content, maxBytes, cancellationToken));

    /// <summary>An exact copy of a pooled body, whose buffer goes back to the pool.</summary>
    public static byte[] Copy((byte[] Buffer, int Length) body)
    {
        var bytes = body.Buffer.AsSpan(0, body.Length).ToArray();
        ArrayPool<byte>.Shared.Return(body.Buffer);
        return bytes;
    }

    /// <summary>The declared length, checked against the limit; <see langword="null"/> when none is declared.</summary>
    /// <remarks>
    /// Read as the text that arrived: the <see cref="System.Net.Http.Headers.HttpContentHeaders.ContentLength"/> property
    /// would parse and box the value into the headers of every answer, and compute one for a content that declares none.
    /// </remarks>
    private static long? DeclaredLength(HttpContent content, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(content);
        long? declared = content.Headers.NonValidated.TryGetValues("Content-Length", out var values)
            && values.Count == 1
            && long.TryParse(values.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var length)
                ? length
                : null;
        return declared > maxBytes ? throw new BodyTooLargeException(Setting, maxBytes, declared) : declared;
    }

    /// <summary>The bytes read so far, in a pooled buffer that grows up to one byte past the limit.</summary>
    /// <remarks>A struct held in the reading method (or its state machine): every answer is read with one.</remarks>
    private struct Accumulator(long? declared, int maxBytes) : IDisposable
    {
        // One byte past the limit is read so that a body of exactly the limit is told from a larger one.
        private readonly int _capacity = maxBytes + 1;
        private byte[] _buffer = [];
        private int _length;

        /// <summary>Where the next read goes; never past one byte beyond the limit.</summary>
        public Memory<byte> Window()
        {
            if (_length == _buffer.Length)
            {
                // A declared length sizes the buffer at once (plus the byte that shows the end).
                var wanted = _buffer.Length == 0
                    ? (declared is { } length ? (int)length + 1 : InitialBufferBytes)
                    : _buffer.Length * 2L;
                var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(wanted, _capacity));
                _buffer.AsSpan(0, _length).CopyTo(larger);
                Return();
                _buffer = larger;
            }

            return _buffer.AsMemory(_length, Math.Min(_buffer.Length, _capacity) - _length);
        }

        public void Advance(int read)
        {
            _length += read;
            if (_length > maxBytes)
            {
                throw new BodyTooLargeException(Setting, maxBytes, declaredLength: null);
            }
        }

        /// <summary>Hands the buffer over (an empty body gets one too, so the new owner always returns one); <see cref="Dispose"/> then returns nothing.</summary>
        public (byte[] Buffer, int Length) Detach()
        {
            var buffer = _buffer.Length > 0 ? _buffer : ArrayPool<byte>.Shared.Rent(1);
            _buffer = [];
            return (buffer, _length);
        }

        public void Dispose()
        {
            Return();
            _buffer = [];
        }

        private void Return()
        {
            if (_buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
            }
        }
    }
}
