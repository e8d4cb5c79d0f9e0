using Microsoft.Extensions.Options;

namespace AgentHarness.Configuration.Internal;

/// <summary>Fills an empty <see cref="ProviderOptions.ApiKey"/> from the environment variable the provider names.</summary>
internal sealed class ApiKeyFromEnvironment : IPostConfigureOptions<AgentHarnessOptions>
{
    public void PostConfigure(string? name, AgentHarnessOptions options)
    {
        foreach (var provider in options.Providers.Values)
        {
            if (provider is { ApiKeyEnvironmentVariable: { Length: > 0 } variable } && string.IsNullOrWhiteSpace(provider.ApiKey))
            {
                provider.ApiKey = Environment.GetEnvironmentVariable(variable);
            }
        }
    }
}
