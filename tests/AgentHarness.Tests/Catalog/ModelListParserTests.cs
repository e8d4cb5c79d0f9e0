using System.Text;
using AgentHarness.Catalog.Internal;

namespace AgentHarness.Tests.Catalog;

public sealed class ModelListParserTests
{
    private const string Source = "GET /models of provider 'gateway'";

    private static readonly DateOnly AsOf = new(2026, 11, 24);

    private static IReadOnlyList<ListedModel> Parse(string json) => ModelListParser.Parse(Encoding.UTF8.GetBytes(json), Source, AsOf);

    [Fact]
    public void Parse_RequestyNumbers_ReadsPricesAndLimits()
    {
        var models = Parse("""{"object":"list","data":[{"id":"openai/gpt-4.1-nano","object":"model","created":1744675200,"owned_by":"openai","input_price":0.0000001,"output_price":4e-7,"cached_price":0.000000025,"context_window":1047576,"max_output_tokens":32768,"supports_vision":true}]}""");

        var model = Assert.Single(models);
        Assert.Equal(("openai/gpt-4.1-nano", 1047576, 32768), (model.Id, model.ContextWindow, model.MaxOutputTokens));
        Assert.Equal(
            new ModelPrice { InputPerToken = 0.0000001m, OutputPerToken = 0.0000004m, CachedInputPerToken = 0.000000025m, ContextWindow = 1047576, MaxOutputTokens = 32768, Source = Source, AsOf = AsOf },
            model.Price);
    }

    [Fact]
    public void Parse_RequestyStrings_ReadsExactDecimals()
    {
        var models = Parse("""{"data":[{"id":"anthropic/claude-sonnet-4-5","input_price":"0.000003","output_price":"1.5E-5","cached_price":"0.0000003","context_window":"200000","max_output_tokens":"64000"}]}""");

        var price = Assert.Single(models).Price;
        Assert.NotNull(price);
        Assert.Equal((0.000003m, 0.000015m, 0.0000003m, 200000, 64000), (price.InputPerToken, price.OutputPerToken, price.CachedInputPerToken, price.ContextWindow, price.MaxOutputTokens));
    }

    [Fact]
    public void Parse_RequestyCachingPrice_UsedAsCachedPrice()
    {
        var models = Parse("""{"data":[{"id":"m","input_price":0.000001,"output_price":0.000002,"caching_price":0.0000001}]}""");

        Assert.Equal(0.0000001m, Assert.Single(models).Price?.CachedInputPerToken);
    }

    [Fact]
    public void Parse_BothCachedFields_PrefersCachedPrice()
    {
        var models = Parse("""{"data":[{"id":"m","input_price":0.000001,"output_price":0.000002,"caching_price":0.00000125,"cached_price":0.0000001}]}""");

        Assert.Equal(0.0000001m, Assert.Single(models).Price?.CachedInputPerToken);
    }

    [Fact]
    public void Parse_OpenRouterStrings_ReadsPricingAndTopProvider()
    {
        var models = Parse("""
            {"data":[{"id":"anthropic/claude-sonnet-4.5","canonical_slug":"anthropic/claude-4.5-sonnet-20250929","name":"Anthropic: Claude Sonnet 4.5","created":1759161676,
              "context_length":1000000,"architecture":{"modality":"text+image->text","input_modalities":["text","image"]},
              "pricing":{"prompt":"0.000003","completion":"0.000015","request":"0","image":"0.0048","input_cache_read":"0.0000003","input_cache_write":"0.00000375"},
              "top_provider":{"context_length":1000000,"max_completion_tokens":64000,"is_moderated":true},
              "per_request_limits":null,"supported_parameters":["tools","max_tokens"]}]}
            """);

        var model = Assert.Single(models);
        Assert.Equal(("anthropic/claude-sonnet-4.5", 1000000, 64000), (model.Id, model.ContextWindow, model.MaxOutputTokens));
        Assert.Equal(
            new ModelPrice { InputPerToken = 0.000003m, OutputPerToken = 0.000015m, CachedInputPerToken = 0.0000003m, ContextWindow = 1000000, MaxOutputTokens = 64000, Source = Source, AsOf = AsOf },
            model.Price);
    }

    [Fact]
    public void Parse_OpenRouterVariablePrice_NoPriceButLimitsKept()
    {
        var models = Parse("""{"data":[{"id":"openrouter/auto","context_length":2000000,"pricing":{"prompt":"-1","completion":"-1"},"top_provider":{"max_completion_tokens":null}}]}""");

        Assert.Equal(new ListedModel("openrouter/auto", null, 2000000, null), Assert.Single(models));
    }

    [Fact]
    public void Parse_NegativeCachedPrice_PriceWithoutCachedRate()
    {
        var models = Parse("""{"data":[{"id":"m","pricing":{"prompt":"0.000001","completion":"0.000002","input_cache_read":"-1"}}]}""");

        var price = Assert.Single(models).Price;
        Assert.NotNull(price);
        Assert.Equal((0.000001m, 0.000002m, (decimal?)null), (price.InputPerToken, price.OutputPerToken, price.CachedInputPerToken));
    }

