using Microsoft.Extensions.Options;

namespace AgentHarness.Testing.Internal;

/// <summary>Lets the providers the sandbox answers start without a key or an access token: nothing is sent to them but the sandbox.</summary>
internal sealed class SandboxKeyWaiver(SandboxAssignments assignments) : IPostConfigureOptions<AgentHarnessOptions>
{
    public void PostConfigure(string? name, AgentHarnessOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (var (provider, settings) in options.Providers)
        {
            if (settings is not null && assignments.Covers(provider))
            {
                settings.RequiresApiKey = false;
                if (settings.Authentication == ProviderAuthentication.Token)
                {
                    // No token is fetched for a provider nothing is sent to: an offline run must not reach an identity endpoint.
                    settings.Authentication = ProviderAuthentication.Bearer;
                    settings.TokenScope = null;
                }
            }
        }
    }
}
