using System.Globalization;
using System.Net;
using AgentHarness.Internal;
using Microsoft.Extensions.Options;

namespace AgentHarness.Configuration.Internal;

/// <summary>
/// Checks the options as a whole when the application starts. Every message names the setting by
/// its configuration path and shows the offending value, never a key.
/// </summary>
/// <param name="sectionPath">The configuration section the options are bound from, for the messages.</param>
/// <param name="embeddedPrices">Loads the catalog's embedded price table, by model id: a configured model outside it needs prices of its own.</param>
internal sealed class AgentHarnessOptionsValidator(string sectionPath, Func<IReadOnlyDictionary<string, ModelPrice>> embeddedPrices) : IValidateOptions<AgentHarnessOptions>
{
    /// <summary>The most records <see cref="AgentHarnessOptions.UsageLedgerCapacity"/> may ask the in-memory ledger to keep.</summary>
    public const int MaxUsageLedgerCapacity = 1_000_000;

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
            ProviderCredentialsCheck.Validate(providerName, provider, path, options, failures);
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

        ValidatePolicies(options, gateways.Count > 0 || options.DefaultGateway is not null, failures);

        if (options.FailuresBeforeCooldown is < 1 or > 1000)
        {
            failures.Add($"{sectionPath}:FailuresBeforeCooldown must be between 1 and 1000; got {options.FailuresBeforeCooldown.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (options.CooldownPeriod < TimeSpan.Zero || options.CooldownPeriod > TimeSpan.FromDays(1))
        {
            failures.Add($"{sectionPath}:CooldownPeriod must be between 00:00:00 and 1.00:00:00; got {options.CooldownPeriod}.");
        }

        ValidateCatalog(options.Catalog, failures);
        ValidateBudgets(options, failures);
        ValidateTelemetry(options.Telemetry, failures);

        // The in-memory ledger allocates its whole capacity up front: int.MaxValue would not fit in memory.
        if (options.UsageLedgerCapacity is < 1 or > MaxUsageLedgerCapacity)
        {
            failures.Add($"{sectionPath}:UsageLedgerCapacity must be between 1 and {MaxUsageLedgerCapacity.ToString(CultureInfo.InvariantCulture)}; got {options.UsageLedgerCapacity.ToString(CultureInfo.InvariantCulture)}.");
        }

        ValidateBodyLimits(options, failures);
        ValidateResponseCache(options.ResponseCache, $"{sectionPath}:ResponseCache", failures);

        // A key pasted into another setting (a name, a prefix) must not reach a log through a message.
        var keys = options.Providers.Values.Select(static p => p?.ApiKey).ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures.Select(new AgentHarness.Internal.KeyRedactor(keys).Redact));
    }

    /// <summary>A metadata attribute names a run metadata key: the name an extra key is set with, or a built-in one such as <c>branch</c>.</summary>
    private void ValidateTelemetry(TelemetryOptions telemetry, List<string> failures)
    {
        for (var i = 0; i < telemetry.MetadataAttributes.Count; i++)
        {
            var key = telemetry.MetadataAttributes[i];
            var path = $"{sectionPath}:Telemetry:MetadataAttributes:{i.ToString(CultureInfo.InvariantCulture)}";
            if (string.IsNullOrWhiteSpace(key))
            {
                failures.Add($"{path} is empty; name a run metadata key such as 'branch', 'customer' or an extra key.");
            }
            else if (MetadataRules.DescribeInvalidName(key) is { } problem)
            {
                failures.Add($"{path} is '{key}', which cannot be a run metadata key: {problem}.");
            }
        }
    }

