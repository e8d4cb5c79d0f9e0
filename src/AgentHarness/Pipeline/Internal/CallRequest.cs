using System.Net.Http.Headers;
using AgentHarness.Http.Internal;

namespace AgentHarness.Pipeline.Internal;

/// <summary>
/// What one logical call asks for: its operation, the model id the caller asked for, whether it streams, and its body,
/// which is read only when a stage needs it.
/// </summary>
/// <remarks>
/// A request from a client the harness handed out comes with its route (<see cref="CallRequest.FromClient"/>): the
/// official client wrote the body for that route, so nothing in it has to be read to route, tag or record the call, and
/// its content can be sent as it is. Any other request (the root client's, a protocol method's own body) is read and
/// parsed once when the call starts (<see cref="CallRequest.FromBody"/>).
/// </remarks>
internal sealed class CallRequest
{
    private HttpContent? _content;
    private byte[]? _bytes;
    private RequestBody? _body;
    private byte[]? _rewritten;
    private string? _rewrittenModel;

    // The official client's headers and version as they were before its request left as the first attempt (a reused
    // context keeps the list, so keeping them allocates nothing); a version set means they were kept.
    private List<KeyValuePair<string, HeaderStringValues>>? _headers;
    private Version? _version;
    private HttpVersionPolicy _versionPolicy;

    private CallRequest(HttpRequestMessage message, string relativePath, string operation, string? model, string? bodyModel, bool stream, HttpContent? content, byte[]? bytes, RequestBody? body) =>
        Set(message, relativePath, operation, model, bodyModel, stream, content, bytes, body);

    /// <summary>A description to be set by <see cref="ForClient"/>, owned by a context that is reused (<see cref="CallContext.OwnRequest"/>).</summary>
    internal CallRequest()
    {
    }

    /// <summary>Gets the request the official client sent.</summary>
    public HttpRequestMessage Message { get; private set; } = null!;

    /// <summary>Gets the path and query below the virtual endpoint, for example <c>/chat/completions</c>.</summary>
    public string RelativePath { get; private set; } = null!;

    /// <summary>Gets the operation, for example <c>chat/completions</c>.</summary>
    public string Operation { get; private set; } = null!;

    /// <summary>Gets the model id the caller asked for, or <see langword="null"/> when the request names none.</summary>
    public string? Model { get; private set; }

    /// <summary>Gets the <c>model</c> the body names as written, which an attempt to another model rewrites.</summary>
    public string? BodyModel { get; private set; }

    /// <summary>Gets a value indicating whether the request asks for a stream.</summary>
    public bool Stream { get; private set; }

    /// <summary>Gets a value indicating whether the request has a body.</summary>
    public bool HasContent => Message.Content is not null;

    /// <summary>
    /// Gets the official client's own content when it may be sent to a candidate as it is (it can be written again for
    /// each attempt), or <see langword="null"/> when attempts carry the bytes read at the start.
    /// </summary>
    public HttpContent? ReusableContent => _content;

    /// <summary>Gets the body's bytes, read from the official client's content the first time they are needed.</summary>
    public byte[] Bytes => _bytes ?? ReadContent();

    /// <summary>Gets the parts of the body the stages need (limits, answer count), parsed the first time they are needed.</summary>
    public RequestBody Body => _body ??= _content is null && _bytes is null ? RequestBody.Empty : RequestBody.ParseWellFormed(Bytes);

    /// <summary>Returns the body with its <c>model</c> replaced by <paramref name="model"/>; the last one is kept, as retries reuse it.</summary>
    public byte[] BodyFor(string model)
    {
        if (!string.Equals(_rewrittenModel, model, StringComparison.Ordinal))
        {
            _rewritten = Body.WithModel(model);
            _rewrittenModel = model;
        }

        return _rewritten!;
    }

    /// <summary>A request whose body was read and parsed when the call started.</summary>
    public static CallRequest FromBody(HttpRequestMessage message, string relativePath, string operation, RequestBody body) =>
        new(message, relativePath, operation, body.Model, body.Model, body.Stream, null, body.Bytes, body);

