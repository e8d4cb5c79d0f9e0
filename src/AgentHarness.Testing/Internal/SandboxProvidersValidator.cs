using Microsoft.Extensions.Options;

namespace AgentHarness.Testing.Internal;

/// <summary>Fails start when a <c>UseSandbox</c> call names a provider that is not configured.</summary>
internal sealed class SandboxProvidersValidator(SandboxAssignments assignments) : IValidateOptions<AgentHarnessOptions>
{
    public ValidateOptionsResult Validate(string? name, AgentHarnessOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        foreach (var assignment in assignments.All)
        {
            foreach (var provider in assignment.Providers)
            {
                if (!options.Providers.ContainsKey(provider))
                {
                    var known = options.Providers.Count == 0 ? "no provider is configured" : "configured: " + string.Join(", ", options.Providers.Keys);
                    failures.Add($"UseSandbox names the provider '{provider}', which is not configured ({known}).");
                }
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
