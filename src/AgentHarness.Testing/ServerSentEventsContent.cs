using System.Net;
using System.Net.Http.Headers;

namespace AgentHarness.Testing;

/// <summary>
/// A <c>text/event-stream</c> body whose events are produced only as the reader asks for them, so a reader sees each
/// event as it is sent and a cut stream really ends early rather than after a buffered whole.
/// </summary>
internal sealed class ServerSentEventsContent : HttpContent
{
    private readonly IEnumerable<byte[]> events;

    public ServerSentEventsContent(IEnumerable<byte[]> events)
    {
        this.events = events;
        Headers.ContentType = new MediaTypeHeaderValue("text/event-stream") { CharSet = "utf-8" };
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        foreach (var data in events)
        {
            await stream.WriteAsync(data, cancellationToken).ConfigureAwait(false);

            // A server adapter writing to a socket must not hold events back in its buffers.
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    protected override void SerializeToStream(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        foreach (var data in events)
        {
            cancellationToken.ThrowIfCancellationRequested();
            stream.Write(data);
            stream.Flush();
        }
    }

    // HttpContent's default read stream buffers the whole body first; this one hands out events one by one instead.
    protected override Task<Stream> CreateContentReadStreamAsync() => Task.FromResult<Stream>(new EventStream(events));

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken) => new EventStream(events);

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    /// <summary>A read-only stream that returns at most one event per read, producing the next event only when asked.</summary>
    private sealed class EventStream(IEnumerable<byte[]> events) : Stream
    {
        private readonly IEnumerator<byte[]> enumerator = events.GetEnumerator();
        private ReadOnlyMemory<byte> pending;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(Span<byte> buffer)
        {
            if (buffer.IsEmpty)
            {
                return 0;
            }

            while (pending.IsEmpty)
            {
                if (!enumerator.MoveNext())
                {
                    return 0;
                }

                pending = enumerator.Current;
            }

            var count = Math.Min(buffer.Length, pending.Length);
            pending.Span[..count].CopyTo(buffer);
            pending = pending[count..];
            return count;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            cancellationToken.IsCancellationRequested
                ? ValueTask.FromCanceled<int>(cancellationToken)
                : ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

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
                enumerator.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
