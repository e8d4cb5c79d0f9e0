using System.Globalization;
using AgentHarness.Internal;
using Microsoft.Extensions.Options;

namespace AgentHarness.Usage.Internal;

/// <summary>Records where <c>AddRequestyUsageClient</c> took its options from, to name settings in messages; its presence marks the client as registered.</summary>
/// <param name="sectionPath">The configuration path of <see cref="RequestyUsageOptions"/>, or its conventional name when set in code.</param>
internal sealed class RequestyUsageRegistration(string sectionPath)
{
    public string SectionPath { get; } = sectionPath;
}

/// <summary>
/// Checks <see cref="RequestyUsageOptions"/> when the application starts: an absolute http(s)
/// address, a known query form, and a key that can be found. Messages name the setting and show the
/// bad value, never a key.
/// </summary>
internal sealed class RequestyUsageOptionsValidator(RequestyUsageRegistration registration, IOptions<AgentHarnessOptions> harness)
    : IValidateOptions<RequestyUsageOptions>
{
    public ValidateOptionsResult Validate(string? name, RequestyUsageOptions options)
    {
        var path = registration.SectionPath;
        var failures = new List<string>();
        if (options.BaseAddress is not { } address)
        {
            failures.Add($"{path}:BaseAddress is not set; use https://api-v2.requesty.ai or the address of a proxy in front of it.");
        }
        else if (!address.IsAbsoluteUri || (address.Scheme != Uri.UriSchemeHttps && address.Scheme != Uri.UriSchemeHttp))
        {
            // Shown without a query or user information: what is left out may be a key.
            failures.Add($"{path}:BaseAddress must be an absolute http or https address; got '{SafeText.Url(address)}'.");
        }
        else if (address.Scheme == Uri.UriSchemeHttp && !LoopbackAddress.Is(address))
        {
            // As for a provider's BaseUrl: a usage key (one that may manage keys, too) never travels in clear text.
            failures.Add($"{path}:BaseAddress must use https for a host that is not loopback (the API key would travel in clear text); got '{SafeText.Url(address)}'.");
        }

        if (options.QueryForm is { } form && !Enum.IsDefined(form))
        {
            failures.Add($"{path}:QueryForm is '{((int)form).ToString(CultureInfo.InvariantCulture)}', which is not one of JsonBody, QueryString.");
        }

        var key = ResolveKey(options, harness.Value, path, out var error);
        if (key is null)
        {
            failures.Add(error!);
        }

        if (failures.Count == 0)
        {
            return ValidateOptionsResult.Success;
        }

        // A key pasted into the wrong setting (a Provider name, say) must not reach a log through a message.
        var keys = harness.Value.Providers.Values.Select(static p => p?.ApiKey).Append(options.ApiKey).ToList();
        var redactor = new AgentHarness.Internal.KeyRedactor(keys);
        return ValidateOptionsResult.Fail(failures.Select(f => redactor.Redact(key is null ? f : f.Replace(key, AgentHarness.Internal.KeyRedactor.Mask, StringComparison.Ordinal))));
    }

    /// <summary>
    /// Finds the key to send: <see cref="RequestyUsageOptions.ApiKey"/>, else the key of
    /// <see cref="RequestyUsageOptions.Provider"/>, else the default gateway's key.
    /// </summary>
    /// <returns>The key, or <see langword="null"/> with <paramref name="error"/> naming the settings to fix.</returns>
    public static string? ResolveKey(RequestyUsageOptions options, AgentHarnessOptions harness, string path, out string? error)
    {
        error = null;
        if (!string.IsNullOrWhiteSpace(options.ApiKey))
        {
            return options.ApiKey;
        }

        if (!string.IsNullOrWhiteSpace(options.Provider))
        {
            if (!harness.Providers.TryGetValue(options.Provider, out var provider) || provider is null)
            {
                var known = harness.Providers.Count == 0 ? "none is configured" : "configured: " + string.Join(", ", harness.Providers.Keys);
                error = $"{path}:Provider is '{options.Provider}', which is not a harness provider ({known}).";
                return null;
            }

            if (string.IsNullOrWhiteSpace(provider.ApiKey))
            {
                error = $"{path}:ApiKey is not set and {path}:Provider is '{options.Provider}', whose ApiKey is empty{EnvironmentHint(provider)}; set one of the two keys.";
                return null;
            }

            return provider.ApiKey;
        }

        var gatewayName = harness.DefaultGateway;
        if (gatewayName is null)
        {
            var gateways = harness.Providers.Where(static p => p.Value is { IsGateway: true }).Select(static p => p.Key).ToList();
            gatewayName = gateways.Count == 1 ? gateways[0] : null;
        }

        if (gatewayName is null || !harness.Providers.TryGetValue(gatewayName, out var gateway) || gateway is null)
        {
            error = $"{path}:ApiKey and {path}:Provider are not set, and the harness has no default gateway (DefaultGateway, or a single provider with IsGateway) whose key could be used; set {path}:ApiKey or {path}:Provider.";
            return null;
        }

        if (string.IsNullOrWhiteSpace(gateway.ApiKey))
        {
            error = $"{path}:ApiKey and {path}:Provider are not set, and the default gateway '{gatewayName}' has no ApiKey{EnvironmentHint(gateway)}; set {path}:ApiKey, {path}:Provider or the gateway's key.";
            return null;
        }

        return gateway.ApiKey;
    }

    private static string EnvironmentHint(ProviderOptions provider) =>
        string.IsNullOrEmpty(provider.ApiKeyEnvironmentVariable) ? string.Empty : $" (its environment variable {provider.ApiKeyEnvironmentVariable} is empty)";
}
