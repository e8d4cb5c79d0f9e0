namespace AgentHarness.Budget.Internal;

/// <summary>The arithmetic of a call's cost, in <see cref="decimal"/> so that millions of tiny charges add up exactly.</summary>
internal static class CallCost
{
    /// <summary>
    /// The most a cost figure can be: a trillion dollars. Absurd prices or token counts (a typo in
    /// configuration, a broken model list) saturate here instead of overflowing <see cref="decimal"/>,
    /// and sums of a few such figures still fit.
    /// </summary>
    public const decimal Ceiling = 1_000_000_000_000m;

    /// <summary>
    /// How many times the catalog cost of its tokens a reported <c>usage.cost</c> may be before it is
    /// judged implausible and the catalog cost is charged instead. Wide enough for any gateway's fees
    /// and rounding, narrow enough that one absurd figure cannot exhaust a budget.
    /// </summary>
    public const decimal MaxReportedToCatalogRatio = 100m;

    /// <summary>
    /// The cost of reported usage: uncached input, cached input at the cached rate, input written to the prompt cache at
    /// the cache-write rate, output.
    /// </summary>
    public static decimal Of(ModelPrice price, long inputTokens, long outputTokens, long cachedInputTokens, long cacheWriteInputTokens = 0)
    {
        // Cached and written tokens are parts of the input count; a provider's inconsistent numbers must not make a negative charge.
        var cached = Math.Clamp(cachedInputTokens, 0, Math.Max(0, inputTokens));
        var written = Math.Clamp(cacheWriteInputTokens, 0, Math.Max(0, inputTokens) - cached);
        var uncached = Math.Max(0, inputTokens) - cached - written;
        try
        {
            return Math.Min(
                (uncached * price.InputPerToken)
                    + (cached * (price.CachedInputPerToken ?? price.InputPerToken))
                    + (written * (price.CacheWriteInputPerToken ?? price.InputPerToken))
                    + (Math.Max(0, outputTokens) * price.OutputPerToken),
                Ceiling);
        }
        catch (OverflowException)
        {
            return Ceiling;
        }
    }

    /// <summary>
    /// The most output tokens an answer can have: the request's maximum, capped by the model's
    /// output limit; without a maximum the model's output limit, else what is left of its context
    /// window, else the configured default. Times the number of choices asked for.
    /// </summary>
    public static long WorstCaseOutputTokens(ModelPrice price, int? requestMax, int choices, long inputTokens, int defaultMax)
    {
        long perChoice;
        if (requestMax is { } max && max > 0)
        {
            perChoice = price.MaxOutputTokens is { } limit ? Math.Min(max, limit) : max;
        }
        else if (price.MaxOutputTokens is { } limit)
        {
            perChoice = limit;
        }
        else if (price.ContextWindow is { } window && window > inputTokens)
        {
            perChoice = window - inputTokens;
        }
        else
        {
            perChoice = defaultMax;
        }

        return perChoice * Math.Max(1, choices);
    }

    /// <summary>The worst case of an attempt: every input token at the uncached rate, and the most output the answer can have.</summary>
    public static decimal WorstCase(ModelPrice price, long inputTokens, long outputTokens)
    {
        try
        {
            return Math.Min((inputTokens * price.InputPerToken) + (outputTokens * price.OutputPerToken), Ceiling);
        }
        catch (OverflowException)
        {
            return Ceiling;
        }
    }
}
