namespace AgentHarness;

/// <summary>
/// Lists the models of the configured providers (<c>GET {BaseUrl}/models</c>, authorized with each
/// provider's own key), with the prices and limits gateways add to their lists: Requesty's per-token
/// <c>input_price</c>, <c>output_price</c>, <c>cached_price</c>, <c>context_window</c>,
/// <c>max_output_tokens</c>, and OpenRouter's <c>pricing</c> strings, <c>context_length</c> and
/// <c>top_provider</c>.
/// </summary>
/// <remarks>
/// Discovery only reads: to price calls by what it found, pass the models to
/// <see cref="IPriceCatalog.SetPrices"/>. Lists are fetched through the harness's management
/// HttpClient, which retries transient errors and times out. Members are thread safe.
/// </remarks>
public interface IModelDiscovery
{
    /// <summary>
    /// Lists the models of every configured provider, all at once. A provider that fails is reported
    /// in <see cref="ModelDiscoveryResult.Failures"/> and the others' models are still returned.
    /// </summary>
    /// <param name="cancellationToken">Cancels every request.</param>
    /// <returns>The models found and the providers that failed.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled; nothing is returned.</exception>
    Task<ModelDiscoveryResult> DiscoverAsync(CancellationToken cancellationToken = default);

    /// <summary>Lists the models of one configured provider.</summary>
    /// <param name="provider">The provider's name in <see cref="AgentHarnessOptions.Providers"/>, in any case.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The provider's models in the order its list gives them.</returns>
    /// <exception cref="ArgumentException">No provider has that name; the message lists the configured ones.</exception>
    /// <exception cref="HttpRequestException">The provider answered with an error; the message has the status and an excerpt of the body, without the key.</exception>
    Task<IReadOnlyList<DiscoveredModel>> ListModelsAsync(string provider, CancellationToken cancellationToken = default);
}