    private void ValidateBodyLimits(AgentHarnessOptions options, List<string> failures)
    {
        const int Min = Http.Internal.BodyLimits.MinBytes;
        const int Max = Http.Internal.BodyLimits.MaxBytes;
        if (options.MaxResponseBytes is < Min or > Max)
        {
            failures.Add($"{sectionPath}:MaxResponseBytes must be between {Min.ToString(CultureInfo.InvariantCulture)} and {Max.ToString(CultureInfo.InvariantCulture)}; got {options.MaxResponseBytes.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (options.MaxStreamEventBytes is < Min or > Max)
        {
            failures.Add($"{sectionPath}:MaxStreamEventBytes must be between {Min.ToString(CultureInfo.InvariantCulture)} and {Max.ToString(CultureInfo.InvariantCulture)}; got {options.MaxStreamEventBytes.ToString(CultureInfo.InvariantCulture)}.");
        }
    }

    private void ValidatePolicies(AgentHarnessOptions options, bool hasGateway, List<string> failures)
    {
        foreach (var (name, policy) in options.Policies)
        {
            var path = $"{sectionPath}:Policies:{name}";
            if (policy is null || policy.Models.Count == 0)
            {
                failures.Add($"{path}:Models is empty; a policy needs at least one member.");
                continue;
            }

            for (var i = 0; i < policy.Models.Count; i++)
            {
                var member = policy.Models[i];
                var memberPath = $"{path}:Models:{i.ToString(CultureInfo.InvariantCulture)}";
                if (member is null || string.IsNullOrWhiteSpace(member.Model))
                {
                    failures.Add($"{memberPath}:Model is missing.");
                    continue;
                }

                if (!IsRoutable(member.Model, options, hasGateway))
                {
                    failures.Add($"{memberPath}:Model is '{member.Model}', which no configured provider, policy or gateway can serve.");
                }

                // A member listed twice is a copy-and-paste slip, not a setting: in a chain its second turn comes after its
                // own cooldown has skipped it, and in a weighted policy it silently doubles a weight that Weight states.
                if (IndexOfModel(policy.Models, member.Model, i) is var first and >= 0)
                {
                    failures.Add($"{memberPath}:Model is '{member.Model}', which {path}:Models:{first.ToString(CultureInfo.InvariantCulture)} already is; list a model once (its Weight, or AttemptsPerModel, says how much it is used).");
                }

                if (!(member.Weight > 0) || double.IsInfinity(member.Weight))
                {
                    failures.Add($"{memberPath}:Weight must be a finite number greater than zero; got {member.Weight.ToString(CultureInfo.InvariantCulture)}.");
                }

                if (member.ContextWindow is < 1)
                {
                    failures.Add($"{memberPath}:ContextWindow must be positive; got {member.ContextWindow.Value.ToString(CultureInfo.InvariantCulture)}.");
                }
            }

            if (policy.AttemptsPerModel is < 1 or > 10)
            {
                failures.Add($"{path}:AttemptsPerModel must be between 1 and 10; got {policy.AttemptsPerModel.ToString(CultureInfo.InvariantCulture)}.");
            }

            CheckTimeout(policy.AttemptTimeout, $"{path}:AttemptTimeout", failures);
            CheckTimeout(policy.TotalTimeout, $"{path}:TotalTimeout", failures);
            if (policy.AttemptTimeout > policy.TotalTimeout)
            {
                failures.Add($"{path}:AttemptTimeout ({policy.AttemptTimeout}) must not exceed {path}:TotalTimeout ({policy.TotalTimeout}).");
            }

            CheckTimeout(policy.FirstTokenTimeout, $"{path}:FirstTokenTimeout", failures);
            CheckTimeout(policy.StreamIdleTimeout, $"{path}:StreamIdleTimeout", failures);
            if (policy.RetryBaseDelay < TimeSpan.Zero || policy.RetryBaseDelay > TimeSpan.FromMinutes(1))
            {
                failures.Add($"{path}:RetryBaseDelay must be between 00:00:00 and 00:01:00; got {policy.RetryBaseDelay}.");
            }

            if (policy.MaxRetryAfter < TimeSpan.Zero || policy.MaxRetryAfter > TimeSpan.FromDays(1))
            {
                failures.Add($"{path}:MaxRetryAfter must be between 00:00:00 and 1.00:00:00; got {policy.MaxRetryAfter}.");
            }

            if (policy.Sticky && policy.Strategy != RoutingStrategy.Weighted)
            {
                failures.Add($"{path}:Sticky is true but {path}:Strategy is {policy.Strategy}; only Weighted policies can be sticky.");
            }

            if (FindCycle(name, options) is { } cycle)
            {
                failures.Add($"{path} refers back to itself: {cycle}.");
            }
        }
    }

    /// <summary>The index of the first member before <paramref name="before"/> with the model id <paramref name="model"/>, or -1.</summary>
    private static int IndexOfModel(IList<PolicyMemberOptions> members, string model, int before)
    {
        for (var i = 0; i < before; i++)
        {
            if (string.Equals(members[i]?.Model?.Trim(), model.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool IsRoutable(string model, AgentHarnessOptions options, bool hasGateway)
    {
        var slash = model.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            return options.DefaultProvider is not null;
        }

        if (slash == model.Length - 1)
        {
            return false;
        }

        var prefix = model[..slash];
        return hasGateway
            || (prefix.Equals("policy", StringComparison.OrdinalIgnoreCase) ? options.Policies.ContainsKey(model[(slash + 1)..]) : options.Providers.ContainsKey(prefix));
    }

    private static string? FindCycle(string start, AgentHarnessOptions options)
    {
        var path = new List<string> { start };
        return Visit(start);

        string? Visit(string name)
        {
            if (!options.Policies.TryGetValue(name, out var policy) || policy is null)
            {
                return null;
            }

            foreach (var member in policy.Models)
            {
                if (member?.Model is not { } model || !model.StartsWith("policy/", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                var next = model["policy/".Length..];
                if (!options.Policies.ContainsKey(next))
                {
                    continue;
                }

                if (next.Equals(start, StringComparison.OrdinalIgnoreCase))
                {
                    return string.Join(" -> ", path.Append(next).Select(static p => "policy/" + p));
                }

                if (path.Contains(next, StringComparer.OrdinalIgnoreCase))
                {
                    continue;
                }

                path.Add(next);
                if (Visit(next) is { } cycle)
                {
                    return cycle;
                }

                path.RemoveAt(path.Count - 1);
            }

            return null;
        }
    }

    private static readonly string[] Dimensions = ["global", "agent", "task", "branch", "environment", "customer", "team", "repo", "user"];

    private void ValidateCatalog(CatalogOptions catalog, List<string> failures)
    {
        var path = $"{sectionPath}:Catalog";
        var embedded = embeddedPrices();
        foreach (var (id, model) in catalog.Models)
        {
            var modelPath = $"{path}:Models:{id}";
            if (string.IsNullOrWhiteSpace(id))
            {
                failures.Add($"{path}:Models has an entry with an empty model id.");
                continue;
            }

            if (model is null)
            {
                failures.Add($"{modelPath} has no settings.");
                continue;
            }

            if (!embedded.ContainsKey(id) && (model.InputPerToken is null || model.OutputPerToken is null))
            {
                failures.Add($"{modelPath} is not in the embedded price table, so it needs both InputPerToken and OutputPerToken (US dollars per token, for example 0.000003 for $3 per million); got InputPerToken={Show(model.InputPerToken)}, OutputPerToken={Show(model.OutputPerToken)}.");
            }

            CheckPrice(model.InputPerToken, $"{modelPath}:InputPerToken", failures);
            CheckPrice(model.OutputPerToken, $"{modelPath}:OutputPerToken", failures);
            CheckPrice(model.CachedInputPerToken, $"{modelPath}:CachedInputPerToken", failures);
            CheckPrice(model.CacheWriteInputPerToken, $"{modelPath}:CacheWriteInputPerToken", failures);
            if (model.ContextWindow is <= 0)
            {
                failures.Add($"{modelPath}:ContextWindow must be greater than zero; got {Show(model.ContextWindow)}.");
            }

            if (model.MaxOutputTokens is <= 0)
            {
                failures.Add($"{modelPath}:MaxOutputTokens must be greater than zero; got {Show(model.MaxOutputTokens)}.");
            }
        }

        if (!Enum.IsDefined(catalog.UnpricedModels))
        {
            failures.Add($"{path}:UnpricedModels must be Refuse or Allow; got {catalog.UnpricedModels}.");
        }

        if (catalog.DefaultMaxOutputTokens < 1)
        {
            failures.Add($"{path}:DefaultMaxOutputTokens must be at least 1; got {catalog.DefaultMaxOutputTokens.ToString(CultureInfo.InvariantCulture)}.");
        }
    }

    private void ValidateBudgets(AgentHarnessOptions options, List<string> failures)
    {
        foreach (var (name, rule) in options.Budgets)
        {
            var path = $"{sectionPath}:Budgets:{name}";
            if (string.IsNullOrWhiteSpace(name) || name.Contains('|', StringComparison.Ordinal))
            {
                failures.Add($"{sectionPath}:Budgets has a rule named '{name}'; a rule name must be non-empty and must not contain '|'.");
            }

            if (rule is null)
            {
                failures.Add($"{path} has no settings.");
                continue;
            }

            var dimension = rule.Dimension?.Trim() ?? string.Empty;
            var isExtra = dimension.StartsWith("extra.", StringComparison.OrdinalIgnoreCase);
            if (isExtra ? MetadataRules.DescribeInvalidName(dimension["extra.".Length..]) is not null : !Dimensions.Contains(dimension, StringComparer.OrdinalIgnoreCase))
            {
                failures.Add($"{path}:Dimension is '{rule.Dimension}'; use one of {string.Join(", ", Dimensions)}, or extra.<name> for an extra run key.");
            }
            else if (rule.Value is not null && dimension.Equals("global", StringComparison.OrdinalIgnoreCase))
            {
                failures.Add($"{path}:Value is '{rule.Value}', but a global rule has no value to limit; set Dimension, or remove Value.");
            }

            if (rule.Value is { Length: 0 })
            {
                failures.Add($"{path}:Value is empty; remove it to limit every value, or name the one value to limit.");
            }

            if (!Enum.IsDefined(rule.Window))
            {
                failures.Add($"{path}:Window must be Run, Hour, Day or Month; got {rule.Window}.");
            }

            if (rule.LimitUsd <= 0m)
            {
                failures.Add($"{path}:LimitUsd must be greater than zero (US dollars); got {rule.LimitUsd.ToString(CultureInfo.InvariantCulture)}.");
            }
        }

        foreach (var threshold in options.BudgetThresholds ?? [])
        {
            if (!(threshold > 0 && threshold <= 1))
            {
                failures.Add($"{sectionPath}:BudgetThresholds must hold fractions of a limit greater than 0 and at most 1 (0.8 is 80%); got {threshold.ToString(CultureInfo.InvariantCulture)}.");
            }
        }

        if (options.MinFittedOutputTokens < 1)
        {
            failures.Add($"{sectionPath}:MinFittedOutputTokens must be at least 1; got {options.MinFittedOutputTokens.ToString(CultureInfo.InvariantCulture)}.");
        }
    }

    private static void ValidateResponseCache(ResponseCacheOptions cache, string path, List<string> failures)
    {
        if (cache.TimeToLive <= TimeSpan.Zero)
        {
            failures.Add($"{path}:TimeToLive must be greater than zero; got {cache.TimeToLive.ToString("c", CultureInfo.InvariantCulture)}.");
        }

        if (cache.MaxEntryBytes <= 0)
        {
            failures.Add($"{path}:MaxEntryBytes must be greater than zero; got {cache.MaxEntryBytes.ToString(CultureInfo.InvariantCulture)}.");
        }

        foreach (var (model, settings) in cache.Models)
        {
            if (settings?.TimeToLive is { } ttl && ttl <= TimeSpan.Zero)
            {
                failures.Add($"{path}:Models:{model}:TimeToLive must be greater than zero; got {ttl.ToString("c", CultureInfo.InvariantCulture)}.");
            }
        }

        if (cache.LocalTimeToLive <= TimeSpan.Zero || cache.LocalTimeToLive > TimeSpan.FromDays(1))
        {
            failures.Add($"{path}:LocalTimeToLive must be greater than zero and at most 1.00:00:00; got {cache.LocalTimeToLive.ToString("c", CultureInfo.InvariantCulture)}.");
        }

        // No index: binding adds the configured entries after the defaults, so the list's index is not the configuration's.
        foreach (var key in cache.ScopeBy)
        {
            if (string.IsNullOrWhiteSpace(key))
            {
                failures.Add($"{path}:ScopeBy has an entry '{key}' that names no run metadata key; each must name one, for example customer.");
            }
        }
    }

    private static void CheckPrice(decimal? price, string path, List<string> failures)
    {
        if (price is < 0m)
        {
            failures.Add($"{path} must not be negative; got {Show(price)}.");
        }
    }

    private static string Show<T>(T? value)
        where T : struct, IFormattable =>
        value is { } v ? v.ToString(null, CultureInfo.InvariantCulture) : "(not set)";

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
            failures.Add($"{path}:BaseUrl must be an absolute URL, for example https://api.openai.com/v1; got '{SafeText.Url(provider.BaseUrl)}' (any query or user information left out).");
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
        else if (provider.BaseUrl.Scheme == Uri.UriSchemeHttp && !LoopbackAddress.Is(provider.BaseUrl))
        {
            failures.Add($"{path}:BaseUrl must use https for a host that is not loopback (the API key would travel in clear text); got '{Display(provider.BaseUrl)}'.");
        }

        if (provider.Authentication == ProviderAuthentication.Token)
        {
            // Checked with the other credential settings (ProviderCredentialsCheck): a token provider takes no key.
        }
        else if (provider.RequiresApiKey && string.IsNullOrWhiteSpace(provider.ApiKey))
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
            else if ((MetadataRules.DescribeInvalidPrefix(prefix) ?? VendorPrefix.Describe(prefix)) is { } problem)
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

    // Below 10 ms no network call can succeed; above a day is a slip of the unit, not a timeout.
    private static void CheckTimeout(TimeSpan value, string setting, List<string> failures)
    {
        if (value < TimeSpan.FromMilliseconds(10) || value > TimeSpan.FromDays(1))
        {
            failures.Add($"{setting} must be between 00:00:00.010 and 1.00:00:00; got {value}.");
        }
    }

    private static string Display(Uri uri) => $"{uri.Scheme}://{uri.Authority}{uri.AbsolutePath}";

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
