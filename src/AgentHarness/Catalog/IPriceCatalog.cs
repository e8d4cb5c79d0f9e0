using System.Diagnostics.CodeAnalysis;

namespace AgentHarness;

/// <summary>
/// The prices the harness charges calls at: an embedded table of current models, overridden and
/// extended by <see cref="CatalogOptions.Models"/>, and refreshable from a provider's model list.
/// </summary>
/// <remarks>
/// <para>
/// Ids are <c>vendor/model</c> as gateways name them (<c>openai/gpt-4.1-nano</c>,
/// <c>anthropic/claude-sonnet-4-5</c>). A call is priced by the id it is sent as: the full id for a
/// gateway, <c>provider/model</c> for another provider. When that id has no price, the same id
/// without a date suffix (<c>-2025-04-14</c>, <c>-20250929</c>) is tried, then the bare model name
/// when exactly one catalog id ends with it (so a provider named <c>azure</c> serving
/// <c>gpt-4.1</c> finds <c>openai/gpt-4.1</c>).
/// </para>
/// <para>Members are thread safe; a price set at run time applies to calls that start afterwards.</para>
/// </remarks>
public interface IPriceCatalog
{
    /// <summary>Finds the price of a model id, with the fallbacks described on <see cref="IPriceCatalog"/>.</summary>
    /// <param name="model">The model id, for example <c>openai/gpt-4.1-nano</c>.</param>
    /// <param name="price">The price, when found.</param>
    /// <returns>Whether a price was found.</returns>
    bool TryGetPrice(string model, [NotNullWhen(true)] out ModelPrice? price);

    /// <summary>Adds or replaces the price of a model id.</summary>
    /// <param name="model">The model id.</param>
    /// <param name="price">The price; prices must not be negative.</param>
    /// <exception cref="ArgumentException">The id is empty, or a price or limit is negative.</exception>
    void SetPrice(string model, ModelPrice price);

    /// <summary>
    /// Sets the price of every model that has one under its <see cref="DiscoveredModel.CatalogId"/>,
    /// the id calls to it are priced by. The listed values replace the catalog's; a context window,
    /// max output or cached-input price the list lacks is kept from what the catalog knows. Models
    /// without a price are skipped and keep what the catalog has.
    /// </summary>
    /// <param name="models">Models from <see cref="IModelDiscovery"/>, or made by hand.</param>
    /// <returns>How many prices were set.</returns>
    /// <exception cref="ArgumentException">An entry is null, or a priced entry has no catalog id, a negative price or a limit that is not positive; nothing is set.</exception>
    int SetPrices(IEnumerable<DiscoveredModel> models);

    /// <summary>Returns every price the catalog holds, keyed by model id.</summary>
    /// <returns>A snapshot.</returns>
    IReadOnlyDictionary<string, ModelPrice> GetPrices();

    /// <summary>
    /// Reads a configured provider's model list (<c>GET /models</c>) and sets the price of every
    /// model it lists with one: Requesty's per-token <c>input_price</c>, <c>output_price</c>,
    /// <c>cached_price</c>, or OpenRouter's <c>pricing</c> strings. Models listed without prices keep
    /// what the catalog has. The same as <see cref="IModelDiscovery.ListModelsAsync"/> followed by
    /// <see cref="SetPrices"/>.
    /// </summary>
    /// <param name="provider">The provider's name in <see cref="AgentHarnessOptions.Providers"/>.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>How many prices were set.</returns>
    /// <exception cref="ArgumentException">No provider has that name.</exception>
    /// <exception cref="HttpRequestException">The provider answered with an error; the message has the status and an excerpt of the body.</exception>
    Task<int> RefreshFromProviderAsync(string provider, CancellationToken cancellationToken = default);
}