    [Fact]
    public void Parse_FreeModel_PriceOfZero()
    {
        var models = Parse("""{"data":[{"id":"m:free","pricing":{"prompt":"0","completion":"0"}}]}""");

        var price = Assert.Single(models).Price;
        Assert.NotNull(price);
        Assert.Equal((0m, 0m), (price.InputPerToken, price.OutputPerToken));
    }

    [Fact]
    public void Parse_PlainOpenAiList_IdsWithoutPrices()
    {
        var models = Parse("""{"object":"list","data":[{"id":"gpt-4.1-nano","object":"model","created":1744321025,"owned_by":"system"},{"id":"text-embedding-3-small","object":"model","created":1705948997,"owned_by":"system"}]}""");

        Assert.Equal(new[] { new ListedModel("gpt-4.1-nano", null, null, null), new ListedModel("text-embedding-3-small", null, null, null) }, models);
    }

    [Fact]
    public void Parse_OnlyInputPrice_NoPrice()
    {
        var models = Parse("""{"data":[{"id":"m","input_price":0.000001,"context_window":8192}]}""");

        Assert.Equal(new ListedModel("m", null, 8192, null), Assert.Single(models));
    }

    [Fact]
    public void Parse_PricesWithoutLimits_PriceWithNullLimits()
    {
        var models = Parse("""{"data":[{"id":"m","input_price":0.000001,"output_price":0.000002}]}""");

        var price = Assert.Single(models).Price;
        Assert.NotNull(price);
        Assert.Null(price.CachedInputPerToken);
        Assert.Null(price.ContextWindow);
        Assert.Null(price.MaxOutputTokens);
        Assert.Equal((Source, (DateOnly?)AsOf), (price.Source, price.AsOf));
    }

    [Fact]
    public void Parse_NullValues_ReadAsUnknown()
    {
        var models = Parse("""{"data":[{"id":"m","input_price":null,"output_price":0.000002,"context_window":null,"pricing":null,"top_provider":null}]}""");

        Assert.Equal(new ListedModel("m", null, null, null), Assert.Single(models));
    }

    [Fact]
    public void Parse_MalformedEntries_SkipsThemAndKeepsOthers()
    {
        var models = Parse("""
            {"data":[
              {"id":"first","input_price":0.000001,"output_price":0.000002},
              "not an entry",
              42,
              ["nested"],
              {"object":"model"},
              {"id":17},
              {"id":""},
              {"id":"bad-price","input_price":"free","output_price":0.000002},
              {"id":"bad-type","input_price":true,"output_price":0.000002},
              {"id":"bad-pricing","pricing":"cheap"},
              {"id":"bad-limit","context_window":1.5},
              {"id":"last","pricing":{"prompt":"0.000001","completion":"0.000002"}}
            ]}
            """);

        Assert.Equal(new[] { "first", "last" }, models.Select(model => model.Id));
        Assert.All(models, model => Assert.NotNull(model.Price));
    }

    [Fact]
    public void Parse_UnknownFields_Ignored()
    {
        var models = Parse("""{"meta":{"data":[1]},"data":[{"extra":{"input_price":"x","data":[{"id":"inner"}]},"id":"m","tags":[["a"]],"input_price":0.000001,"output_price":0.000002}],"has_more":false}""");

        var model = Assert.Single(models);
        Assert.Equal(("m", 0.000001m), (model.Id, model.Price?.InputPerToken));
    }

    [Fact]
    public void Parse_HugeOrNonPositiveLimits_ReadAsUnknown()
    {
        var models = Parse("""{"data":[{"id":"m","context_window":99999999999,"max_output_tokens":0}]}""");

        Assert.Equal(new ListedModel("m", null, null, null), Assert.Single(models));
    }

    [Fact]
    public void Parse_ByteOrderMark_Skipped()
    {
        var body = "\uFEFF{\"data\":[{\"id\":\"m\"}]}"u8;

        Assert.Equal("m", Assert.Single(ModelListParser.Parse(body, Source, AsOf)).Id);
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("""[{"id":"m"}]""")]
    [InlineData("\"data\"")]
    [InlineData("{}")]
    [InlineData("""{"data":{"id":"m"}}""")]
    [InlineData("""{"data":null}""")]
    [InlineData("""{"data":[{"id":"m"}""")]
    [InlineData("""{"data":[{"id":"m"}]} trailing""")]
    [InlineData("<html>Bad gateway</html>")]
    public void Parse_NotAnObjectWithDataArray_Empty(string json)
    {
        Assert.Empty(Parse(json));
    }

    [Fact]
    public void Parse_IdNotUtf8_LeavesThatEntryOutAndKeepsTheOthers()
    {
        byte[] json = [.. "{\"data\":[{\"id\":\"bad"u8, 0xE9, .. "\",\"input_price\":1,\"output_price\":2},{\"id\":\"good\"},{\"id\":\"esc\",\"input_price\":\"\\ud800\",\"output_price\":\"1\"}]}"u8];

        var models = ModelListParser.Parse(json, Source, AsOf);

        Assert.Equal(["good"], models.Select(m => m.Id));
    }
}
