namespace AgentHarness.Testing;

/// <summary>Serves HTTP requests from a <see cref="SandboxProvider"/> in process, without sockets.</summary>
internal sealed class SandboxHttpHandler(SandboxProvider provider) : HttpMessageHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        provider.HandleAsync(request, cancellationToken);

    // Synchronous client calls (such as ChatClient.CompleteChat) arrive here; the sandbox has no synchronous path of its own.
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) =>
        provider.HandleAsync(request, cancellationToken).GetAwaiter().GetResult();
}
