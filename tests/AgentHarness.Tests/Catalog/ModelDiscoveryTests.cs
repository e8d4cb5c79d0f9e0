using System.Net;
using AgentHarness.Catalog.Internal;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Time.Testing;
using RichardSzalay.MockHttp;

namespace AgentHarness.Tests.Catalog;

/// <summary>Model discovery as the container builds it: every provider's list read with its own key, failures kept apart, prices fed to the catalog on request.</summary>
public sealed class ModelDiscoveryTests
{
    private const string ManagementClient = "AgentHarness.Management";
    private const string RequestyModels = "https://gateway.test/v1/models";
    private const string OpenRouterModels = "https://openrouter.test/v1/models";

    private static readonly DateTimeOffset Now = new(2026, 11, 24, 9, 30, 0, TimeSpan.Zero);
    private static readonly DateOnly Today = new(2026, 11, 24);

    // Requesty's shape: flat per-token prices as numbers or strings, context_window, max_output_tokens.
    private const string RequestyList = """
        {"object":"list","data":[
          {"id":"openai/gpt-4.1-nano","object":"model","owned_by":"openai","input_price":0.0000001,"output_price":4e-7,"cached_price":0.000000025,"context_window":1047576,"max_output_tokens":32768},
          {"id":"acme/free-chat","object":"model","input_price":"0","output_price":"0","context_window":8192},
          {"id":"acme/unpriced","object":"model","context_window":32000}
        ]}
        """;

