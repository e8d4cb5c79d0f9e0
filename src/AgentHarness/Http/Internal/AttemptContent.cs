using System.Net;

namespace AgentHarness.Http.Internal;

/// <summary>
/// The body of one attempt. It notes when the transport starts writing it: until then nothing of
/// the request has left the process, so a caller who cancels before that is charged nothing.
/// </summary>
internal sealed class AttemptContent(byte[] body) : ByteArrayContent(body)
{
    private int _started;

    /// <summary>Gets a value indicating whether the transport has started writing (or reading) the body.</summary>
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
