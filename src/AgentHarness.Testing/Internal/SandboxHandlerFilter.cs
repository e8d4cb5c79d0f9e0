using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace AgentHarness.Testing.Internal;

/// <summary>
/// Puts <see cref="SandboxRoutingHandler"/> over the transport of the harness's model calls and of its model lists, so
/// that no request for a sandboxed provider leaves the process, whichever of the two clients sends it.
/// </summary>
/// <remarks>
/// A filter rather than <c>ConfigurePrimaryHttpMessageHandler</c>: it runs after every configuration of the client, so
/// a transport configured later (a test's mock, the application's own handler) still ends up under the router, as the
/// transport of the providers the sandbox does not answer. The harness's credentials filter was registered before this
/// one, so it wraps the router: the sandbox receives each provider's key as that provider would.
/// </remarks>
internal sealed class SandboxHandlerFilter(SandboxAssignments assignments) : IHttpMessageHandlerBuilderFilter
{
    // The harness's model-call and management clients (AgentHarness.Internal.DefaultAgentHarness.HttpClientName and
    // AgentHarness.Catalog.Internal.ModelListClient.ManagementClientName). The Requesty usage client is left alone: its
    // API is not OpenAI's, so the sandbox cannot answer it.
    private static readonly string[] ClientNames = ["AgentHarness", "AgentHarness.Management"];

    public Action<HttpMessageHandlerBuilder> Configure(Action<HttpMessageHandlerBuilder> next)
    {
        ArgumentNullException.ThrowIfNull(next);
        return builder =>
        {
            next(builder);
            if (builder.Name is not { } name || Array.IndexOf(ClientNames, name) < 0)
            {
                return;
            }

            var providers = builder.Services.GetRequiredService<IOptions<AgentHarnessOptions>>().Value.Providers.Keys;
            var transport = builder.PrimaryHandler;

            // The credentials filter turns redirects off on the transport it sees, which is now the router.
            NoRedirects(transport);
            builder.PrimaryHandler = new SandboxRoutingHandler(assignments.Resolve(builder.Services, providers)) { InnerHandler = transport };
        };
    }

    private static void NoRedirects(HttpMessageHandler transport)
    {
        try
        {
            switch (transport)
            {
                case SocketsHttpHandler { AllowAutoRedirect: true } sockets:
                    sockets.AllowAutoRedirect = false;
                    break;
                case HttpClientHandler { AllowAutoRedirect: true } client:
                    client.AllowAutoRedirect = false;
                    break;
            }
        }
        catch (InvalidOperationException)
        {
            // A transport the application shares and has used already cannot be changed; its redirects are its own.
        }
    }
}
