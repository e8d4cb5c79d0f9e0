namespace AgentHarness;

/// <summary>
/// What a model costs and how much it can take: prices in US dollars per token, and its limits.
/// </summary>
/// <remarks>
/// Prices are per single token, as gateways list them (<c>0.000003</c> is $3 per million tokens).
/// A value of zero means free; an unknown cached-input price means cached input is charged at the
/// input price.
/// </remarks>
public sealed record ModelPrice
{
    /// <summary>Gets the price of one input (prompt) token, in US dollars.</summary>
    public required decimal InputPerToken { get; init; }

    /// <summary>Gets the price of one output (completion) token, in US dollars.</summary>
    public required decimal OutputPerToken { get; init; }

    /// <summary>
    /// Gets the price of one input token served from the provider's prompt cache, in US dollars, or
    /// <see langword="null"/> when the provider has no cached rate (cached tokens then cost <see cref="InputPerToken"/>).
    /// </summary>
    public decimal? CachedInputPerToken { get; init; }

    /// <summary>
    /// Gets the price of one input token written to the provider's prompt cache (Anthropic's
    /// <c>cache_creation_input_tokens</c>, Requesty's <c>caching_tokens</c>), in US dollars, or
    /// <see langword="null"/> when the provider charges no extra for it (written tokens then cost <see cref="InputPerToken"/>).
    /// </summary>
    public decimal? CacheWriteInputPerToken { get; init; }

    /// <summary>Gets the model's context window in tokens (input and output together), or <see langword="null"/> when unknown.</summary>
    public int? ContextWindow { get; init; }

    /// <summary>Gets the most output tokens the model produces in one answer, or <see langword="null"/> when unknown.</summary>
    public int? MaxOutputTokens { get; init; }

    /// <summary>Gets where the price comes from: a pricing page, a provider's model list, or configuration.</summary>
    public string? Source { get; init; }

    /// <summary>Gets the date the price was read from its source, or <see langword="null"/> when unknown.</summary>
    public DateOnly? AsOf { get; init; }
}
