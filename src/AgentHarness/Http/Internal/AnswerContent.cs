using System.Buffers;
using System.Net;

namespace AgentHarness.Http.Internal;

/// <summary>
/// A whole answer as the transport stage read it, in the pooled buffer it was read into, handed to the official client
/// without a copy: the client reads it once (it buffers the answer itself), and the buffer goes back to the pool when
/// that read ends, or when the content is disposed unread.
/// </summary>
/// <remarks>
/// <para>
/// Like the body of a socket, it can be read once: by one stream (<see cref="HttpContent.ReadAsStream()"/> and the
/// like) or one copy (<see cref="HttpContent.CopyTo(Stream, TransportContext?, CancellationToken)"/>, which the
/// <c>ReadAs...</c> methods use). A second read finds the first one's stream at its end, or fails; it never sees a buffer
/// the pool has handed to someone else.
/// </para>
/// <para>
/// The harness reads the answer (<see cref="Memory"/>) only while the call runs, before the content is handed on.
/// </para>
/// </remarks>
internal sealed class AnswerContent : HttpContent
{
    private const int Unread = 0;
    private const int Reading = 1;
    private const int Released = 2;

    private readonly byte[] _buffer;
    private readonly int _length;
    private int _state;

    /// <param name="pooled">The buffer the answer was read into, rented from <see cref="ArrayPool{T}.Shared"/>; this content returns it.</param>
    /// <param name="length">How many of its bytes are the answer.</param>
    public AnswerContent(byte[] pooled, int length)
    {
        _buffer = pooled;
        _length = length;
    }

    /// <summary>Gets the answer's bytes; valid until the content has been read or disposed.</summary>
    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, _length);

    protected override bool TryComputeLength(out long length)
    {
        length = _length;
        return true;
    }

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken) => Open();

    protected override Task<Stream> CreateContentReadStreamAsync() => Task.FromResult<Stream>(Open());

    protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) => Task.FromResult<Stream>(Open());

    protected override void SerializeToStream(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        Take();
        try
        {
            stream.Write(_buffer, 0, _length);
        }
        finally
        {
            Release();
        }
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        Take();
        try
        {
            await stream.WriteAsync(_buffer.AsMemory(0, _length), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Release();
        }
    }

    protected override void Dispose(bool disposing)
    {
        // Unread: nobody holds the buffer. Being read: the reader gives it back when it is done.
        if (disposing && Interlocked.CompareExchange(ref _state, Released, Unread) == Unread)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        base.Dispose(disposing);
    }

    private AnswerStream Open()
    {
        Take();
        return new AnswerStream(this);
    }

    private void Take()
    {
        if (Interlocked.CompareExchange(ref _state, Reading, Unread) != Unread)
        {
            throw new InvalidOperationException("The answer's content can be read once, and it has been read (or disposed).");
        }
    }

    private void Release()
    {
        if (Interlocked.CompareExchange(ref _state, Released, Reading) == Reading)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }
    }

    /// <summary>The one read of the answer: it gives the buffer back at its end, or when it is disposed before.</summary>
    private sealed class AnswerStream(AnswerContent content) : Stream
    {
        private int _position;
        private bool _done;

        public override bool CanRead => !_done;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_done)
            {
                return 0;
            }

            var count = Math.Min(buffer.Length, content._length - _position);
            content._buffer.AsSpan(_position, count).CopyTo(buffer);
            _position += count;
            if (_position == content._length && count < buffer.Length)
            {
                // The end, seen by a read that asked for more: nothing will read the buffer again.
                End();
            }

            return count;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            cancellationToken.IsCancellationRequested ? Task.FromCanceled<int>(cancellationToken) : Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            cancellationToken.IsCancellationRequested ? ValueTask.FromCanceled<int>(cancellationToken) : new(Read(buffer.Span));

        public override void CopyTo(Stream destination, int bufferSize)
        {
            ArgumentNullException.ThrowIfNull(destination);
            if (!_done)
            {
                destination.Write(content._buffer, _position, content._length - _position);
                End();
            }
        }

        public override async Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(destination);
            if (!_done)
            {
                try
                {
                    await destination.WriteAsync(content._buffer.AsMemory(_position, content._length - _position), cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    End();
                }
            }
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            End();
            base.Dispose(disposing);
        }

        private void End()
        {
            if (!_done)
            {
                _done = true;
                _position = content._length;
                content.Release();
            }
        }
    }
}
