using System.Net;
using System.Net.Http.Headers;

namespace AgentHarness.Tests.Support;

/// <summary>
/// A body that never ends: a prefix, then one pattern over and over. It counts the bytes it handed
/// out, so a test can tell how far a reader went before it stopped.
/// </summary>
internal sealed class EndlessStream(byte[] prefix, byte[] repeat) : Stream
{
    private long _position;

    /// <summary>Gets how many bytes readers have been handed.</summary>
    public long Pulled => Interlocked.Read(ref _position);

    public static (HttpResponseMessage Response, EndlessStream Body) Response(string prefix, string repeat, string mediaType)
    {
        var body = new EndlessStream(System.Text.Encoding.UTF8.GetBytes(prefix), System.Text.Encoding.UTF8.GetBytes(repeat));
        var content = new StreamContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return (new HttpResponseMessage(HttpStatusCode.OK) { Content = content }, body);
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        for (var i = 0; i < buffer.Length; i++)
        {
            var at = _position + i;
            buffer[i] = at < prefix.Length ? prefix[at] : repeat[(at - prefix.Length) % repeat.Length];
        }

        Interlocked.Add(ref _position, buffer.Length);
        return buffer.Length;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(buffer.Span));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>Counts the bytes read through it from another stream.</summary>
internal sealed class CountingStream(Stream inner) : Stream
{
    private long _pulled;

    public long Pulled => Interlocked.Read(ref _pulled);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var read = inner.Read(buffer);
        Interlocked.Add(ref _pulled, read);
        return read;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken);
        Interlocked.Add(ref _pulled, read);
        return read;
    }

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
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>
/// A body cut short as SocketsHttpHandler reports it: its bytes, then the read that finds the connection closed throws
/// <see cref="HttpIOException"/> (<see cref="HttpRequestError.ResponseEnded"/>), as for a <c>Content-Length</c> the
/// body never reached or a chunked body whose connection closed.
/// </summary>
internal sealed class CutStream(byte[] bytes) : Stream
{
    private int _position;

    public static HttpResponseMessage Response(string body, string mediaType)
    {
        var content = new StreamContent(new CutStream(System.Text.Encoding.UTF8.GetBytes(body)));
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return new HttpResponseMessage(HttpStatusCode.OK) { Content = content };
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_position == bytes.Length)
        {
            throw new HttpIOException(HttpRequestError.ResponseEnded, "The response ended prematurely.");
        }

        var count = Math.Min(buffer.Length, bytes.Length - _position);
        bytes.AsSpan(_position, count).CopyTo(buffer);
        _position += count;
        return count;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
