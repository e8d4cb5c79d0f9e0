using System.Net.Http.Headers;

namespace AgentHarness.Routing.Internal;

/// <summary>A validated provider, ready for traffic: its address, credentials, header names and retry settings, all computed once.</summary>
internal sealed class ProviderEndpoint
{
    private readonly string _baseAddress;
    private readonly string? _apiKey;

    public ProviderEndpoint(string name, ProviderOptions options)
    {
        Name = name;
        _baseAddress = options.BaseUrl!.GetLeftPart(UriPartial.Path).TrimEnd('/');
        _apiKey = string.IsNullOrWhiteSpace(options.ApiKey) ? null : options.ApiKey;
        IsGateway = options.IsGateway;
        if (options.IsGateway && !string.IsNullOrEmpty(options.MetadataHeaderPrefix))
        {
            MetadataHeaderPrefix = options.MetadataHeaderPrefix;
            TaskHeaderName = options.MetadataHeaderPrefix + Runs.Internal.RunMetadata.TaskHeaderName;
        }

        Settings = RouteSettings.From(options);
    }

    public string Name { get; }

    public bool IsGateway { get; }

    public string? MetadataHeaderPrefix { get; }

    public string? TaskHeaderName { get; }

    /// <summary>Gets how a direct call to this provider retries and times out.</summary>
    public RouteSettings Settings { get; }

    public Uri BuildUri(string relativePathAndQuery) => new(_baseAddress + relativePathAndQuery, UriKind.Absolute);

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
    public void ApplyKey(HttpRequestMessage request)
    {
        request.Headers.Authorization = _apiKey is null ? null : new AuthenticationHeaderValue("Bearer", _apiKey);
    }

    public override string ToString() => $"Provider {Name} ({_baseAddress})";
}
