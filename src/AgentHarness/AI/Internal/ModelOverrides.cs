using System.Collections.Concurrent;

namespace AgentHarness.AI.Internal;

/// <summary>
/// Which adapter serves a call of a registered client whose options name a model id
/// (<c>ChatOptions.ModelId</c>, <c>EmbeddingGenerationOptions.ModelId</c>), and the adapters of the other ids.
/// </summary>
/// <remarks>
/// <para>
/// The harness's official client is built for one route, which travels with each request out of band: the body is not
/// read to route, price or budget the call. <c>Microsoft.Extensions.AI.OpenAI</c>'s adapter writes an options' model id
/// into the body, so a client left to it would send another model to the registered route's provider, priced and held
/// to the budgets as the registered model. A call that names another id goes instead through the harness's own client
/// for that id (<see cref="IAgentHarness.GetChatClient"/>, <see cref="IAgentHarness.GetEmbeddingClient"/>), which
/// routes, prices and budgets it as that id and fails as the harness does for an id it cannot route.
/// </para>
/// <para>
/// The caller's options then go down without their model id, so that the adapter writes the model its client was built
/// for: the provider's own name for a direct route. That holds for the registered id too when its client sends another
/// name (<c>openai/gpt-4.1-nano</c> is sent to <c>openai</c> as <c>gpt-4.1-nano</c>).
/// </para>
/// </remarks>
/// <typeparam name="TClient">The adapter's type.</typeparam>
internal sealed class ModelOverrides<TClient>
    where TClient : class
{
    /// <summary>
    /// How many other ids keep their adapter, per registered client. A model id may come from the application's users,
    /// and on a gateway any id is routable, so the cache is bounded; an id beyond it gets an adapter per call over the
    /// harness's client for the id, which the harness caches within its own bound.
    /// </summary>
    internal const int MaxCachedClients = 64;

    private readonly string _model;
    private readonly string _bodyModel;
    private readonly TClient _registered;
    private readonly Func<string, TClient> _create;
    private readonly ConcurrentDictionary<string, TClient> _clients = new(StringComparer.Ordinal);

    /// <summary>Initializes a new instance of the <see cref="ModelOverrides{TClient}"/> class.</summary>
    /// <param name="model">The id the client was registered for.</param>
    /// <param name="bodyModel">The model its official client writes into its bodies, as the adapter's metadata names it.</param>
    /// <param name="registered">The adapter over the registered client.</param>
    /// <param name="create">Builds the adapter over the harness's client for another id; throws as the harness does for an id it cannot route.</param>
    public ModelOverrides(string model, string bodyModel, TClient registered, Func<string, TClient> create)
    {
        _model = model;
        _bodyModel = bodyModel;
        _registered = registered;
        _create = create;
    }

    /// <summary>Gets how many adapters of other ids are cached, for tests.</summary>
    internal int CachedClientCount => _clients.Count;

    /// <summary>
    /// Gets the adapter a call that names <paramref name="modelId"/> goes through, with its options' model id taken
    /// off; or <see langword="null"/> when the registered adapter serves the call with its options as they are.
    /// </summary>
    /// <param name="modelId">The model id of the call's options, or <see langword="null"/>.</param>
    /// <returns>The adapter, or <see langword="null"/> for the registered adapter and the options unchanged.</returns>
    /// <exception cref="UnroutableModelException">No configured provider or policy can serve <paramref name="modelId"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="modelId"/> is empty or white space.</exception>
    public TClient? For(string? modelId)
    {
        // The hot path: no id, or the name the client writes anyway; a string comparison, nothing allocated.
        if (modelId is null || string.Equals(modelId, _bodyModel, StringComparison.Ordinal))
        {
            return null;
        }

        if (string.Equals(modelId, _model, StringComparison.Ordinal))
        {
            return _registered;
        }

        if (_clients.TryGetValue(modelId, out var client))
        {
            return client;
        }

        // Count is read only on a miss: it takes every lock of the dictionary.
        client = _create(modelId);
        return _clients.Count < MaxCachedClients ? _clients.GetOrAdd(modelId, client) : client;
    }
}
