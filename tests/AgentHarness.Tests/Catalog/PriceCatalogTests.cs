using System.Net;
using AgentHarness.Catalog.Internal;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace AgentHarness.Tests.Catalog;

/// <summary>The price catalog as the container builds it: embedded table, configuration over it, run-time changes and refreshes.</summary>
public sealed class PriceCatalogTests
{
    private const string ManagementClient = "AgentHarness.Management";

    private static readonly DateTimeOffset Now = new(2026, 11, 24, 9, 30, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ServiceProvider Build(Action<AgentHarnessOptions>? configure = null, Action<IAgentHarnessBuilder>? providers = null, HttpMessageHandler? management = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(new FakeTimeProvider(Now));
        var builder = services.AddAgentHarness(o => configure?.Invoke(o));
        providers?.Invoke(builder);
        if (management is not null)
        {
            services.AddHttpClient(ManagementClient).ConfigurePrimaryHttpMessageHandler(() => management);
        }

        return services.BuildServiceProvider();
    }

    private static ModelPrice Embedded(string id) => EmbeddedPrices.Load()[id];

    private static ModelPrice Price(decimal input, decimal output) => new() { InputPerToken = input, OutputPerToken = output, Source = "test" };

    [Fact]
    public void PriceCatalog_ManagementClientName_IsTheNameTestsRoute()
    {
        Assert.Equal(ManagementClient, ModelListClient.ManagementClientName);
    }

    [Fact]
    public void TryGetPrice_EmbeddedId_ReturnsTheEmbeddedPrice()
    {
        using var services = Build();
        var catalog = services.GetRequiredService<IPriceCatalog>();

        Assert.True(catalog.TryGetPrice("openai/gpt-4.1-nano", out var price));

        Assert.Equal(Embedded("openai/gpt-4.1-nano"), price);
        Assert.Equal((0.0000001m, 0.0000004m, 0.000000025m), (price.InputPerToken, price.OutputPerToken, price.CachedInputPerToken));
    }

    [Fact]
    public void TryGetPrice_IdInOtherCase_Found()
    {
        using var services = Build();
        var catalog = services.GetRequiredService<IPriceCatalog>();

        Assert.True(catalog.TryGetPrice("OpenAI/GPT-4.1-Nano", out var price));
        Assert.Equal(Embedded("openai/gpt-4.1-nano"), price);
    }

    [Fact]
    public void TryGetPrice_UnknownId_ReturnsFalseAndNull()
    {
        using var services = Build();
        var catalog = services.GetRequiredService<IPriceCatalog>();

        Assert.False(catalog.TryGetPrice("acme/no-such-model", out var price));
        Assert.Null(price);
    }

    [Theory]
    [InlineData("openai/gpt-4.1-nano-2025-04-14", "openai/gpt-4.1-nano")]
    [InlineData("anthropic/claude-sonnet-4-5-20250929", "anthropic/claude-sonnet-4-5")]
    public void TryGetPrice_DatedId_FallsBackToTheUndatedId(string dated, string undated)
    {
        using var services = Build();
        var catalog = services.GetRequiredService<IPriceCatalog>();

        Assert.True(catalog.TryGetPrice(dated, out var price));
        Assert.Equal(Embedded(undated), price);
    }

    [Fact]
    public void TryGetPrice_DatedIdLookedUpTwice_SameAnswerBothTimes()
    {
        using var services = Build();
        var catalog = services.GetRequiredService<IPriceCatalog>();

        Assert.True(catalog.TryGetPrice("openai/gpt-4.1-nano-2025-04-14", out var first));
        Assert.True(catalog.TryGetPrice("openai/gpt-4.1-nano-2025-04-14", out var second));

        Assert.Equal(first, second);
    }

    [Fact]
    public void TryGetPrice_BareNameOnlyOneIdEndsWith_FindsThatId()
    {
        using var services = Build();
        var catalog = services.GetRequiredService<IPriceCatalog>();

        Assert.True(catalog.TryGetPrice("azure/gpt-4.1", out var price));
        Assert.Equal(Embedded("openai/gpt-4.1"), price);
    }

    [Fact]
    public void TryGetPrice_DatedIdUnderOtherProvider_FallsBackToUndatedBareName()
    {
        using var services = Build();
        var catalog = services.GetRequiredService<IPriceCatalog>();

        Assert.True(catalog.TryGetPrice("azure/gpt-4.1-2025-04-14", out var price));
        Assert.Equal(Embedded("openai/gpt-4.1"), price);
    }

    [Fact]
    public void TryGetPrice_BareNameSeveralIdsEndWith_NoFallback()
    {
        using var services = Build(o => o.Catalog.Models["acme/gpt-4.1"] = new ModelPriceOptions { InputPerToken = 0.000001m, OutputPerToken = 0.000002m });
        var catalog = services.GetRequiredService<IPriceCatalog>();

        Assert.False(catalog.TryGetPrice("azure/gpt-4.1", out var price));
        Assert.Null(price);
        Assert.True(catalog.TryGetPrice("acme/gpt-4.1", out var exact));
        Assert.Equal(0.000001m, exact.InputPerToken);
        Assert.True(catalog.TryGetPrice("openai/gpt-4.1", out var embedded));
        Assert.Equal(Embedded("openai/gpt-4.1"), embedded);
    }

    [Fact]
    public void TryGetPrice_BareNameMadeAmbiguousBySetPrice_NoFallbackAfterwards()
    {
        using var services = Build();
        var catalog = services.GetRequiredService<IPriceCatalog>();
        Assert.True(catalog.TryGetPrice("azure/gpt-4.1", out _));

        catalog.SetPrice("acme/gpt-4.1", Price(0.000001m, 0.000002m));

        Assert.False(catalog.TryGetPrice("azure/gpt-4.1", out _));
    }

    [Fact]
    public void TryGetPrice_NullId_Throws()
    {
        using var services = Build();
        var catalog = services.GetRequiredService<IPriceCatalog>();

        Assert.Throws<ArgumentNullException>(() => catalog.TryGetPrice(null!, out _));
    }

    [Fact]
    public void Constructor_ConfigurationSetsOnlyContextWindow_PricesSourceAndDateInherited()
    {
        using var services = Build(o => o.Catalog.Models["openai/gpt-4.1"] = new ModelPriceOptions { ContextWindow = 500_000 });
        var catalog = services.GetRequiredService<IPriceCatalog>();

        Assert.True(catalog.TryGetPrice("openai/gpt-4.1", out var price));

        Assert.Equal(Embedded("openai/gpt-4.1") with { ContextWindow = 500_000 }, price);
    }

    [Fact]
    public void Constructor_ConfigurationSetsOnlyOutputPrice_OtherFieldsInheritedAndSourceIsConfiguration()
    {
        using var services = Build(o => o.Catalog.Models["openai/gpt-4.1"] = new ModelPriceOptions { OutputPerToken = 0.00001m });
        var catalog = services.GetRequiredService<IPriceCatalog>();

        Assert.True(catalog.TryGetPrice("openai/gpt-4.1", out var price));

        var embedded = Embedded("openai/gpt-4.1");
        Assert.Equal(embedded with { OutputPerToken = 0.00001m, Source = "configuration", AsOf = null }, price);
    }

    [Fact]
    public void Constructor_ConfigurationIdInOtherCase_OverridesTheEmbeddedEntry()
    {
        using var services = Build(o => o.Catalog.Models["OPENAI/GPT-4.1"] = new ModelPriceOptions { InputPerToken = 0.000003m });
        var catalog = services.GetRequiredService<IPriceCatalog>();

        Assert.True(catalog.TryGetPrice("openai/gpt-4.1", out var price));
        Assert.Equal(0.000003m, price.InputPerToken);
        Assert.Single(catalog.GetPrices().Keys, k => k.Equals("openai/gpt-4.1", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void Constructor_ConfigurationNewModel_Added()
    {
        using var services = Build(o => o.Catalog.Models["policy/claude-4"] = new ModelPriceOptions
        {
            InputPerToken = 0.000003m,
            OutputPerToken = 0.000015m,
            CachedInputPerToken = 0.0000003m,
            ContextWindow = 200_000,
        });
        var catalog = services.GetRequiredService<IPriceCatalog>();

        Assert.True(catalog.TryGetPrice("policy/claude-4", out var price));

        Assert.Equal(
            new ModelPrice { InputPerToken = 0.000003m, OutputPerToken = 0.000015m, CachedInputPerToken = 0.0000003m, ContextWindow = 200_000, Source = "configuration" },
            price);
        Assert.Equal(EmbeddedPrices.Load().Count + 1, catalog.GetPrices().Count);
    }

    [Fact]
    public void SetPrice_ExistingId_Replaces()
    {
        using var services = Build();
        var catalog = services.GetRequiredService<IPriceCatalog>();
        var replacement = Price(0.000009m, 0.00009m);

        catalog.SetPrice("openai/gpt-4.1", replacement);

        Assert.True(catalog.TryGetPrice("openai/gpt-4.1", out var price));
        Assert.Equal(replacement, price);
    }

    [Fact]
    public void SetPrice_NewId_FoundAfterwardsIncludingItsDatedForm()
    {
        using var services = Build();
        var catalog = services.GetRequiredService<IPriceCatalog>();
        Assert.False(catalog.TryGetPrice("acme/model-x-20260101", out _));

        catalog.SetPrice("acme/model-x", Price(0.000001m, 0.000002m));

        Assert.True(catalog.TryGetPrice("acme/model-x", out var exact));
        Assert.True(catalog.TryGetPrice("acme/model-x-20260101", out var dated));
        Assert.Equal(exact, dated);
    }

    public static TheoryData<ModelPrice> InvalidPrices => new()
    {
        new ModelPrice { InputPerToken = -0.000001m, OutputPerToken = 0.000002m },
        new ModelPrice { InputPerToken = 0.000001m, OutputPerToken = -0.000002m },
        new ModelPrice { InputPerToken = 0.000001m, OutputPerToken = 0.000002m, CachedInputPerToken = -0.0000001m },
        new ModelPrice { InputPerToken = 0.000001m, OutputPerToken = 0.000002m, ContextWindow = 0 },
        new ModelPrice { InputPerToken = 0.000001m, OutputPerToken = 0.000002m, MaxOutputTokens = -1 },
    };

    [Theory]
    [MemberData(nameof(InvalidPrices))]
    public void SetPrice_NegativePriceOrNonPositiveLimit_ThrowsAndKeepsTheOldPrice(ModelPrice invalid)
    {
        using var services = Build();
        var catalog = services.GetRequiredService<IPriceCatalog>();

        var ex = Assert.Throws<ArgumentException>(() => catalog.SetPrice("openai/gpt-4.1", invalid));

        Assert.Equal("price", ex.ParamName);
        Assert.Contains("'openai/gpt-4.1'", ex.Message, StringComparison.Ordinal);
        Assert.True(catalog.TryGetPrice("openai/gpt-4.1", out var price));
        Assert.Equal(Embedded("openai/gpt-4.1"), price);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void SetPrice_EmptyId_Throws(string id)
    {
        using var services = Build();
        var catalog = services.GetRequiredService<IPriceCatalog>();

        Assert.Throws<ArgumentException>(() => catalog.SetPrice(id, Price(0m, 0m)));
    }

    [Fact]
    public void SetPrice_FreeModel_Accepted()
    {
        using var services = Build();
        var catalog = services.GetRequiredService<IPriceCatalog>();

        catalog.SetPrice("local/llama", Price(0m, 0m));

        Assert.True(catalog.TryGetPrice("local/llama", out var price));
        Assert.Equal((0m, 0m), (price.InputPerToken, price.OutputPerToken));
    }

    [Fact]
    public void GetPrices_LaterSetPrice_SnapshotUnchanged()
    {
        using var services = Build();
        var catalog = services.GetRequiredService<IPriceCatalog>();

        var before = catalog.GetPrices();
        catalog.SetPrice("acme/new", Price(0.000001m, 0.000002m));
        catalog.SetPrice("openai/gpt-4.1", Price(0.000009m, 0.00009m));

        Assert.False(before.ContainsKey("acme/new"));
        Assert.Equal(Embedded("openai/gpt-4.1"), before["openai/gpt-4.1"]);
        Assert.Equal(EmbeddedPrices.Load().Count, before.Count);
        Assert.True(catalog.GetPrices().ContainsKey("acme/new"));
    }

    [Fact]
    public void GetPrices_ChangingTheReturnedDictionary_CatalogUnchanged()
    {
        using var services = Build();
        var catalog = services.GetRequiredService<IPriceCatalog>();

        if (catalog.GetPrices() is IDictionary<string, ModelPrice> mutable && !mutable.IsReadOnly)
        {
            mutable.Remove("openai/gpt-4.1");
            mutable["acme/sneaky"] = Price(0m, 0m);
        }

        Assert.True(catalog.TryGetPrice("openai/gpt-4.1", out _));
        Assert.False(catalog.TryGetPrice("acme/sneaky", out _));
    }

    [Fact]
    public void GetPrices_Keys_IgnoreCase()
    {
        using var services = Build();
        var catalog = services.GetRequiredService<IPriceCatalog>();

        Assert.True(catalog.GetPrices().ContainsKey("OPENAI/GPT-4.1"));
    }

    private const string RequestyList = """
        {"object":"list","data":[
          {"id":"openai/gpt-4.1-nano","object":"model","created":1744675200,"owned_by":"openai","input_price":0.0000002,"output_price":8e-7,"cached_price":0.00000005,"context_window":1000000,"max_output_tokens":30000},
          {"id":"openai/gpt-4o","object":"model","input_price":"0.000003","output_price":"0.000012"},
          {"id":"acme/brand-new","object":"model","input_price":0.000001,"output_price":0.000004,"context_window":64000},
          {"id":"anthropic/claude-sonnet-4-5","object":"model","context_window":1000000},
          {"id":"acme/unpriced","object":"model"}
        ]}
        """;

    private static void Requesty(IAgentHarnessBuilder builder) => builder.AddProvider("requesty", p =>
    {
        p.BaseUrl = new Uri("https://gateway.test/v1");
        p.ApiKey = "key-gateway-secret";
        p.IsGateway = true;
    });

    [Fact]
    public async Task RefreshFromProviderAsync_GatewayList_SetsPricesUnderListedIdsAndReturnsTheCount()
    {
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/models", _ => Responses.Json(RequestyList));
        using var services = Build(providers: Requesty, management: mock.Handler);
        var catalog = services.GetRequiredService<IPriceCatalog>();

        var count = await catalog.RefreshFromProviderAsync("requesty", Ct);

        Assert.Equal(3, count);
        const string Source = "GET /models of provider 'requesty'";
        var asOf = new DateOnly(2026, 11, 24);
        Assert.True(catalog.TryGetPrice("openai/gpt-4.1-nano", out var nano));
        Assert.Equal(
            new ModelPrice { InputPerToken = 0.0000002m, OutputPerToken = 0.0000008m, CachedInputPerToken = 0.00000005m, ContextWindow = 1_000_000, MaxOutputTokens = 30_000, Source = Source, AsOf = asOf },
            nano);
        Assert.True(catalog.TryGetPrice("acme/brand-new", out var added));
        Assert.Equal(
            new ModelPrice { InputPerToken = 0.000001m, OutputPerToken = 0.000004m, ContextWindow = 64_000, Source = Source, AsOf = asOf },
            added);
    }

    [Fact]
    public async Task RefreshFromProviderAsync_ListedPriceWithoutLimits_KeepsKnownLimitsAndCachedPrice()
    {
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/models", _ => Responses.Json(RequestyList));
        using var services = Build(providers: Requesty, management: mock.Handler);
        var catalog = services.GetRequiredService<IPriceCatalog>();

        await catalog.RefreshFromProviderAsync("requesty", Ct);

        Assert.True(catalog.TryGetPrice("openai/gpt-4o", out var price));
        var embedded = Embedded("openai/gpt-4o");
        Assert.Equal(
            new ModelPrice
            {
                InputPerToken = 0.000003m,
                OutputPerToken = 0.000012m,
                CachedInputPerToken = embedded.CachedInputPerToken,
                ContextWindow = embedded.ContextWindow,
                MaxOutputTokens = embedded.MaxOutputTokens,
                Source = "GET /models of provider 'requesty'",
                AsOf = new DateOnly(2026, 11, 24),
            },
            price);
    }

    [Fact]
    public async Task RefreshFromProviderAsync_ModelsListedWithoutPrices_Unchanged()
    {
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/models", _ => Responses.Json(RequestyList));
        using var services = Build(providers: Requesty, management: mock.Handler);
        var catalog = services.GetRequiredService<IPriceCatalog>();

        await catalog.RefreshFromProviderAsync("requesty", Ct);

        Assert.True(catalog.TryGetPrice("anthropic/claude-sonnet-4-5", out var sonnet));
        Assert.Equal(Embedded("anthropic/claude-sonnet-4-5"), sonnet);
        Assert.False(catalog.TryGetPrice("acme/unpriced", out _));
        Assert.Equal(EmbeddedPrices.Load().Count + 1, catalog.GetPrices().Count);
    }

    [Fact]
    public async Task RefreshFromProviderAsync_Gateway_SendsGetModelsWithTheProviderBearerKey()
    {
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/models", _ => Responses.Json("""{"object":"list","data":[]}"""));
        using var services = Build(providers: Requesty, management: mock.Handler);
        var catalog = services.GetRequiredService<IPriceCatalog>();

        var count = await catalog.RefreshFromProviderAsync("requesty", Ct);

        Assert.Equal(0, count);
        var request = Assert.Single(mock.Requests);
        Assert.Equal(HttpMethod.Get, request.Method);
        Assert.Equal(new Uri("https://gateway.test/v1/models"), request.Uri);
        Assert.Equal(["Bearer key-gateway-secret"], request.HeaderValues("Authorization"));
        Assert.Equal(string.Empty, request.Body);
    }

    [Fact]
    public async Task RefreshFromProviderAsync_BaseUrlWithTrailingSlash_NoDoubleSlash()
    {
        var mock = new RecordingMock();
        mock.Respond("https://mistral.test/v1/models", _ => Responses.Json("""{"data":[]}"""));
        using var services = Build(providers: b => b.AddProvider("mistral", p => { p.BaseUrl = new Uri("https://mistral.test/v1/"); p.ApiKey = "key-mistral"; }), management: mock.Handler);
        var catalog = services.GetRequiredService<IPriceCatalog>();

        await catalog.RefreshFromProviderAsync("mistral", Ct);

        Assert.Equal(new Uri("https://mistral.test/v1/models"), Assert.Single(mock.Requests).Uri);
    }

    [Fact]
    public async Task RefreshFromProviderAsync_NonGatewayProvider_IdsBecomeProviderSlashId()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/models", _ => Responses.Json("""
            {"object":"list","data":[
              {"id":"gpt-4.1-custom","object":"model","input_price":0.000001,"output_price":0.000002},
              {"id":"gpt-4.1","object":"model","input_price":0.0000015,"output_price":0.000006}
            ]}
            """));
        using var services = Build(
            providers: b => b.AddProvider("openai", p => { p.BaseUrl = new Uri("https://openai.test/v1"); p.ApiKey = "key-openai"; }),
            management: mock.Handler);
        var catalog = services.GetRequiredService<IPriceCatalog>();

        var count = await catalog.RefreshFromProviderAsync("openai", Ct);

        Assert.Equal(2, count);
        var prices = catalog.GetPrices();
        Assert.Equal((0.000001m, 0.000002m), (prices["openai/gpt-4.1-custom"].InputPerToken, prices["openai/gpt-4.1-custom"].OutputPerToken));
        Assert.False(prices.ContainsKey("gpt-4.1-custom"));
        Assert.False(prices.ContainsKey("gpt-4.1"));
        Assert.Equal(0.0000015m, prices["openai/gpt-4.1"].InputPerToken);
        Assert.Equal(Embedded("openai/gpt-4.1").ContextWindow, prices["openai/gpt-4.1"].ContextWindow);
        Assert.Equal(["Bearer key-openai"], Assert.Single(mock.Requests).HeaderValues("Authorization"));
    }

    [Theory]
    [InlineData(HttpStatusCode.Unauthorized)]
    [InlineData(HttpStatusCode.Forbidden)]
    [InlineData(HttpStatusCode.NotFound)]
    public async Task RefreshFromProviderAsync_ErrorStatus_ThrowsWithStatusAndBodyExcerptButNotTheKey(HttpStatusCode status)
    {
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/models", _ => Responses.Json("""{"error":{"message":"no models for you","type":"invalid_request_error"}}""", status));
        using var services = Build(providers: Requesty, management: mock.Handler);
        var catalog = services.GetRequiredService<IPriceCatalog>();
        var before = catalog.GetPrices();

        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => catalog.RefreshFromProviderAsync("requesty", Ct));

        Assert.Equal(status, ex.StatusCode);
        Assert.Contains(((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message, StringComparison.Ordinal);
        Assert.Contains("'requesty'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("no models for you", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("key-gateway-secret", ex.Message, StringComparison.Ordinal);
        Assert.Equal(before.Count, catalog.GetPrices().Count);
    }

    [Fact]
    public async Task RefreshFromProviderAsync_ErrorBodyEchoesTheKey_KeyRemovedFromTheMessage()
    {
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/models", _ => Responses.Json("""{"error":{"message":"Incorrect API key provided: key-gateway-secret"}}""", HttpStatusCode.Unauthorized));
        using var services = Build(providers: Requesty, management: mock.Handler);

        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => services.GetRequiredService<IPriceCatalog>().RefreshFromProviderAsync("requesty", Ct));

        Assert.DoesNotContain("key-gateway-secret", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Incorrect API key provided: [key removed]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RefreshFromProviderAsync_KeyEchoedAcrossTheExcerptsEnd_NoPartOfItShows()
    {
        var mock = new RecordingMock();
        var body = new string('x', 290) + " bad key key-gateway-secret and more";
        mock.Respond("https://gateway.test/v1/models", _ => Responses.Json(body, HttpStatusCode.Unauthorized));
        using var services = Build(providers: Requesty, management: mock.Handler);

        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => services.GetRequiredService<IPriceCatalog>().RefreshFromProviderAsync("requesty", Ct));

        Assert.DoesNotContain("key-gat", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RefreshFromProviderAsync_LongErrorBody_MessageHasOnlyAnExcerpt()
    {
        var body = "{\"error\":\"" + new string('x', 5000) + "\"}";
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/models", _ => Responses.Json(body, HttpStatusCode.BadRequest));
        using var services = Build(providers: Requesty, management: mock.Handler);
        var catalog = services.GetRequiredService<IPriceCatalog>();

        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => catalog.RefreshFromProviderAsync("requesty", Ct));

        Assert.Contains("400", ex.Message, StringComparison.Ordinal);
        Assert.Contains("{\"error\":\"xxx", ex.Message, StringComparison.Ordinal);
        Assert.True(ex.Message.Length < 1000, $"message of {ex.Message.Length} characters");
    }

    [Fact]
    public async Task RefreshFromProviderAsync_UnknownProvider_ThrowsListingConfiguredProviders()
    {
        var mock = new RecordingMock();
        using var services = Build(providers: b => TestHarness.ThreeProviders(b), management: mock.Handler);
        var catalog = services.GetRequiredService<IPriceCatalog>();

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => catalog.RefreshFromProviderAsync("nope", Ct));

        Assert.Equal("provider", ex.ParamName);
        Assert.Contains("'nope'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("requesty", ex.Message, StringComparison.Ordinal);
        Assert.Contains("openai", ex.Message, StringComparison.Ordinal);
        Assert.Contains("mistral", ex.Message, StringComparison.Ordinal);
        Assert.Empty(mock.Requests);
    }

    [Fact]
    public async Task RefreshFromProviderAsync_ProviderNameInOtherCase_Found()
    {
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/models", _ => Responses.Json(RequestyList));
        using var services = Build(providers: Requesty, management: mock.Handler);
        var catalog = services.GetRequiredService<IPriceCatalog>();

        Assert.Equal(3, await catalog.RefreshFromProviderAsync("REQUESTY", Ct));
    }

    [Fact]
    public async Task RefreshFromProviderAsync_NewIdMakesBareNameAmbiguous_FallbackStops()
    {
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/models", _ => Responses.Json("""{"data":[{"id":"azure/gpt-4o","input_price":0.000001,"output_price":0.000002}]}"""));
        using var services = Build(providers: Requesty, management: mock.Handler);
        var catalog = services.GetRequiredService<IPriceCatalog>();
        Assert.True(catalog.TryGetPrice("vertex/gpt-4o", out _));

        await catalog.RefreshFromProviderAsync("requesty", Ct);

        Assert.False(catalog.TryGetPrice("vertex/gpt-4o", out _));
    }

    [Fact]
    public void SetPriceAndTryGetPrice_InParallel_NeverThrowAndEverySetPriceVisible()
    {
        using var services = Build();
        var catalog = services.GetRequiredService<IPriceCatalog>();
        const int Iterations = 4000;
        var missing = 0;

        Parallel.For(0, Iterations, new ParallelOptions { CancellationToken = Ct }, i =>
        {
            switch (i % 4)
            {
                case 0:
                    catalog.SetPrice($"test/m{i}", Price(i, i * 2));
                    break;
                case 1:
                    if (!catalog.TryGetPrice("openai/gpt-4.1-nano-2025-04-14", out _) || !catalog.TryGetPrice("azure/gpt-4.1", out _))
                    {
                        Interlocked.Increment(ref missing);
                    }

                    break;
                case 2:
                    catalog.TryGetPrice($"test/m{i - 2}", out _);
                    catalog.TryGetPrice($"unknown/m{i}", out _);
                    break;
                default:
                    _ = catalog.GetPrices().Count;
                    break;
            }
        });

        Assert.Equal(0, missing);
        for (var i = 0; i < Iterations; i += 4)
        {
            Assert.True(catalog.TryGetPrice($"test/m{i}", out var price), $"test/m{i}");
            Assert.Equal((i, i * 2), ((int)price.InputPerToken, (int)price.OutputPerToken));
        }

        Assert.Equal(EmbeddedPrices.Load().Count + (Iterations / 4), catalog.GetPrices().Count);
    }
}
