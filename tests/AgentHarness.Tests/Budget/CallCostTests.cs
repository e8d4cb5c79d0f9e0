using AgentHarness.Budget.Internal;

namespace AgentHarness.Tests.Budget;

public sealed class CallCostTests
{
    private static readonly ModelPrice Cached = new() { InputPerToken = 0.000001m, OutputPerToken = 0.000002m, CachedInputPerToken = 0.0000001m };

    private static readonly ModelPrice Uncached = new() { InputPerToken = 0.000001m, OutputPerToken = 0.000002m };

    private static ModelPrice Limits(int? maxOutputTokens, int? contextWindow) =>
        Uncached with { MaxOutputTokens = maxOutputTokens, ContextWindow = contextWindow };

    [Fact]
    public void Of_CacheWriteTokens_ChargedAtTheCacheWriteRate()
    {
        // 100 uncached x 1e-6 + 800 cached x 1e-7 + 100 written x 1.25e-6 + 100 out x 2e-6 = 0.0001 + 0.00008 + 0.000125 + 0.0002.
        var price = Cached with { CacheWriteInputPerToken = 0.00000125m };
        Assert.Equal(0.000505m, CallCost.Of(price, inputTokens: 1000, outputTokens: 100, cachedInputTokens: 800, cacheWriteInputTokens: 100));
    }

    [Fact]
    public void Of_CacheWriteTokensWithoutARate_ChargedAtTheInputRate()
    {
        Assert.Equal(CallCost.Of(Cached, 1000, 100, 0), CallCost.Of(Cached, 1000, 100, 0, cacheWriteInputTokens: 400));
    }

    [Fact]
    public void Of_CachedTokens_ChargedAtTheCachedRate()
    {
        // 200 uncached x 1e-6 + 800 cached x 1e-7 + 100 out x 2e-6 = 0.0002 + 0.00008 + 0.0002.
        Assert.Equal(0.00048m, CallCost.Of(Cached, inputTokens: 1000, outputTokens: 100, cachedInputTokens: 800));
    }

    [Fact]
    public void Of_NoCachedTokens_InputAndOutputOnly()
    {
        Assert.Equal(0.0012m, CallCost.Of(Cached, inputTokens: 1000, outputTokens: 100, cachedInputTokens: 0));
    }

    [Fact]
    public void Of_NoCachedPrice_CachedTokensAtTheInputRate()
    {
        Assert.Equal(0.0012m, CallCost.Of(Uncached, inputTokens: 1000, outputTokens: 100, cachedInputTokens: 800));
    }

    [Fact]
    public void Of_CachedMoreThanInput_ClampedToTheInput()
    {
        // Only the 100 input tokens can be cached: 100 x 1e-7.
        Assert.Equal(0.00001m, CallCost.Of(Cached, inputTokens: 100, outputTokens: 0, cachedInputTokens: 500));
    }

    [Theory]
    [InlineData(-1000, -100, -800)]
    [InlineData(-1000, 0, 800)]
    [InlineData(0, -5, 0)]
    public void Of_NegativeCounts_CountAsZero(long input, long output, long cached)
    {
        Assert.Equal(0m, CallCost.Of(Cached, input, output, cached));
    }

    [Fact]
    public void Of_NegativeCachedWithPositiveInput_InputAtFullRate()
    {
        Assert.Equal(0.001m, CallCost.Of(Cached, inputTokens: 1000, outputTokens: 0, cachedInputTokens: -300));
    }

    [Fact]
    public void Of_FreeModel_Zero()
    {
        Assert.Equal(0m, CallCost.Of(new ModelPrice { InputPerToken = 0m, OutputPerToken = 0m }, 1_000_000, 1_000_000, 0));
    }

    [Fact]
    public void Of_MillionsOfTinyCharges_AddUpExactly()
    {
        var total = 0m;
        for (var i = 0; i < 1_000_000; i++)
        {
            total += CallCost.Of(Cached, inputTokens: 1, outputTokens: 0, cachedInputTokens: 0);
        }

        Assert.Equal(1m, total);
    }

