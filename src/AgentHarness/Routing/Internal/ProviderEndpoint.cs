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

    /// <summary>Sets this provider's key on an attempt, replacing whatever was there.</summary>
    public void Authorize(HttpRequestMessage attempt)
    {
        attempt.Headers.Authorization = _apiKey is null ? null : new AuthenticationHeaderValue("Bearer", _apiKey);
    }

    /// <summary>Removes this provider's key from text that came from outside, such as an error body that echoes the request.</summary>
    public string Redact(string text) =>
        _apiKey is null ? text : text.Replace(_apiKey, "[key removed]", StringComparison.Ordinal);

    public override string ToString() => $"Provider {Name} ({_baseAddress})";
}
