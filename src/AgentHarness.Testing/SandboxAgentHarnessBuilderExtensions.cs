using Microsoft.Extensions.DependencyInjection;

namespace AgentHarness.Testing;

/// <summary>Puts a harness on a <see cref="SandboxProvider"/>, for offline runs and tests.</summary>
public static class SandboxAgentHarnessBuilderExtensions
{
    /// <summary>The base address of the gateway <see cref="AddSandboxGateway"/> adds; it never resolves, the sandbox answers in process.</summary>
    public static readonly Uri SandboxBaseUrl = new("https://sandbox.agentharness.invalid/v1");

    /// <summary>
    /// Sends every request of the harness to the sandbox instead of the network, whatever provider
    /// it was routed to. Routing, credentials and metadata still apply, so the sandbox's
    /// <see cref="SandboxProvider.Requests"/> show what each provider would have received.
    /// </summary>
    /// <param name="builder">The harness builder.</param>
    /// <param name="sandbox">The sandbox that answers.</param>
    /// <returns>The builder, to chain calls.</returns>
    public static IAgentHarnessBuilder UseSandbox(this IAgentHarnessBuilder builder, SandboxProvider sandbox)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(sandbox);
        return builder.ConfigureHttpClient(client => client.ConfigurePrimaryHttpMessageHandler(sandbox.CreateHandler));
    }

    /// <summary>
    /// Adds a gateway provider served by the sandbox (no key needed) and sends every request of the
    /// harness to the sandbox (see <see cref="UseSandbox"/>). Model ids of providers that are not
    /// configured, such as <c>openai/gpt-4.1-nano</c> or <c>policy/claude-4</c>, reach the sandbox
    /// with their full id, as they would reach a real gateway.
    /// </summary>
    /// <param name="builder">The harness builder.</param>
    /// <param name="sandbox">The sandbox that answers.</param>
    /// <param name="name">The provider's name.</param>
    /// <param name="metadataHeaderPrefix">The prefix of the metadata headers the sandbox receives, or <see langword="null"/> for none.</param>
    /// <returns>The builder, to chain calls.</returns>
    public static IAgentHarnessBuilder AddSandboxGateway(this IAgentHarnessBuilder builder, SandboxProvider sandbox, string name = "sandbox", string? metadataHeaderPrefix = "X-Requesty-")
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(sandbox);
        builder.AddProvider(name, provider =>
        {
            provider.BaseUrl = SandboxBaseUrl;
            provider.RequiresApiKey = false;
            provider.IsGateway = true;
            provider.MetadataHeaderPrefix = metadataHeaderPrefix;
        });
        return builder.UseSandbox(sandbox);
    }
}
