using System.Net;

namespace AgentHarness.Benchmarks;

/// <summary>
/// The transport under both clients of a benchmark: answers every request at once with a fresh
/// response over the same static body, without sockets, and without reading the request unless
/// <c>drainRequest</c> asks it to write the body out as a socket transport would. It also
/// counts the requests that carried the run's metadata headers, so a harness benchmark can prove
/// that it measured the metadata path.
/// </summary>
internal sealed class CannedHandler(byte[] body, string mediaType, bool drainRequest = false) : HttpMessageHandler
{
    private long _requests;
    private long _withMetadata;

    public long Requests => Interlocked.Read(ref _requests);

    public long WithMetadata => Interlocked.Read(ref _withMetadata);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        Task.FromResult(Respond(request));

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) =>
        Respond(request);

    private HttpResponseMessage Respond(HttpRequestMessage request)
    {
        Interlocked.Increment(ref _requests);
        if (drainRequest)
        {
            // What a socket transport does: the client serializes its body, the transport writes it out.
            request.Content?.CopyTo(Stream.Null, null, CancellationToken.None);
        }

        var headers = request.Headers.NonValidated;
        if (headers.Contains(HarnessSetup.MetadataHeaderPrefix + "Agent") && headers.Contains(HarnessSetup.MetadataHeaderPrefix + "Task"))
        {
            Interlocked.Increment(ref _withMetadata);
        }

        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", mediaType);
        return new HttpResponseMessage(HttpStatusCode.OK) { Content = content, RequestMessage = request };
    }
}
