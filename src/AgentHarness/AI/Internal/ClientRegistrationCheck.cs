using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AgentHarness.AI.Internal;

/// <summary>
/// At the host's start, routes the model id of every keyed client registered from the harness builder, so that an id
/// no provider or policy can serve fails the start with the registration and the bad value, not the first call.
/// </summary>
/// <remarks>Without a host the same error surfaces when the client is first resolved.</remarks>
internal sealed class ClientRegistrationCheck(IServiceProvider services, IEnumerable<ClientRegistration> registrations) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var harness = services.GetRequiredService<IAgentHarness>();
        foreach (var registration in registrations)
        {
            Route(harness, registration);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Gets the registration's official client, or throws an error that names the registration.</summary>
    public static object Route(IAgentHarness harness, ClientRegistration registration)
    {
        try
        {
            return registration.Embeddings ? harness.GetEmbeddingClient(registration.Model) : harness.GetChatClient(registration.Model);
        }
        catch (UnroutableModelException e)
        {
            throw new InvalidOperationException($"{registration.Setting}: the model id '{registration.Model}' cannot be routed: {e.Message}", e);
        }
    }
}
