using AgentHarness.Catalog.Internal;
using AgentHarness.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Logging;

namespace AgentHarness.DependencyInjection.Internal;

/// <summary>
/// Puts <see cref="CredentialsHandler"/> directly around the transport of the harness's clients (model calls,
/// management calls, the Requesty usage client), whatever transport the application configured, and turns off
/// automatic redirects on it.
/// </summary>
/// <remarks>
/// <para>
/// A filter rather than a primary handler: an application or a test that replaces the transport
/// (<c>ConfigurePrimaryHttpMessageHandler</c>, the sandbox) keeps the credentials handler, and it is applied after
/// every configuration of the client, so it ends up below the logging handlers the factory adds.
/// </para>
/// <para>
/// A followed redirect would re-send the prompt and its metadata headers to a host nobody configured, and the answer
/// of that host would be recorded as the provider's; the harness treats a 3xx as the candidate's failure instead.
/// </para>
/// </remarks>
internal sealed class CredentialsHandlerFilter : IHttpMessageHandlerBuilderFilter
{
    /// <summary>The names of the clients the harness owns.</summary>
    private static readonly HashSet<string> ClientNames = new(StringComparer.Ordinal)
    {
        DefaultAgentHarness.HttpClientName,
        ModelListClient.ManagementClientName,
        RequestyUsageClient.HttpClientName,
    };

    public Action<HttpMessageHandlerBuilder> Configure(Action<HttpMessageHandlerBuilder> next)
    {
        ArgumentNullException.ThrowIfNull(next);
        return builder =>
        {
            next(builder);
            if (builder.Name is not { } name || !ClientNames.Contains(name))
            {
                return;
            }

            if (name == DefaultAgentHarness.HttpClientName)
            {
                NoLogicalRequestLogs(builder.AdditionalHandlers);
                RequestLogsOnlyWhenEnabled(builder);
            }

            NoRedirects(builder.PrimaryHandler);
            builder.PrimaryHandler = new CredentialsHandler(builder.Services.GetRequiredService<KeyRedactor>(), builder.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<AgentHarnessOptions>>().Value.MaxResponseBytes)
            {
                InnerHandler = builder.PrimaryHandler,
            };
        };
    }

    /// <summary>
    /// Removes the factory's outer logging handler from the model client: it would log every call against the
    /// virtual endpoint, which no request is sent to, and cost the call a log scope and the address as text. The inner
    /// one, which logs each attempt at its provider's address, stays.
    /// </summary>
    private static void NoLogicalRequestLogs(IList<DelegatingHandler> handlers)
    {
        for (var i = handlers.Count - 1; i >= 0; i--)
        {
            if (handlers[i] is Microsoft.Extensions.Http.Logging.LoggingScopeHttpMessageHandler)
            {
                handlers.RemoveAt(i);
            }
        }
    }

    /// <summary>
    /// Puts the factory's inner logging handler, which logs each attempt at its provider's address, behind
    /// <see cref="RequestLogsWhenEnabled"/>: an attempt whose logger logs nothing does not go through it.
    /// </summary>
    private static void RequestLogsOnlyWhenEnabled(HttpMessageHandlerBuilder builder)
    {
        var handlers = builder.AdditionalHandlers;
        for (var i = handlers.Count - 1; i >= 0; i--)
        {
            if (handlers[i] is Microsoft.Extensions.Http.Logging.LoggingHttpMessageHandler { InnerHandler: null } logging)
            {
                // The factory's own category for this handler, so that the same filters decide.
                var logger = builder.Services.GetRequiredService<ILoggerFactory>().CreateLogger($"System.Net.Http.HttpClient.{builder.Name}.ClientHandler");
                handlers[i] = new RequestLogsWhenEnabled(logging, logger);
            }
        }
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
