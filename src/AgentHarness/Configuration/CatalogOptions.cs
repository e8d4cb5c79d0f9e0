namespace AgentHarness;

/// <summary>What the harness does with a call to a model it has no price for.</summary>
public enum UnpricedModelHandling
{
    /// <summary>The call is refused before anything is sent, with an <see cref="UnpricedModelException"/> that says how to add the price.</summary>
    Refuse,

    /// <summary>The call is sent and recorded with <see cref="CostBasis.Unpriced"/> and a cost of zero; budgets cannot reserve for it.</summary>
    Allow,
}

/// <summary>
/// Settings of the price catalog: prices that override or extend the embedded table, and what to do
/// with models that have none.
/// </summary>
public sealed class CatalogOptions
{
    /// <summary>
    /// Gets prices keyed by model id, for example <c>openai/gpt-4.1-nano</c>, <c>policy/claude-4</c>
    /// (a gateway's policy) or <c>azure/my-deployment</c> (a provider's own model name). An entry for
    /// a model the embedded table has overrides only the fields it sets.
    /// </summary>
    /// <value>The default value is an empty dictionary.</value>
    public IDictionary<string, ModelPriceOptions> Models { get; } =
        new Dictionary<string, ModelPriceOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets or sets what happens to a call to a model with no price.</summary>
    /// <value>The default value is <see cref="UnpricedModelHandling.Refuse"/>: an unpriced call could not be held to a budget.</value>
    public UnpricedModelHandling UnpricedModels { get; set; } = UnpricedModelHandling.Refuse;

    /// <summary>
    /// Gets or sets the output tokens a budget assumes for a call that sets no maximum, to a model
    /// whose output limit and context window are both unknown.
    /// </summary>
    /// <value>The default value is 16,384.</value>
    public int DefaultMaxOutputTokens { get; set; } = 16_384;
}

/// <summary>A model's price and limits as written in configuration; prices are US dollars per token.</summary>
public sealed class ModelPriceOptions
{
    /// <summary>Gets or sets the price of one input token, for example <c>0.000003</c> for $3 per million.</summary>
    /// <value>The default value is <see langword="null"/>: inherited from the embedded table, required for a model it lacks.</value>
    public decimal? InputPerToken { get; set; }

    /// <summary>Gets or sets the price of one output token.</summary>
    /// <value>The default value is <see langword="null"/>: inherited from the embedded table, required for a model it lacks.</value>
    public decimal? OutputPerToken { get; set; }

    /// <summary>Gets or sets the price of one cached input token.</summary>
    /// <value>The default value is <see langword="null"/>: inherited, or else the input price.</value>
    public decimal? CachedInputPerToken { get; set; }

    /// <summary>Gets or sets the price of one input token written to the provider's prompt cache.</summary>
    /// <value>The default value is <see langword="null"/>: inherited, or else the input price.</value>
    public decimal? CacheWriteInputPerToken { get; set; }

    /// <summary>Gets or sets the context window in tokens.</summary>
    /// <value>The default value is <see langword="null"/>: inherited, or unknown.</value>
    public int? ContextWindow { get; set; }

    /// <summary>Gets or sets the most output tokens of one answer.</summary>
    /// <value>The default value is <see langword="null"/>: inherited, or unknown.</value>
    public int? MaxOutputTokens { get; set; }
}
