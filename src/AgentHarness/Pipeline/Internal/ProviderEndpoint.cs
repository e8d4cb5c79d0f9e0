using System.Collections.Concurrent;

namespace AgentHarness.Pipeline.Internal;

/// <summary>A validated provider, ready for traffic: its address, credentials, header names and retry settings, all computed once.</summary>
internal sealed class ProviderEndpoint
{
    /// <summary>
    /// How many request paths keep a cached address. Paths come from the official clients' operations (a handful), but a
    /// query string makes each one distinct, so the cache is bounded; a path beyond it gets a new address each time.
    /// </summary>
    internal const int MaxCachedUris = 64;

    private readonly string _baseAddress;
    private readonly string? _apiKey;
    private readonly string? _authorization;
    private readonly ConcurrentDictionary<string, Uri> _uris = new(StringComparer.Ordinal);

    public ProviderEndpoint(string name, ProviderOptions options)
    {
        Name = name;
        _baseAddress = options.BaseUrl!.GetLeftPart(UriPartial.Path).TrimEnd('/');
        _apiKey = string.IsNullOrWhiteSpace(options.ApiKey) ? null : options.ApiKey;
        _authorization = _apiKey is null ? null : "Bearer " + _apiKey;
        IsGateway = options.IsGateway;
        if (options.IsGateway && !string.IsNullOrEmpty(options.MetadataHeaderPrefix))
        {
            MetadataHeaderPrefix = options.MetadataHeaderPrefix;
            TaskHeaderName = options.MetadataHeaderPrefix + Runs.Internal.RunMetadata.TaskHeaderName;
        }

        Settings = RouteSettings.From(options);
        AutoCache = options.AutoCache;
        SendPromptCacheKey = options.SendPromptCacheKey;
    }

    /// <summary>Gets a value indicating whether chat bodies to this provider ask for its automatic prompt caching.</summary>
    public bool AutoCache { get; }

    /// <summary>Gets a value indicating whether chat bodies to this provider carry a <c>prompt_cache_key</c> from the run.</summary>
    public bool SendPromptCacheKey { get; }

    public string Name { get; }

    public bool IsGateway { get; }

    public string? MetadataHeaderPrefix { get; }

    public string? TaskHeaderName { get; }

    /// <summary>Gets how a direct call to this provider retries and times out.</summary>
    public RouteSettings Settings { get; }

    /// <summary>The address of a path under the provider's base URL; the same path gives the same (immutable) instance.</summary>
    public Uri BuildUri(string relativePathAndQuery)
    {
        if (_uris.TryGetValue(relativePathAndQuery, out var uri))
        {
            return uri;
        }

        uri = new Uri(_baseAddress + relativePathAndQuery, UriKind.Absolute);
        return _uris.Count < MaxCachedUris ? _uris.GetOrAdd(relativePathAndQuery, uri) : uri;
    }

    /// <summary>The request option naming the provider whose key <see cref="ApplyKey"/> sets on a request.</summary>
    public static readonly HttpRequestOptionsKey<ProviderEndpoint> OptionsKey = new("AgentHarness.Provider");

    /// <summary>Gets the key sent to this provider, or <see langword="null"/>; for the redactor, never for text.</summary>
    internal string? ApiKey => _apiKey;

    /// <summary>
    /// Marks a request for this provider's key, removing whatever credentials it had. The key itself is set by the
    /// innermost handler (<see cref="ApplyKey"/>, called by the credentials handler just above the transport), so that no
    /// handler that logs requests, the HTTP client factory's among them, ever sees it.
    /// </summary>
    public void Authorize(HttpRequestMessage attempt)
    {
        attempt.Headers.Authorization = null;
        attempt.Options.Set(OptionsKey, this);
    }

    /// <summary>Sets this provider's key on a request about to leave; only the credentials handler calls it.</summary>
    /// <remarks>The header is added as text, built once: there is nothing to parse or validate in a value the harness wrote.</remarks>
    public void ApplyKey(HttpRequestMessage request)
    {
        request.Headers.Authorization = null;
        if (_authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", _authorization);
        }
    }

    public override string ToString() => $"Provider {Name} ({_baseAddress})";
}
