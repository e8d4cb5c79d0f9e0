using Microsoft.Extensions.Options;

namespace AgentHarness.Routing.Internal;

/// <summary>A model id resolved to the provider that serves it and the model name that provider expects.</summary>
internal readonly record struct Route(ProviderEndpoint Provider, string Model);

/// <summary>
/// The configured providers and the rules that map a model id to one of them:
/// <c>provider/model</c> goes to that provider with the bare model name; an id whose prefix names
/// no configured provider goes to the gateway with the full id; a bare id goes to the default provider.
/// </summary>
internal sealed class ProviderRegistry
{
    private readonly Dictionary<string, ProviderEndpoint> _providers;
    private readonly ProviderEndpoint? _defaultProvider;
    private readonly ProviderEndpoint? _gateway;

    public ProviderRegistry(IOptions<AgentHarnessOptions> options, TimeProvider timeProvider)
    {
        var value = options.Value;
        _providers = new Dictionary<string, ProviderEndpoint>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, provider) in value.Providers)
        {
            _providers[name] = new ProviderEndpoint(name, provider, timeProvider);
        }

        if (value.DefaultProvider is { } defaultProvider)
        {
            _defaultProvider = _providers[defaultProvider];
        }

        var gateways = _providers.Values.Where(static p => p.IsGateway).ToList();
        _gateway = value.DefaultGateway is { } gateway ? _providers[gateway] : gateways.Count == 1 ? gateways[0] : null;
        MetadataHeaderPrefixes = [.. _providers.Values.Select(static p => p.MetadataHeaderPrefix).OfType<string>().Distinct(StringComparer.OrdinalIgnoreCase)];
    }

    /// <summary>Gets the metadata header prefixes of every gateway, to keep them away from other providers.</summary>
    public string[] MetadataHeaderPrefixes { get; }

    public IEnumerable<ProviderEndpoint> Providers => _providers.Values;

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
        error = $"No provider can serve model '{model}': no provider named '{prefix}' is configured ({Describe()}) and no gateway is configured to take ids of other providers (set IsGateway on a provider).";
        return false;
    }

    private string Describe() => _providers.Count == 0 ? "none is" : "configured: " + string.Join(", ", _providers.Keys);
}
