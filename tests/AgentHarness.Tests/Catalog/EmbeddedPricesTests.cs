using System.Text;
using System.Text.Json;
using AgentHarness.Catalog.Internal;

namespace AgentHarness.Tests.Catalog;

public sealed class EmbeddedPricesTests
{
    // Prices in the table may not claim to hold on a day after the table was written.
    private static readonly DateOnly Written = new(2026, 11, 24);

    private static readonly string[] Vendors = ["openai", "anthropic", "google", "deepseek", "mistral", "xai", "groq"];

    private static IReadOnlyDictionary<string, ModelPrice> Parse(string json) => EmbeddedPrices.Parse(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void Load_EveryEntry_HasPositivePricesExceptEmbeddingOutput()
    {
        foreach (var (id, price) in EmbeddedPrices.Load())
        {
            Assert.True(price.InputPerToken > 0, id);
            var isEmbedding = id.Contains("embedding", StringComparison.Ordinal);
            Assert.True(isEmbedding ? price.OutputPerToken == 0 : price.OutputPerToken > 0, id);
        }
    }

    [Fact]
    public void Load_EveryEntry_HasSourceUrlAndAsOfNotAfterWriting()
    {
        foreach (var (id, price) in EmbeddedPrices.Load())
        {
            Assert.True(Uri.TryCreate(price.Source, UriKind.Absolute, out var source) && source.Scheme == Uri.UriSchemeHttps, id);
            Assert.NotNull(price.AsOf);
            Assert.True(price.AsOf <= Written, id);
        }
    }

    [Fact]
    public void Load_EveryEntry_HasPositiveLimits()
    {
        foreach (var (id, price) in EmbeddedPrices.Load())
        {
            Assert.True(price.ContextWindow > 0, id);
            Assert.True(price.MaxOutputTokens is null || (price.MaxOutputTokens > 0 && price.MaxOutputTokens <= price.ContextWindow), id);
        }
    }

    [Fact]
    public void Load_CachedInputPrice_NotAboveInputPrice()
    {
        foreach (var (id, price) in EmbeddedPrices.Load())
        {
            Assert.True(price.CachedInputPerToken is null || (price.CachedInputPerToken > 0 && price.CachedInputPerToken <= price.InputPerToken), id);
        }
    }

    [Fact]
    public void Load_Ids_AreLowercaseVendorSlashModel()
    {
        foreach (var id in EmbeddedPrices.Load().Keys)
        {
            Assert.Equal(id.ToLowerInvariant(), id);
            var slash = id.IndexOf('/', StringComparison.Ordinal);
            Assert.True(slash > 0 && slash < id.Length - 1, id);
            Assert.Contains(id[..slash], Vendors);
            Assert.DoesNotContain(' ', id);
        }
    }

    [Fact]
    public void Load_Resource_IsSortedById()
    {
        using var stream = typeof(EmbeddedPrices).Assembly.GetManifestResourceStream(EmbeddedPrices.ResourceName);
        Assert.NotNull(stream);
        using var document = JsonDocument.Parse(stream);
        var ids = document.RootElement.GetProperty("models").EnumerateArray().Select(entry => entry.GetProperty("id").GetString()!).ToList();

        Assert.Equal(ids.Order(StringComparer.Ordinal), ids);
    }

    [Theory]
    [InlineData("openai/gpt-4.1-nano")]
    [InlineData("openai/gpt-4.1")]
    [InlineData("openai/gpt-4.1-mini")]
    [InlineData("google/gemini-2.5-flash")]
    [InlineData("anthropic/claude-sonnet-4-5")]
    public void Load_SampleModel_IsPresent(string id)
    {
        Assert.True(EmbeddedPrices.Load().ContainsKey(id));
    }

    [Fact]
    public void Load_EveryVendor_HasModels()
    {
        var prices = EmbeddedPrices.Load();

        Assert.All(Vendors, vendor => Assert.Contains(prices.Keys, id => id.StartsWith(vendor + "/", StringComparison.Ordinal)));
    }

    [Fact]
    public void Load_GptFourOneNano_HasExactPrices()
    {
        var price = EmbeddedPrices.Load()["openai/gpt-4.1-nano"];

        Assert.Equal((0.0000001m, 0.0000004m, 0.000000025m, 1047576, 32768), (price.InputPerToken, price.OutputPerToken, price.CachedInputPerToken, price.ContextWindow, price.MaxOutputTokens));
    }

    [Fact]
    public void Load_ClaudeSonnetFourFive_HasExactPrices()
    {
        var price = EmbeddedPrices.Load()["anthropic/claude-sonnet-4-5"];

        Assert.Equal((0.000003m, 0.000015m, 0.0000003m), (price.InputPerToken, price.OutputPerToken, price.CachedInputPerToken));
    }

    [Fact]
    public void Load_ModelWithoutCachedRate_HasNullCachedPrice()
    {
        Assert.Null(EmbeddedPrices.Load()["mistral/mistral-large-latest"].CachedInputPerToken);
    }

    [Fact]
    public void Load_DifferentCase_FindsModel()
    {
        Assert.True(EmbeddedPrices.Load().ContainsKey("OpenAI/GPT-4.1-Nano"));
    }

    [Fact]
    public void Load_CalledTwice_ReturnsSameTable()
    {
        Assert.Same(EmbeddedPrices.Load(), EmbeddedPrices.Load());
    }

    [Fact]
    public void Parse_WellFormedEntry_ReadsEveryField()
    {
        var prices = Parse("""{"models":[{"id":"v/m","inputPerToken":0.000001,"outputPerToken":2e-6,"cachedInputPerToken":0.0000001,"contextWindow":1000,"maxOutputTokens":100,"source":"https://example.com","asOf":"2026-01-02"}]}""");

        Assert.Equal(
            new ModelPrice { InputPerToken = 0.000001m, OutputPerToken = 0.000002m, CachedInputPerToken = 0.0000001m, ContextWindow = 1000, MaxOutputTokens = 100, Source = "https://example.com", AsOf = new DateOnly(2026, 1, 2) },
            prices["v/m"]);
    }

    [Fact]
    public void Parse_MissingOutputPrice_ThrowsNamingEntry()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Parse("""{"models":[{"id":"v/ok","inputPerToken":1,"outputPerToken":1},{"id":"v/bad","inputPerToken":1}]}"""));

