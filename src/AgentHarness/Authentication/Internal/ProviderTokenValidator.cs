using Microsoft.Extensions.Options;

namespace AgentHarness.Authentication.Internal;

/// <summary>
/// Checks at start that every provider whose authentication is <see cref="ProviderAuthentication.Token"/> has a token
/// source, and that every source registered for a provider by name names a configured one.
/// </summary>
internal sealed class ProviderTokenValidator(string sectionPath, IEnumerable<ProviderTokenRegistration> registrations) : IValidateOptions<AgentHarnessOptions>
{
    private readonly ProviderTokenRegistration[] _registrations = [.. registrations];

    public ValidateOptionsResult Validate(string? name, AgentHarnessOptions options)
    {
        var failures = new List<string>();
        foreach (var (providerName, provider) in options.Providers)
        {
            if (provider is { Authentication: ProviderAuthentication.Token } && ProviderTokens.Find(_registrations, providerName) is null)
            {
                failures.Add($"{sectionPath}:Providers:{providerName}:Authentication is Token, but no token source is registered for '{providerName}': call AddAzureCredential(\"{providerName}\", credential) from AgentHarness.Azure (or AddProviderTokenSource), or set the provider's Authentication to Bearer or ApiKeyHeader.");
            }
        }

        foreach (var registration in _registrations)
        {
            if (registration.Provider is { } provider && !options.Providers.ContainsKey(provider))
            {
                failures.Add($"A token source is registered for the provider '{provider}', which is not configured under {sectionPath}:Providers ({(options.Providers.Count == 0 ? "none is" : "configured: " + string.Join(", ", options.Providers.Keys))}).");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
