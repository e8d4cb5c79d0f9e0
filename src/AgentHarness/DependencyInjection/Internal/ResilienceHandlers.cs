using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;

namespace AgentHarness.DependencyInjection.Internal;

/// <summary>Keeps application-wide resilience handlers off the harness's own clients.</summary>
internal static class ResilienceHandlers
{
    /// <summary>
    /// Removes every resilience handler added to all clients (<c>ConfigureHttpClientDefaults</c>, as
    /// service defaults templates do) from this client, so that its requests are retried and timed out
    /// by the one policy the harness chose, never by two nested ones.
    /// </summary>
    public static IHttpClientBuilder RemoveApplicationWide(IHttpClientBuilder client) =>
        client.ConfigureAdditionalHttpMessageHandlers(static (handlers, _) =>
        {
            for (var i = handlers.Count - 1; i >= 0; i--)
            {
                if (handlers[i] is ResilienceHandler)
                {
                    handlers.RemoveAt(i);
                }
            }
        });
}
