using System.Collections.Concurrent;
using AgentHarness.Internal;

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
    private readonly string? _keyHeader;
    private readonly KeyValuePair<string, string>[]? _headers;
    private readonly ConcurrentDictionary<string, Uri> _uris = new(StringComparer.Ordinal);

    public ProviderEndpoint(string name, ProviderOptions options, Authentication.Internal.TokenCache? tokens = null)
    {
        Name = name;
        _baseAddress = options.BaseUrl!.GetLeftPart(UriPartial.Path).TrimEnd('/');
        _apiKey = string.IsNullOrWhiteSpace(options.ApiKey) || options.Authentication == ProviderAuthentication.Token ? null : options.ApiKey;
        if (options.Authentication == ProviderAuthentication.ApiKeyHeader)
        {
            // The key is the header's whole value, and no Authorization header is sent.
            _keyHeader = string.IsNullOrWhiteSpace(options.ApiKeyHeader) ? DefaultKeyHeader : options.ApiKeyHeader.Trim();
            _authorization = _apiKey;
        }
        else
        {
            _authorization = _apiKey is null ? null : "Bearer " + _apiKey;
        }

        _headers = options.Headers.Count == 0 ? null : [.. options.Headers];
        Tokens = tokens;
        IsGateway = options.IsGateway;
        if (options.IsGateway && !string.IsNullOrEmpty(options.MetadataHeaderPrefix))
        {
            MetadataHeaderPrefix = options.MetadataHeaderPrefix;
            TaskHeaderName = options.MetadataHeaderPrefix + RunMetadata.TaskHeaderName;
        }

        Settings = RouteSettings.From(options);
        AutoCache = options.AutoCache;
        SendPromptCacheKey = options.SendPromptCacheKey;
    }

    /// <summary>The key header of <see cref="ProviderAuthentication.ApiKeyHeader"/> when none is named: Azure OpenAI's.</summary>
    public const string DefaultKeyHeader = "api-key";

    /// <summary>Gets a value indicating whether chat bodies to this provider ask for its automatic prompt caching.</summary>
    public bool AutoCache { get; }

    /// <summary>Gets a value indicating whether chat bodies to this provider carry a <c>prompt_cache_key</c> from the run.</summary>
    public bool SendPromptCacheKey { get; }

    public string Name { get; }

    /// <summary>Gets the provider's access tokens, or <see langword="null"/> when it is sent a key (or nothing).</summary>
    public Authentication.Internal.TokenCache? Tokens { get; }

    /// <summary>Gets the header that carries the key, or <see langword="null"/> when it is <c>Authorization</c>.</summary>
    public string? KeyHeader => _keyHeader;

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
        if (_keyHeader is not null)
        {
            attempt.Headers.Remove(_keyHeader);
        }

        attempt.Options.Set(OptionsKey, this);
    }

    /// <summary>
    /// Sets this provider's key (or its ready token) and fixed headers on a request about to leave; only the credentials
    /// handler calls it. Returns <see langword="false"/> when the provider is sent tokens and none is ready: then the
    /// handler waits for one and sets it with <see cref="ApplyToken"/>.
    /// </summary>
    /// <remarks>Headers are added as text, built once: there is nothing to parse or validate in a value the harness wrote and checked at start.</remarks>
    public bool ApplyKey(HttpRequestMessage request)
    {
        request.Headers.Authorization = null;
        if (_headers is not null)
        {
            foreach (var (name, value) in _headers)
            {
                request.Headers.Remove(name);
                request.Headers.TryAddWithoutValidation(name, value);
            }
        }

        if (_keyHeader is not null)
        {
            request.Headers.Remove(_keyHeader);
            if (_authorization is not null)
            {
                request.Headers.TryAddWithoutValidation(_keyHeader, _authorization);
            }
        }
        else if (_authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", _authorization);
        }
        else if (Tokens is not null)
        {
            if (Tokens.Ready() is not { } token)
            {
                return false;
            }

            request.Headers.TryAddWithoutValidation("Authorization", token);
        }

        return true;
    }

    /// <summary>Sets a token the credentials handler waited for.</summary>
    public void ApplyToken(HttpRequestMessage request, string authorization)
    {
        request.Headers.Authorization = null;
        request.Headers.TryAddWithoutValidation("Authorization", authorization);
    }

    /// <summary>
    /// Takes the credential and the fixed headers off a request that has left: the first attempt is the official client's
    /// own request, which it keeps, and a later attempt to another provider copies its headers.
    /// </summary>
    public void RemoveKey(HttpRequestMessage request)
    {
        request.Headers.Authorization = null;
        if (_keyHeader is not null)
        {
            request.Headers.Remove(_keyHeader);
        }

        if (_headers is not null)
        {
            foreach (var (name, _) in _headers)
            {
                request.Headers.Remove(name);
            }
        }
    }

    public override string ToString() => $"Provider {Name} ({_baseAddress})";
}
