using System.Collections.Concurrent;
using AgentHarness.Pipeline.Internal;
using Microsoft.Extensions.Options;

namespace AgentHarness.Routing.Internal;

/// <summary>A model id resolved to the provider that serves it and the model name that provider expects.</summary>
internal readonly record struct Route(ProviderEndpoint Provider, string Model);

/// <summary>What a model id resolves to: one direct candidate, or a local policy's candidates.</summary>
internal sealed class RoutePlan(IReadOnlyList<Candidate>? direct, PolicyRuntime? policy, RouteSettings settings)
{
    public RouteSettings Settings { get; } = settings;

    /// <summary>Gets the one candidate of a direct route, or <see langword="null"/> for a policy.</summary>
    public IReadOnlyList<Candidate>? Direct => direct;

    public IReadOnlyList<Candidate> Candidates(AgentRun? run, CooldownTracker cooldowns, Func<string, decimal?>? price = null) =>
        policy?.Candidates(run, cooldowns, price) ?? direct!;
}

/// <summary>
/// The configured providers and policies, and the rules that map a model id to them:
/// <c>policy/name</c> with a local policy of that name runs that policy; <c>provider/model</c> goes
/// to that provider with the bare model name; an id whose prefix names no configured provider goes
/// to the gateway with the full id; a bare id goes to the default provider.
/// </summary>
internal sealed class ProviderRegistry : IProviderDirectory
{
    /// <summary>
    /// How many direct ids keep a cached plan. Ids come from callers (on a gateway, any id is routable), so
    /// the cache is bounded; ids beyond it are planned on every call, which costs one small allocation.
    /// </summary>
    internal const int MaxCachedPlans = 4096;

    private readonly Dictionary<string, ProviderEndpoint> _providers;
    private readonly Dictionary<string, PolicyRuntime> _policies;
    private readonly ConcurrentDictionary<string, RoutePlan> _directPlans = new(StringComparer.Ordinal);
    private readonly ProviderEndpoint? _defaultProvider;
    private readonly ProviderEndpoint? _gateway;

    public ProviderRegistry(IOptions<AgentHarnessOptions> options)
        : this(options, tokens: null)
    {
    }

    /// <param name="options">The options.</param>
    /// <param name="tokens">The token caches of providers that are sent access tokens.</param>
    public ProviderRegistry(IOptions<AgentHarnessOptions> options, Authentication.Internal.ProviderTokens? tokens)
    {
        var value = options.Value;
        _providers = new Dictionary<string, ProviderEndpoint>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, provider) in value.Providers)
        {
            _providers[name] = new ProviderEndpoint(name, provider, tokens?.For(name, provider));
        }

        if (value.DefaultProvider is { } defaultProvider)
        {
            _defaultProvider = _providers[defaultProvider];
        }

        var gateways = _providers.Values.Where(static p => p.IsGateway).ToList();
        _gateway = value.DefaultGateway is { } gateway ? _providers[gateway] : gateways.Count == 1 ? gateways[0] : null;
        MetadataHeaderPrefixes = [.. _providers.Values.Select(static p => p.MetadataHeaderPrefix).OfType<string>().Distinct(StringComparer.OrdinalIgnoreCase)];

        _policies = new Dictionary<string, PolicyRuntime>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, policy) in value.Policies)
        {
            _policies[name] = new PolicyRuntime(name, policy);
        }

        foreach (var policy in _policies.Values)
        {
            policy.Resolve(LocalPolicy, model => TryResolve(model, out var route, out _) ? route : null);
        }
    }

    /// <summary>Gets the configured providers' names.</summary>
    public IEnumerable<string> ProviderNames => _providers.Keys;

    /// <summary>Gets the providers, in no particular order.</summary>
    public IEnumerable<ProviderEndpoint> Providers => _providers.Values;

    public ProviderEndpoint? FindProvider(string name) => _providers.GetValueOrDefault(name);

    /// <summary>Gets the metadata header prefixes of every gateway, to keep them away from other providers.</summary>
    public string[] MetadataHeaderPrefixes { get; }

    /// <summary>Gets how many direct plans are cached, for tests.</summary>
    internal int CachedPlanCount => _directPlans.Count;

    public bool TryPlan(string? model, out RoutePlan plan, out string? error)
    {
        if (ModelIds.Refusal(model) is { } refusal)
        {
            // Refused before it is cached, resolved or quoted raw anywhere.
            plan = null!;
            error = refusal;
            return false;
        }

        if (model is not null && LocalPolicy(model) is { } policy)
        {
            plan = new RoutePlan(null, policy, policy.Settings);
            error = null;
            return true;
        }

        if (model is not null && _directPlans.TryGetValue(model, out plan!))
        {
            error = null;
            return true;
        }

        if (!TryResolve(model, out var route, out error))
        {
            plan = null!;
            return false;
        }

        plan = new RoutePlan([new Candidate(route.Provider, route.Model, null, null, 0)], null, route.Provider.Settings);
        if (model is not null && _directPlans.Count < MaxCachedPlans)
        {
            plan = _directPlans.GetOrAdd(model, plan);
        }

        return true;
    }

    public bool TryResolve(string? model, out Route route, out string? error)
    {
        if (string.IsNullOrWhiteSpace(model))
        {
            // Requests that name no model (listing models, fetching a stored response) go where
            // bare ids go, else to the gateway.
            if ((_defaultProvider ?? _gateway) is { } target)
            {
                route = new Route(target, model ?? string.Empty);
                error = null;
                return true;
            }

            route = default;
            error = "The request names no model, and neither a DefaultProvider nor a gateway is configured to serve it.";
            return false;
        }

        var slash = model.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            if (_defaultProvider is not null)
            {
                route = new Route(_defaultProvider, model);
                error = null;
                return true;
            }

            route = default;
            error = $"No provider can serve model '{model}': the id names no provider (use 'provider/model', for example 'openai/{model}') and no DefaultProvider is configured.";
            return false;
        }

        var prefix = model[..slash];
        if (_providers.TryGetValue(prefix, out var provider) && slash < model.Length - 1)
        {
            route = new Route(provider, model[(slash + 1)..]);
            error = null;
            return true;
        }

        if (_gateway is not null)
        {
            route = new Route(_gateway, model);
            error = null;
            return true;
        }

        route = default;
        error = string.Equals(prefix, "policy", StringComparison.OrdinalIgnoreCase)
            ? $"No provider can serve model '{model}': no policy named '{model[(slash + 1)..]}' is configured ({DescribePolicies()}) and no gateway is configured that might have one."
            : $"No provider can serve model '{model}': no provider named '{prefix}' is configured ({Describe()}) and no gateway is configured to take ids of other providers (set IsGateway on a provider).";
        return false;
    }

    private PolicyRuntime? LocalPolicy(string model) =>
        model.StartsWith(PolicyId.Prefix, StringComparison.OrdinalIgnoreCase) && _policies.TryGetValue(model[PolicyId.Prefix.Length..], out var policy)
            ? policy
            : null;

    private string Describe() => _providers.Count == 0 ? "none is" : "configured: " + string.Join(", ", _providers.Keys);

    private string DescribePolicies() => _policies.Count == 0 ? "none is" : "configured: " + string.Join(", ", _policies.Keys);
}
