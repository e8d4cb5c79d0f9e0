using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using AgentHarness.Routing.Internal;
using AgentHarness.Telemetry;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;

namespace AgentHarness.Internal;

/// <summary>
/// Builds official clients over the harness's one <see cref="HttpClient"/>. The SDK's retries are
/// off and its network timeout infinite: the harness owns retries and timeouts, so the SDK can
/// never give up before the harness has finished with a call.
/// </summary>
internal sealed class DefaultAgentHarness : IAgentHarness
{
    public const string HttpClientName = "AgentHarness";

    /// <summary>
    /// How many model ids keep a cached client of each kind. Ids come from callers (on a gateway, any id is
    /// routable), so the caches are bounded; a client for an id beyond them is built on each request, which
    /// is cheap: it shares the pipeline and options.
    /// </summary>
    internal const int MaxCachedClients = 4096;

    // The SDK insists on a credential; the real key of each provider is set on every attempt.
    private static readonly ApiKeyCredential PlaceholderCredential = new("agentharness");

    private readonly ProviderRegistry _registry;
    private readonly TimeProvider _timeProvider;
    private readonly HarnessTelemetry _telemetry;
    private readonly HttpClient _httpClient;
    private readonly OpenAIClientOptions _clientOptions;
    private readonly ConcurrentDictionary<string, ChatClient> _chatClients = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, EmbeddingClient> _embeddingClients = new(StringComparer.Ordinal);
    private readonly Lazy<OpenAIClient> _openAIClient;

    public DefaultAgentHarness(IHttpClientFactory httpClientFactory, ProviderRegistry registry, TimeProvider timeProvider, HarnessTelemetry telemetry)
    {
        _registry = registry;
        _timeProvider = timeProvider;
        _telemetry = telemetry;
        _httpClient = httpClientFactory.CreateClient(HttpClientName);
        _clientOptions = Options(new HttpClientPipelineTransport(_httpClient));
        _openAIClient = new Lazy<OpenAIClient>(() => new OpenAIClient(PlaceholderCredential, _clientOptions));
    }

    /// <summary>Gets how many clients are cached (chat and embedding), for tests.</summary>
    internal int CachedClientCount => _chatClients.Count + _embeddingClients.Count;

    /// <remarks>
    /// The client is built for the id's route: for a direct route it writes the provider's own model name (so
    /// <c>ChatClient.Model</c> reports the model that is sent), and its requests carry the route, so a call is routed,
    /// tagged and recorded without its body being read.
    /// </remarks>
    public ChatClient GetChatClient(string model)
    {
        if (_chatClients.TryGetValue(model ?? string.Empty, out var client))
        {
            return client;
        }

        var route = Route(model!, RoutedTransport.ChatContent, out var options);
        client = new ChatClient(route.BodyModel, PlaceholderCredential, options);
        return _chatClients.Count < MaxCachedClients ? _chatClients.GetOrAdd(model!, client) : client;
    }

    public EmbeddingClient GetEmbeddingClient(string model)
    {
        if (_embeddingClients.TryGetValue(model ?? string.Empty, out var client))
        {
            return client;
        }

        var route = Route(model!, RoutedTransport.EmbeddingContent, out var options);
        client = new EmbeddingClient(route.BodyModel, PlaceholderCredential, options);
        return _embeddingClients.Count < MaxCachedClients ? _embeddingClients.GetOrAdd(model!, client) : client;
    }

    public OpenAIClient GetOpenAIClient() => _openAIClient.Value;

    public AgentRun BeginRun(string agent, Action<AgentRun>? configure = null)
    {
        var now = _timeProvider.GetUtcNow();
        var run = new AgentRun(agent, Guid.CreateVersion7(now).ToString("N"), now);
        try
        {
            configure?.Invoke(run);
        }
        catch
        {
            run.Dispose();
            throw;
        }

        // Started once the run's metadata is set, so that its span carries it; ended when the run is disposed.
        run.Span = _telemetry.StartRun(run);
        return run;
    }

    private static OpenAIClientOptions Options(HttpClientPipelineTransport transport) => new()
    {
        Endpoint = RoutingHandler.VirtualEndpoint,
        Transport = transport,
        RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        NetworkTimeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>Plans the id (or throws as the interface documents) and builds the options of a client for its route.</summary>
    private ClientRoute Route(string model, Type ownContent, out OpenAIClientOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        if (!_registry.TryPlan(model, out var plan, out var error))
        {
            throw new UnroutableModelException(ModelIds.Quotable(model), error!);
        }

        // A direct route's one candidate is known now; a policy's members are chosen per call, so its clients write the policy's id.
        var bodyModel = plan.Direct is [var candidate] ? candidate.Model : model;
        var route = new ClientRoute(model, bodyModel, plan);
        options = Options(new RoutedTransport(_httpClient, route, ownContent));
        return route;
    }
}
