using System.Net.Http.Headers;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace AgentHarness.Routing.Internal;

/// <summary>A validated provider, ready for traffic: its address, credentials, header names and resilience pipeline, all computed once.</summary>
internal sealed class ProviderEndpoint
{
    private readonly string _baseAddress;
    private readonly string? _apiKey;

    public ProviderEndpoint(string name, ProviderOptions options, TimeProvider timeProvider)
    {
        Name = name;
        _baseAddress = options.BaseUrl!.AbsoluteUri.TrimEnd('/');
        _apiKey = string.IsNullOrWhiteSpace(options.ApiKey) ? null : options.ApiKey;
        IsGateway = options.IsGateway;
        if (options.IsGateway && !string.IsNullOrEmpty(options.MetadataHeaderPrefix))
        {
            MetadataHeaderPrefix = options.MetadataHeaderPrefix;
            TaskHeaderName = options.MetadataHeaderPrefix + Runs.Internal.RunMetadata.TaskHeaderName;
        }

        AttemptTimeout = options.AttemptTimeout;
        Pipeline = BuildPipeline(name, options, timeProvider);
    }

    public string Name { get; }

    public bool IsGateway { get; }

    public string? MetadataHeaderPrefix { get; }

    public string? TaskHeaderName { get; }

    public TimeSpan AttemptTimeout { get; }

    /// <summary>Gets the pipeline that runs one call's attempts on this provider: total timeout, retries of transient failures, attempt timeout.</summary>
    public ResiliencePipeline<HttpResponseMessage> Pipeline { get; }

    public Uri BuildUri(string relativePathAndQuery) => new(_baseAddress + relativePathAndQuery, UriKind.Absolute);

    /// <summary>Sets this provider's key on an attempt, replacing whatever was there.</summary>
    public void Authorize(HttpRequestMessage attempt)
    {
        attempt.Headers.Authorization = _apiKey is null ? null : new AuthenticationHeaderValue("Bearer", _apiKey);
    }

    public override string ToString() => $"Provider {Name} ({_baseAddress})";

    /// <summary>Reads a response's <c>Retry-After</c> (seconds or an HTTP date), or zero when it has none.</summary>
    internal static TimeSpan RetryAfter(HttpResponseMessage response, TimeProvider timeProvider)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        return header?.Date is { } date ? date - timeProvider.GetUtcNow() : TimeSpan.Zero;
    }

    private static ResiliencePipeline<HttpResponseMessage> BuildPipeline(string name, ProviderOptions options, TimeProvider timeProvider)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage>
        {
            Name = "AgentHarness",
            InstanceName = name,
            TimeProvider = timeProvider,
        };

        builder.AddTimeout(options.TotalTimeout);
        if (options.MaxRetries > 0)
        {
            var maxRetryAfter = options.MaxRetryAfter;
            builder.AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
                ShouldRetryAfterHeader = true,
                ShouldHandle = args => ValueTask.FromResult(
                    HttpClientResiliencePredicates.IsTransient(args.Outcome)
                    && !(args.Outcome.Result is { } response && RetryAfter(response, timeProvider) > maxRetryAfter)),
            });
        }

        builder.AddTimeout(options.AttemptTimeout);
        return builder.Build();
    }
}