    [Fact]
    public void Of_LargeCounts_NoOverflowAndExact()
    {
        Assert.Equal(3_000_000m, CallCost.Of(Uncached, inputTokens: 1_000_000_000_000, outputTokens: 1_000_000_000_000, cachedInputTokens: 0));
    }

    [Theory]
    [InlineData(1000, 4000, 1000)]
    [InlineData(8000, 4000, 4000)]
    [InlineData(4000, 4000, 4000)]
    public void WorstCaseOutputTokens_RequestMax_CappedByModelMax(int requestMax, int modelMax, long expected)
    {
        Assert.Equal(expected, CallCost.WorstCaseOutputTokens(Limits(modelMax, 128_000), requestMax, choices: 1, inputTokens: 500, defaultMax: 16_384));
    }

    [Fact]
    public void WorstCaseOutputTokens_RequestMaxWithoutModelMax_RequestMax()
    {
        Assert.Equal(50_000, CallCost.WorstCaseOutputTokens(Limits(null, 10_000), 50_000, choices: 1, inputTokens: 500, defaultMax: 16_384));
    }

    [Theory]
    [InlineData(null)]
    [InlineData(0)]
    [InlineData(-1)]
    public void WorstCaseOutputTokens_NoRequestMax_ModelMax(int? requestMax)
    {
        Assert.Equal(4000, CallCost.WorstCaseOutputTokens(Limits(4000, 128_000), requestMax, choices: 1, inputTokens: 500, defaultMax: 16_384));
    }

    [Fact]
    public void WorstCaseOutputTokens_NoMaxAtAll_ContextWindowMinusInput()
    {
        Assert.Equal(7000, CallCost.WorstCaseOutputTokens(Limits(null, 10_000), null, choices: 1, inputTokens: 3000, defaultMax: 16_384));
    }

    [Theory]
    [InlineData(10_000)]
    [InlineData(12_000)]
    public void WorstCaseOutputTokens_InputFillsTheContextWindow_Default(long inputTokens)
    {
        Assert.Equal(16_384, CallCost.WorstCaseOutputTokens(Limits(null, 10_000), null, choices: 1, inputTokens, defaultMax: 16_384));
    }

    [Fact]
    public void WorstCaseOutputTokens_NeitherLimitKnown_Default()
    {
        Assert.Equal(2048, CallCost.WorstCaseOutputTokens(Limits(null, null), null, choices: 1, inputTokens: 3000, defaultMax: 2048));
    }

    [Theory]
    [InlineData(1000, 4000, 3, 3000)]
    [InlineData(null, 4000, 2, 8000)]
    [InlineData(null, null, 4, 4 * 16_384)]
    [InlineData(1000, 4000, 0, 1000)]
    [InlineData(1000, 4000, -2, 1000)]
    public void WorstCaseOutputTokens_SeveralChoices_TimesChoices(int? requestMax, int? modelMax, int choices, long expected)
    {
        Assert.Equal(expected, CallCost.WorstCaseOutputTokens(Limits(modelMax, null), requestMax, choices, inputTokens: 500, defaultMax: 16_384));
    }

    [Fact]
    public void WorstCaseOutputTokens_ContextWindowRemainderTimesChoices()
    {
        Assert.Equal(14_000, CallCost.WorstCaseOutputTokens(Limits(null, 10_000), null, choices: 2, inputTokens: 3000, defaultMax: 16_384));
    }

    [Fact]
    public void WorstCase_EveryInputTokenAtTheUncachedRate()
    {
        // 1000 x 1e-6 + 500 x 2e-6, cached rate ignored.
        Assert.Equal(0.002m, CallCost.WorstCase(Cached, inputTokens: 1000, outputTokens: 500));
    }
}
