namespace AgentHarness.Testing.Internal;

/// <summary>
/// The transport of the harness's clients under <c>UseSandbox</c>: a request for a sandboxed provider is answered by its
/// sandbox in process and never reaches the inner (real) transport; any other request goes on to it.
/// </summary>
internal sealed class SandboxRoutingHandler(SandboxRoutes routes) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        routes.For(request) is { } sandbox ? sandbox.HandleAsync(request, cancellationToken) : base.SendAsync(request, cancellationToken);

    // Synchronous client calls arrive here; the sandbox has no synchronous path of its own.
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) =>
        routes.For(request) is { } sandbox
            ? sandbox.HandleAsync(request, cancellationToken).GetAwaiter().GetResult()
            : base.Send(request, cancellationToken);
}
