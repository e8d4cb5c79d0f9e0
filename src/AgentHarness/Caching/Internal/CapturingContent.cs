using System.Net;
using System.Runtime.CompilerServices;

namespace AgentHarness.Caching.Internal;

/// <summary>
/// A streamed answer on its way to the caller, copied as the caller reads it so that the cache can store it once it
/// has ended whole. The copy stops (and the answer is not stored) past the entry size cap.
/// </summary>
/// <remarks>
/// It sits above the harness's observed stream: by the time that stream ends the call (on the read that finds the end,
/// or when the caller disposes it after <c>[DONE]</c>), every byte the caller was given has been copied.
/// </remarks>
internal sealed class CapturingContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly Capture _capture;

    public CapturingContent(HttpContent inner, Capture capture)
    {
        _inner = inner;
        _capture = capture;
        Http.Internal.HeaderCopy.AddContentHeaders(this, inner, withLength: true);
    }

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken) =>
        new CapturingStream(_inner.ReadAsStream(cancellationToken), _capture);

    protected override async Task<Stream> CreateContentReadStreamAsync() =>
        new CapturingStream(await _inner.ReadAsStreamAsync().ConfigureAwait(false), _capture);

    protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
        new CapturingStream(await _inner.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), _capture);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        await using var source = await CreateContentReadStreamAsync(cancellationToken).ConfigureAwait(false);
        await source.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>The bytes copied so far, up to a cap.</summary>
    internal sealed class Capture(int maxBytes)
    {
        private readonly MemoryStream _bytes = new();
        private readonly Lock _gate = new();

        /// <summary>Gets a value indicating whether the answer outgrew the cap: it is not stored.</summary>
        public bool Overflowed { get; private set; }

        public void Add(ReadOnlySpan<byte> bytes)
        {
            lock (_gate)
            {
                if (Overflowed || bytes.IsEmpty)
                {
                    return;
                }

                if (_bytes.Length + bytes.Length > maxBytes)
                {
                    Overflowed = true;
                    _bytes.SetLength(0);
                    return;
                }

                _bytes.Write(bytes);
            }
        }

        public ReadOnlySpan<byte> Bytes()
        {
            lock (_gate)
            {
                return _bytes.GetBuffer().AsSpan(0, (int)_bytes.Length);
            }
        }
    }

    private sealed class CapturingStream(Stream inner, Capture capture) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var read = inner.Read(buffer);
            capture.Add(buffer[..read]);
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            capture.Add(buffer.Span[..read]);
            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }
}
