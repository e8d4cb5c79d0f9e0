using System.Globalization;
using System.Net;
using AgentHarness.Metadata.Internal;
using Microsoft.Extensions.Options;

namespace AgentHarness.Configuration.Internal;

/// <summary>
/// Checks the options as a whole when the application starts. Every message names the setting by
/// its configuration path and shows the offending value, never a key.
/// </summary>
internal sealed class AgentHarnessOptionsValidator(string sectionPath) : IValidateOptions<AgentHarnessOptions>
{
    public ValidateOptionsResult Validate(string? name, AgentHarnessOptions options)
    {
        var failures = new List<string>();
        var gateways = new List<string>();

        foreach (var (providerName, provider) in options.Providers)
        {
            var path = $"{sectionPath}:Providers:{providerName}";
            ValidateProviderName(providerName, path, failures);
            if (provider is null)
            {
                failures.Add($"{path} has no settings.");
                continue;
            }

            ValidateProvider(provider, path, failures);
            if (provider.IsGateway)
            {
                gateways.Add(providerName);
            }
        }

        if (options.DefaultProvider is { } defaultProvider && !options.Providers.ContainsKey(defaultProvider))
        {
            failures.Add($"{sectionPath}:DefaultProvider is '{defaultProvider}', which is not a configured provider ({Known(options)}).");
        }

        if (options.DefaultGateway is { } defaultGateway)
        {
            if (!options.Providers.TryGetValue(defaultGateway, out var gateway))
            {
                failures.Add($"{sectionPath}:DefaultGateway is '{defaultGateway}', which is not a configured provider ({Known(options)}).");
            }
            else if (gateway is { IsGateway: false })
            {
                failures.Add($"{sectionPath}:DefaultGateway is '{defaultGateway}', whose IsGateway setting is false.");
            }
        }
        else if (gateways.Count > 1)
        {
            failures.Add($"{sectionPath}:DefaultGateway is not set and several providers are gateways ({string.Join(", ", gateways)}); name the one that serves unconfigured model ids.");
        }

        if (options.UsageLedgerCapacity < 1)
        {
            failures.Add($"{sectionPath}:UsageLedgerCapacity must be at least 1; got {options.UsageLedgerCapacity.ToString(CultureInfo.InvariantCulture)}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static string Known(AgentHarnessOptions options) =>
        options.Providers.Count == 0 ? "none is configured" : "configured: " + string.Join(", ", options.Providers.Keys);

    private static void ValidateProviderName(string providerName, string path, List<string> failures)
    {
        if (string.IsNullOrWhiteSpace(providerName))
        {
            failures.Add($"{path}: a provider name must not be empty.");
        }
        else if (providerName.Contains('/', StringComparison.Ordinal))
        {
            failures.Add($"{path}: the provider name '{providerName}' must not contain '/'.");
        }
        else if (string.Equals(providerName, "policy", StringComparison.OrdinalIgnoreCase))
        {
            failures.Add($"{path}: 'policy' is reserved for policy ids (policy/<name>) and cannot name a provider.");
        }
    }

    private static void ValidateProvider(ProviderOptions provider, string path, List<string> failures)
    {
        if (provider.BaseUrl is null)
        {
            failures.Add($"{path}:BaseUrl is missing; set the provider's OpenAI-compatible base address, for example https://api.openai.com/v1.");
        }
        else if (!provider.BaseUrl.IsAbsoluteUri)
        {
            failures.Add($"{path}:BaseUrl must be an absolute URL; got '{provider.BaseUrl.OriginalString}'.");
        }
        else if (!string.IsNullOrEmpty(provider.BaseUrl.UserInfo) || !string.IsNullOrEmpty(provider.BaseUrl.Query) || !string.IsNullOrEmpty(provider.BaseUrl.Fragment))
        {
            // What is left out may be a credential: it is neither shown nor accepted. Keys go in ApiKey.
            failures.Add($"{path}:BaseUrl must not carry user information, a query or a fragment (put the key in ApiKey); got '{Display(provider.BaseUrl)}' with them left out.");
        }
        else if (provider.BaseUrl.Scheme != Uri.UriSchemeHttps && provider.BaseUrl.Scheme != Uri.UriSchemeHttp)
        {
            failures.Add($"{path}:BaseUrl must be an http or https URL; got '{Display(provider.BaseUrl)}'.");
        }
        else if (provider.BaseUrl.Scheme == Uri.UriSchemeHttp && !IsLoopback(provider.BaseUrl))
        {
            failures.Add($"{path}:BaseUrl must use https for a host that is not loopback (the API key would travel in clear text); got '{Display(provider.BaseUrl)}'.");
        }

        if (provider.RequiresApiKey && string.IsNullOrWhiteSpace(provider.ApiKey))
        {
            failures.Add(provider.ApiKeyEnvironmentVariable is { Length: > 0 } variable
                ? $"{path}:ApiKey is empty and the environment variable {variable} named by {path}:ApiKeyEnvironmentVariable is not set."
                : $"{path}:ApiKey is empty; set it, name an environment variable in {path}:ApiKeyEnvironmentVariable, or set {path}:RequiresApiKey to false for a provider that needs no key.");
        }
        else if (provider.ApiKey is { } key && HasInvalidKeyCharacter(key))
        {
            // The key itself must not appear in a message.
            failures.Add($"{path}:ApiKey contains a character that cannot be sent in an HTTP header (a control or non-ASCII character).");
        }

        if (provider.MetadataHeaderPrefix is { } prefix)
        {
            if (!provider.IsGateway)
            {
                failures.Add($"{path}:MetadataHeaderPrefix is '{prefix}' but {path}:IsGateway is false; only gateways receive metadata headers.");
            }
            else if (MetadataRules.DescribeInvalidPrefix(prefix) is { } problem)
            {
                failures.Add($"{path}:MetadataHeaderPrefix '{prefix}' is not a valid metadata header prefix: {problem}.");
            }
        }

        CheckTimeout(provider.AttemptTimeout, $"{path}:AttemptTimeout", failures);
        CheckTimeout(provider.TotalTimeout, $"{path}:TotalTimeout", failures);
        if (provider.TotalTimeout > TimeSpan.Zero && provider.AttemptTimeout > provider.TotalTimeout)
        {
            failures.Add($"{path}:AttemptTimeout ({provider.AttemptTimeout}) must not exceed {path}:TotalTimeout ({provider.TotalTimeout}).");
        }

        if (provider.MaxRetries is < 0 or > 10)
        {
            failures.Add($"{path}:MaxRetries must be between 0 and 10; got {provider.MaxRetries.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (provider.MaxRetryAfter < TimeSpan.Zero || provider.MaxRetryAfter > TimeSpan.FromDays(1))
        {
            failures.Add($"{path}:MaxRetryAfter must be between 00:00:00 and 1.00:00:00; got {provider.MaxRetryAfter}.");
        }

        if (provider.RetryBaseDelay < TimeSpan.Zero || provider.RetryBaseDelay > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{path}:RetryBaseDelay must be between 00:00:00 and 00:01:00; got {provider.RetryBaseDelay}.");
        }
    }

    // The resilience pipeline's timeout accepts 10 ms to one day.
    private static void CheckTimeout(TimeSpan value, string setting, List<string> failures)
    {
        if (value < TimeSpan.FromMilliseconds(10) || value > TimeSpan.FromDays(1))
        {
            failures.Add($"{setting} must be between 00:00:00.010 and 1.00:00:00; got {value}.");
        }
    }

    private static string Display(Uri uri) => $"{uri.Scheme}://{uri.Authority}{uri.AbsolutePath}";

    private static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.DnsSafeHost, out var address) && IPAddress.IsLoopback(address));

    private static bool HasInvalidKeyCharacter(string key)
    {
        foreach (var c in key)
        {
            if (c is < (char)0x21 or > (char)0x7E)
            {
                return true;
            }
        }

        return false;
    }
}
