namespace AgentHarness;

/// <summary>A model a configured provider lists, with what the list says about its price and limits.</summary>
/// <remarks>
/// Pass discovered models to <see cref="IPriceCatalog.SetPrices"/> to price calls by them; discovery
/// alone changes nothing.
/// </remarks>
public sealed record DiscoveredModel
{
    /// <summary>Gets the name of the provider that lists the model, as configured in <see cref="AgentHarnessOptions.Providers"/>.</summary>
    public required string Provider { get; init; }

    /// <summary>Gets the model's id as the provider lists it, for example <c>openai/gpt-4.1-nano</c> at a gateway or <c>gpt-4.1-nano</c> at OpenAI.</summary>
    public required string Id { get; init; }

    /// <summary>
    /// Gets the id calls to the model are priced by in <see cref="IPriceCatalog"/>: <see cref="Id"/> itself
    /// when the provider is a gateway (<see cref="ProviderOptions.IsGateway"/>), otherwise
    /// <c>provider/id</c>, the id the harness routes to that provider.
    /// </summary>
    public required string CatalogId { get; init; }

    /// <summary>Gets the model's context window in tokens as listed, or <see langword="null"/> when the list does not say.</summary>
    public int? ContextWindow { get; init; }

    /// <summary>Gets the most output tokens the model produces in one answer as listed, or <see langword="null"/> when the list does not say.</summary>
    public int? MaxOutputTokens { get; init; }

    /// <summary>
    /// Gets the model's price as listed, or <see langword="null"/> when the list does not give both its
    /// input and output prices. Its <see cref="ModelPrice.Source"/> names the provider's list and its
    /// <see cref="ModelPrice.AsOf"/> is the day it was read.
    /// </summary>
    public ModelPrice? Price { get; init; }
}
