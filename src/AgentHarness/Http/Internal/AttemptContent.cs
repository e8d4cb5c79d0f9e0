using System.Net;

namespace AgentHarness.Http.Internal;

/// <summary>
/// The body of one attempt, which notes when the transport starts writing it: until then nothing of the request has
/// left the process, so a caller who cancels before that is charged nothing.
/// </summary>
internal interface IAttemptBody
{
    /// <summary>Gets a value indicating whether the transport has started writing (or reading) the body.</summary>
    bool Started { get; }
}

/// <summary>An attempt's body from bytes: the caller's body rewritten for a candidate (its model, an output limit).</summary>
internal sealed class AttemptContent(byte[] body) : ByteArrayContent(body), IAttemptBody
{
    private int _started;

    /// <inheritdoc/>
    public bool Started => Volatile.Read(ref _started) != 0;

    protected override void SerializeToStream(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        MarkStarted();
        base.SerializeToStream(stream, context, cancellationToken);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        MarkStarted();
        return base.SerializeToStreamAsync(stream, context);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        MarkStarted();
        return base.SerializeToStreamAsync(stream, context, cancellationToken);
    }

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken)
    {
        MarkStarted();
        return base.CreateContentReadStream(cancellationToken);
    }

    protected override Task<Stream> CreateContentReadStreamAsync()
    {
        MarkStarted();
        return base.CreateContentReadStreamAsync();
    }

    private void MarkStarted() => Volatile.Write(ref _started, 1);
}

/// <summary>
/// An attempt's body that is the official client's own content, sent as it is: the client holds it in memory and can
/// write it again for each attempt, so it is neither read nor copied by the harness. The content stays the client's:
/// disposing an attempt does not dispose it.
/// </summary>
internal sealed class ForwardedContent : HttpContent, IAttemptBody
{
    private readonly HttpContent _inner;
    private int _started;

    public ForwardedContent(HttpContent inner)
    {
        _inner = inner;

        // The length is the inner content's, computed when asked.
        HeaderCopy.AddContentHeaders(this, inner);
    }

    /// <inheritdoc/>
    public bool Started => Volatile.Read(ref _started) != 0;

    protected override void SerializeToStream(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        MarkStarted();
        _inner.CopyTo(stream, context, cancellationToken);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        MarkStarted();
        return _inner.CopyToAsync(stream, context);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        MarkStarted();
        return _inner.CopyToAsync(stream, context, cancellationToken);
    }

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken)
    {
        MarkStarted();
        return _inner.ReadAsStream(cancellationToken);
    }

    protected override Task<Stream> CreateContentReadStreamAsync()
    {
        MarkStarted();
        return _inner.ReadAsStreamAsync();
    }

    protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken)
    {
        MarkStarted();
        return _inner.ReadAsStreamAsync(cancellationToken);
    }

    protected override bool TryComputeLength(out long length)
    {
        var declared = _inner.Headers.ContentLength;
        length = declared ?? 0;
        return declared is not null;
    }

    private void MarkStarted() => Volatile.Write(ref _started, 1);
}