    // OpenRouter's shape: pricing strings, context_length, top_provider.max_completion_tokens.
    private const string OpenRouterList = """
        {"data":[
          {"id":"anthropic/claude-sonnet-4.5","name":"Anthropic: Claude Sonnet 4.5","context_length":1000000,
           "pricing":{"prompt":"0.000003","completion":"0.000015","input_cache_read":"0.0000003","request":"0","image":"0"},
           "top_provider":{"context_length":1000000,"max_completion_tokens":64000,"is_moderated":false}},
          {"id":"mistralai/mistral-small-3.2","context_length":131072,
           "pricing":{"prompt":"0.00000005","completion":"0.0000001"},
           "top_provider":{"max_completion_tokens":null}}
        ]}
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static DiscoveredModel[] ExpectedRequesty =>
    [
        new()
        {
            Provider = "requesty",
            Id = "openai/gpt-4.1-nano",
            CatalogId = "openai/gpt-4.1-nano",
            ContextWindow = 1_047_576,
            MaxOutputTokens = 32_768,
            Price = new ModelPrice
            {
                InputPerToken = 0.0000001m,
                OutputPerToken = 0.0000004m,
                CachedInputPerToken = 0.000000025m,
                ContextWindow = 1_047_576,
                MaxOutputTokens = 32_768,
                Source = "GET /models of provider 'requesty'",
                AsOf = Today,
            },
        },
        new()
        {
            Provider = "requesty",
            Id = "acme/free-chat",
            CatalogId = "acme/free-chat",
            ContextWindow = 8192,
            Price = new ModelPrice { InputPerToken = 0m, OutputPerToken = 0m, ContextWindow = 8192, Source = "GET /models of provider 'requesty'", AsOf = Today },
        },
        new() { Provider = "requesty", Id = "acme/unpriced", CatalogId = "acme/unpriced", ContextWindow = 32_000 },
    ];

    private static DiscoveredModel[] ExpectedOpenRouter =>
    [
        new()
        {
            Provider = "openrouter",
            Id = "anthropic/claude-sonnet-4.5",
            CatalogId = "openrouter/anthropic/claude-sonnet-4.5",
            ContextWindow = 1_000_000,
            MaxOutputTokens = 64_000,
            Price = new ModelPrice
            {
                InputPerToken = 0.000003m,
                OutputPerToken = 0.000015m,
                CachedInputPerToken = 0.0000003m,
                ContextWindow = 1_000_000,
                MaxOutputTokens = 64_000,
                Source = "GET /models of provider 'openrouter'",
                AsOf = Today,
            },
        },
        new()
        {
            Provider = "openrouter",
            Id = "mistralai/mistral-small-3.2",
            CatalogId = "openrouter/mistralai/mistral-small-3.2",
            ContextWindow = 131_072,
            Price = new ModelPrice { InputPerToken = 0.00000005m, OutputPerToken = 0.0000001m, ContextWindow = 131_072, Source = "GET /models of provider 'openrouter'", AsOf = Today },
        },
    ];

    /// <summary>A Requesty-like gateway, then OpenRouter configured as a direct (non-gateway) provider; each with its own key.</summary>
    private static void TwoProviders(IAgentHarnessBuilder builder) => builder
        .AddProvider("requesty", p =>
        {
            p.BaseUrl = new Uri("https://gateway.test/v1");
            p.ApiKey = "key-requesty-secret";
            p.IsGateway = true;
        })
        .AddProvider("openrouter", p =>
        {
            p.BaseUrl = new Uri("https://openrouter.test/v1");
            p.ApiKey = "key-openrouter-secret";
        });

    private static ServiceProvider Build(HttpMessageHandler management, Action<IAgentHarnessBuilder>? providers = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(new FakeTimeProvider(Now));
        var builder = services.AddAgentHarness();
        (providers ?? TwoProviders)(builder);
        services.AddHttpClient(ManagementClient).ConfigurePrimaryHttpMessageHandler(() => management);

        // The management client's standard resilience handler retries a 500 or a lost connection after
        // a delay on the (fake, never advancing) clock; retry at once so a failure ends the test.
        services.Configure<HttpStandardResilienceOptions>(ManagementClient + "-standard", static o => o.Retry.Delay = TimeSpan.Zero);
        return services.BuildServiceProvider();
    }

    private static RecordingMock BothAnswer()
    {
        var mock = new RecordingMock();
        mock.Respond(RequestyModels, _ => Responses.Json(RequestyList));
        mock.Respond(OpenRouterModels, _ => Responses.Json(OpenRouterList));
        return mock;
    }

    [Fact]
    public async Task DiscoverAsync_TwoProviders_ModelsOfBothInConfigurationAndListOrderWithCatalogIdsLimitsAndExactPrices()
    {
        var mock = BothAnswer();
        using var services = Build(mock.Handler);
        var discovery = services.GetRequiredService<IModelDiscovery>();

        var result = await discovery.DiscoverAsync(Ct);

        Assert.Empty(result.Failures);
        Assert.Equal([.. ExpectedRequesty, .. ExpectedOpenRouter], result.Models);
    }

    [Fact]
    public async Task DiscoverAsync_ProvidersConfiguredInOtherOrder_ModelsFollowConfigurationOrder()
    {
        var mock = BothAnswer();
        using var services = Build(mock.Handler, b => b
            .AddProvider("openrouter", p => { p.BaseUrl = new Uri("https://openrouter.test/v1"); p.ApiKey = "key-openrouter-secret"; })
            .AddProvider("requesty", p => { p.BaseUrl = new Uri("https://gateway.test/v1"); p.ApiKey = "key-requesty-secret"; p.IsGateway = true; }));

        var result = await services.GetRequiredService<IModelDiscovery>().DiscoverAsync(Ct);

        Assert.Equal([.. ExpectedOpenRouter, .. ExpectedRequesty], result.Models);
    }

    [Fact]
    public async Task DiscoverAsync_ModelListedWithoutPrices_ListedWithNullPriceAndItsLimits()
    {
        var mock = BothAnswer();
        using var services = Build(mock.Handler);

        var result = await services.GetRequiredService<IModelDiscovery>().DiscoverAsync(Ct);

        var unpriced = Assert.Single(result.Models, static m => m.Id == "acme/unpriced");
        Assert.Null(unpriced.Price);
        Assert.Equal(32_000, unpriced.ContextWindow);
        Assert.Null(unpriced.MaxOutputTokens);
    }

    [Fact]
    public async Task DiscoverAsync_EachProvider_GetsItsOwnKeyOnlyAndTheExactModelsPath()
    {
        var mock = BothAnswer();
        using var services = Build(mock.Handler);

        await services.GetRequiredService<IModelDiscovery>().DiscoverAsync(Ct);

        Assert.Equal(2, mock.Requests.Count);
        var requesty = Assert.Single(mock.Requests, static r => r.Uri.Host == "gateway.test");
        var openRouter = Assert.Single(mock.Requests, static r => r.Uri.Host == "openrouter.test");
        Assert.Equal((HttpMethod.Get, "/v1/models", ""), (requesty.Method, requesty.Uri.AbsolutePath, requesty.Uri.Query));
        Assert.Equal((HttpMethod.Get, "/v1/models", ""), (openRouter.Method, openRouter.Uri.AbsolutePath, openRouter.Uri.Query));
        Assert.Equal(["Bearer key-requesty-secret"], requesty.HeaderValues("Authorization"));
        Assert.Equal(["Bearer key-openrouter-secret"], openRouter.HeaderValues("Authorization"));
        Assert.Equal(string.Empty, requesty.Body);
        Assert.Equal(string.Empty, openRouter.Body);
    }

    [Theory]
    [InlineData(HttpStatusCode.InternalServerError)]
    [InlineData(HttpStatusCode.Unauthorized)]
    public async Task DiscoverAsync_OneProviderAnswersAnError_ErrorInFailuresWithoutTheKeyAndTheOtherListed(HttpStatusCode status)
    {
        var mock = new RecordingMock();
        mock.Respond(RequestyModels, _ => Responses.Json(RequestyList));
        mock.Respond(OpenRouterModels, _ => Responses.Json("""{"error":{"message":"Invalid key key-openrouter-secret","code":"nope"}}""", status));
        using var services = Build(mock.Handler);

        var result = await services.GetRequiredService<IModelDiscovery>().DiscoverAsync(Ct);

        Assert.Equal(ExpectedRequesty, result.Models);
        var (provider, error) = Assert.Single(result.Failures);
        Assert.Equal("openrouter", provider);
        Assert.True(result.Failures.ContainsKey("OpenRouter"));
        Assert.Contains($"HTTP {(int)status}", error, StringComparison.Ordinal);
        Assert.Contains("'openrouter'", error, StringComparison.Ordinal);
        Assert.Contains("Invalid key [key removed]", error, StringComparison.Ordinal);
        Assert.DoesNotContain("key-openrouter-secret", error, StringComparison.Ordinal);
        Assert.DoesNotContain("key-requesty-secret", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DiscoverAsync_BothProvidersFail_BothInFailuresAndNoModels()
    {
        var mock = new RecordingMock();
        mock.Respond(RequestyModels, _ => Responses.Error(HttpStatusCode.Forbidden));
        mock.Respond(OpenRouterModels, _ => Responses.Error(HttpStatusCode.NotFound));
        using var services = Build(mock.Handler);

        var result = await services.GetRequiredService<IModelDiscovery>().DiscoverAsync(Ct);

        Assert.Empty(result.Models);
        Assert.Equal(["openrouter", "requesty"], result.Failures.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("HTTP 403", result.Failures["requesty"], StringComparison.Ordinal);
        Assert.Contains("HTTP 404", result.Failures["openrouter"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task DiscoverAsync_ProviderUnreachable_FailureSaysWhyAndTheOtherListed()
    {
        var mock = new RecordingMock();
        mock.Respond(RequestyModels, _ => Responses.Json(RequestyList));
        mock.Handler.When(OpenRouterModels).Throw(new HttpRequestException("Connection refused (openrouter.test:443)"));
        using var services = Build(mock.Handler);

        var result = await services.GetRequiredService<IModelDiscovery>().DiscoverAsync(Ct);

        Assert.Equal(ExpectedRequesty, result.Models);
        var error = Assert.Single(result.Failures).Value;
        Assert.Contains("'openrouter'", error, StringComparison.Ordinal);
        Assert.Contains("Connection refused (openrouter.test:443)", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DiscoverAsync_NoProviders_EmptyResult()
    {
        var mock = new RecordingMock();
        using var services = Build(mock.Handler, static _ => { });

        var result = await services.GetRequiredService<IModelDiscovery>().DiscoverAsync(Ct);

        Assert.Empty(result.Models);
        Assert.Empty(result.Failures);
        Assert.Empty(mock.Requests);
    }

    [Fact]
    public async Task DiscoverAsync_CanceledWhileProvidersAreAnswering_ThrowsOperationCanceled()
    {
        var hanging = new HangingHandler();
        using var services = Build(hanging);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var discovery = services.GetRequiredService<IModelDiscovery>().DiscoverAsync(cts.Token);
        await hanging.WaitForRequestAsync(Ct);
        await hanging.WaitForRequestAsync(Ct);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => discovery);
    }

    [Fact]
    public async Task DiscoverAsync_AlreadyCanceled_ThrowsOperationCanceledAndSendsNothing()
    {
        var mock = BothAnswer();
        using var services = Build(mock.Handler);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => services.GetRequiredService<IModelDiscovery>().DiscoverAsync(new CancellationToken(canceled: true)));

        Assert.Empty(mock.Requests);
    }

    [Fact]
    public async Task ListModelsAsync_OneProvider_OnlyItsModelsFromOnlyItsList()
    {
        var mock = BothAnswer();
        using var services = Build(mock.Handler);

        var models = await services.GetRequiredService<IModelDiscovery>().ListModelsAsync("OpenRouter", Ct);

        Assert.Equal(ExpectedOpenRouter, models);
        var request = Assert.Single(mock.Requests);
        Assert.Equal(new Uri(OpenRouterModels), request.Uri);
        Assert.Equal(["Bearer key-openrouter-secret"], request.HeaderValues("Authorization"));
    }

    [Fact]
    public async Task ListModelsAsync_UnknownProvider_ThrowsListingConfiguredProvidersAndSendsNothing()
    {
        var mock = BothAnswer();
        using var services = Build(mock.Handler);

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => services.GetRequiredService<IModelDiscovery>().ListModelsAsync("nope", Ct));

        Assert.Equal("provider", ex.ParamName);
        Assert.Contains("'nope'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("requesty", ex.Message, StringComparison.Ordinal);
        Assert.Contains("openrouter", ex.Message, StringComparison.Ordinal);
        Assert.Empty(mock.Requests);
    }

    [Fact]
    public async Task ListModelsAsync_ErrorStatus_ThrowsWithStatusAndExcerptButNotTheKey()
    {
        var mock = new RecordingMock();
        mock.Respond(RequestyModels, _ => Responses.Json("""{"error":{"message":"Incorrect API key provided: key-requesty-secret"}}""", HttpStatusCode.Unauthorized));
        using var services = Build(mock.Handler);

        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => services.GetRequiredService<IModelDiscovery>().ListModelsAsync("requesty", Ct));

        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
        Assert.Contains("HTTP 401", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Incorrect API key provided: [key removed]", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("key-requesty-secret", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("key+requesty/secret=")]
    [InlineData("key\\u002Brequesty\\/secret\\u003D")]
    [InlineData("key%2Brequesty%2Fsecret%3D")]
    [InlineData("key%2brequesty%2fsecret%3d")]
    public async Task ListModelsAsync_ErrorEchoesKeysInAnyForm_ExcerptHasNoKey(string echoed)
    {
        var mock = new RecordingMock();
        mock.Respond(OpenRouterModels, _ => Responses.Json($$$"""{"error":{"message":"Keys seen: {{{echoed}}} and key\u003Copenrouter\u003E\u0026secret"}}""", HttpStatusCode.Unauthorized));
        using var services = Build(mock.Handler, static b => b
            .AddProvider("requesty", p => { p.BaseUrl = new Uri("https://gateway.test/v1"); p.ApiKey = "key+requesty/secret="; p.IsGateway = true; })
            .AddProvider("openrouter", p => { p.BaseUrl = new Uri("https://openrouter.test/v1"); p.ApiKey = "key<openrouter>&secret"; }));

        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => services.GetRequiredService<IModelDiscovery>().ListModelsAsync("openrouter", Ct));

        Assert.Contains("Keys seen: [key removed] and [key removed]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SetPrices_DiscoveredModels_CatalogPricesCallsByCatalogIdAndReturnsHowManyHadPrices()
    {
        var mock = BothAnswer();
        using var services = Build(mock.Handler);
        var catalog = services.GetRequiredService<IPriceCatalog>();
        var before = catalog.GetPrices();
        var result = await services.GetRequiredService<IModelDiscovery>().DiscoverAsync(Ct);

        var count = catalog.SetPrices(result.Models);

        Assert.Equal(4, count);
        foreach (var model in result.Models.Where(static m => m.Price is not null))
        {
            Assert.True(catalog.TryGetPrice(model.CatalogId, out var price), model.CatalogId);
            Assert.Equal(model.Price, price);
        }

        Assert.False(catalog.TryGetPrice("acme/unpriced", out _));
        Assert.False(catalog.GetPrices().ContainsKey("anthropic/claude-sonnet-4.5"));
        Assert.Equal(before.Count + 3, catalog.GetPrices().Count);
    }

    [Fact]
    public void SetPrices_ListedPriceWithoutLimitsOrCachedRate_KeepsWhatTheCatalogKnows()
    {
        using var services = Build(new RecordingMock().Handler);
        var catalog = services.GetRequiredService<IPriceCatalog>();
        Assert.True(catalog.TryGetPrice("openai/gpt-4o", out var known));
        var listed = new ModelPrice { InputPerToken = 0.000002m, OutputPerToken = 0.000009m, Source = "test", AsOf = Today };

        var count = catalog.SetPrices([new DiscoveredModel { Provider = "requesty", Id = "openai/gpt-4o", CatalogId = "openai/gpt-4o", Price = listed }]);

        Assert.Equal(1, count);
        Assert.True(catalog.TryGetPrice("openai/gpt-4o", out var price));
        Assert.Equal(
            listed with { CachedInputPerToken = known.CachedInputPerToken, ContextWindow = known.ContextWindow, MaxOutputTokens = known.MaxOutputTokens },
            price);
    }

    [Fact]
    public void SetPrices_OneEntryHasANegativePrice_ThrowsAndSetsNothing()
    {
        using var services = Build(new RecordingMock().Handler);
        var catalog = services.GetRequiredService<IPriceCatalog>();
        var before = catalog.GetPrices();
        DiscoveredModel[] models =
        [
            new() { Provider = "p", Id = "good", CatalogId = "p/good", Price = new ModelPrice { InputPerToken = 1m, OutputPerToken = 2m } },
            new() { Provider = "p", Id = "bad", CatalogId = "p/bad", Price = new ModelPrice { InputPerToken = -1m, OutputPerToken = 2m } },
        ];

        var ex = Assert.Throws<ArgumentException>(() => catalog.SetPrices(models));

        Assert.Equal("models", ex.ParamName);
        Assert.Contains("'p/bad'", ex.Message, StringComparison.Ordinal);
        Assert.False(catalog.TryGetPrice("p/good", out _));
        Assert.Equal(before.Count, catalog.GetPrices().Count);
    }

    [Fact]
    public void SetPrices_NothingPriced_ReturnsZero()
    {
        using var services = Build(new RecordingMock().Handler);
        var catalog = services.GetRequiredService<IPriceCatalog>();

        Assert.Equal(0, catalog.SetPrices([new DiscoveredModel { Provider = "p", Id = "m", CatalogId = "p/m", ContextWindow = 10 }]));
        Assert.Equal(0, catalog.SetPrices([]));
        Assert.False(catalog.TryGetPrice("p/m", out _));
    }

    [Fact]
    public void AddAgentHarness_ModelDiscoveryAndCatalog_ResolveAsSingletonsSharingOneListClient()
    {
        using var services = Build(new RecordingMock().Handler);

        var discovery = services.GetRequiredService<IModelDiscovery>();

        Assert.Same(discovery, services.GetRequiredService<IModelDiscovery>());
        Assert.IsType<ModelDiscovery>(discovery);
        Assert.Same(services.GetRequiredService<PriceCatalog>(), services.GetRequiredService<IPriceCatalog>());
        Assert.Same(services.GetRequiredService<ModelListClient>(), services.GetRequiredService<ModelListClient>());
    }

    [Fact]
    public void ModelDiscoveryResult_NullArguments_Throw()
    {
        Assert.Throws<ArgumentNullException>("models", () => new ModelDiscoveryResult(null!, new Dictionary<string, string>()));
        Assert.Throws<ArgumentNullException>("failures", () => new ModelDiscoveryResult([], null!));
    }
}