    /// <summary>A request from a client the harness handed out, whose route it carries: its body is the official client's own.</summary>
    /// <param name="message">The request.</param>
    /// <param name="relativePath">The path below the virtual endpoint.</param>
    /// <param name="operation">The operation.</param>
    /// <param name="model">The id the client was asked for.</param>
    /// <param name="bodyModel">The model the client writes into its bodies.</param>
    /// <param name="stream">Whether the client asked for a stream.</param>
    public static CallRequest FromClient(HttpRequestMessage message, string relativePath, string operation, string model, string bodyModel, bool stream) =>
        new(message, relativePath, operation, model, bodyModel, stream, message.Content, null, null);

    /// <summary>Describes, in this object, a request of a client the harness handed out (as <see cref="FromClient"/> does in a new one).</summary>
    /// <returns>This object.</returns>
    public CallRequest ForClient(HttpRequestMessage message, string relativePath, string operation, string model, string bodyModel, bool stream)
    {
        Set(message, relativePath, operation, model, bodyModel, stream, message.Content, null, null);
        return this;
    }

    /// <summary>Gets the HTTP version the official client asked for, as it was before its request left as the first attempt.</summary>
    public Version Version => _version ?? Message.Version;

    /// <summary>Gets the version policy the official client asked for, as it was before its request left as the first attempt.</summary>
    public HttpVersionPolicy VersionPolicy => _version is not null ? _versionPolicy : Message.VersionPolicy;

    /// <summary>
    /// Keeps the official client's headers (and HTTP version) as they are now, before its own request leaves as the
    /// first attempt: the handlers below the harness (the application's, the transport's tracing) add theirs to that
    /// request, and a later attempt starts from what the client wrote, not from what the first attempt carried.
    /// </summary>
    public void KeepHeaders()
    {
        _version = Message.Version;
        _versionPolicy = Message.VersionPolicy;
        var kept = _headers ??= [];
        kept.Clear();
        foreach (var header in Message.Headers.NonValidated)
        {
            // A header's values are taken as they are now: adding to the request later does not change them.
            kept.Add(header);
        }
    }

    /// <summary>Adds the official client's headers to a later attempt: those kept before the first attempt left, or the request's own.</summary>
    public void CopyHeadersTo(HttpRequestHeaders target)
    {
        if (_version is not null)
        {
            foreach (var header in _headers!)
            {
                HeaderCopy.Add(target, header);
            }

            return;
        }

        // NonValidated: copying must neither parse nor allocate the header values.
        foreach (var header in Message.Headers.NonValidated)
        {
            HeaderCopy.Add(target, header);
        }
    }

    /// <summary>Lets go of the last call's request and bodies.</summary>
    internal void Clear() => Set(null!, null!, null!, null, null, false, null, null, null);

    private void Set(HttpRequestMessage message, string relativePath, string operation, string? model, string? bodyModel, bool stream, HttpContent? content, byte[]? bytes, RequestBody? body)
    {
        Message = message;
        RelativePath = relativePath;
        Operation = operation;
        Model = model;
        BodyModel = bodyModel;
        Stream = stream;
        _content = content;
        _bytes = bytes;
        _body = body;
        _rewritten = null;
        _rewrittenModel = null;
        _headers?.Clear();
        _version = null;
    }

    /// <summary>
    /// Reads the official client's content, which it holds in memory: no read waits, so this is done on the calling
    /// thread, for a synchronous call and an asynchronous one alike.
    /// </summary>
    private byte[] ReadContent()
    {
        if (_content is null)
        {
            return _bytes = [];
        }

        if (_content.Headers.ContentLength is { } length and <= int.MaxValue)
        {
            var bytes = new byte[length];
            using var exact = new MemoryStream(bytes, writable: true);
            try
            {
                _content.CopyTo(exact, null, CancellationToken.None);
                if (exact.Position == length)
                {
                    return _bytes = bytes;
                }
            }
            catch (NotSupportedException)
            {
                // The content wrote more than it declared: read it without a fixed size below.
            }
        }

        using var any = new MemoryStream();
        _content.CopyTo(any, null, CancellationToken.None);
        return _bytes = any.ToArray();
    }
}