        Assert.Contains("v/bad", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"id":"v/bad","inputPerToken":"0.1","outputPerToken":1}""")]
    [InlineData("""{"id":"v/bad","inputPerToken":-1,"outputPerToken":1}""")]
    [InlineData("""{"id":"v/bad","inputPerToken":1,"outputPerToken":1,"contextWindow":0}""")]
    [InlineData("""{"id":"v/bad","inputPerToken":1,"outputPerToken":1,"maxOutputTokens":1.5}""")]
    [InlineData("""{"id":"v/bad","inputPerToken":1,"outputPerToken":1,"asOf":"24/11/2026"}""")]
    [InlineData("""{"id":"v/bad","inputPerToken":1,"outputPerToken":1,"inputPerTokens":1}""")]
    public void Parse_MalformedEntry_ThrowsNamingEntry(string entry)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Parse($$"""{"models":[{{entry}}]}"""));

        Assert.Contains("v/bad", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EntryWithoutId_ThrowsNamingPosition()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Parse("""{"models":[{"id":"v/ok","inputPerToken":1,"outputPerToken":1},{"inputPerToken":1,"outputPerToken":1}]}"""));

        Assert.Contains("#1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DuplicateIdInOtherCase_Throws()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Parse("""{"models":[{"id":"v/m","inputPerToken":1,"outputPerToken":1},{"id":"V/M","inputPerToken":1,"outputPerToken":1}]}"""));

        Assert.Contains("V/M", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("""{"models":{}}""")]
    [InlineData("""{"models":[1]}""")]
    [InlineData("""{"models":[""")]
    public void Parse_MalformedTable_Throws(string json)
    {
        Assert.Throws<InvalidOperationException>(() => Parse(json));
    }
}
