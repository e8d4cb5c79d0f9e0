using System.Text;
using AgentHarness.Testing;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using OpenAI.Chat;

namespace AgentHarness.Tests.Testing;

public sealed class SandboxAgentHarnessBuilderExtensionsTests
{
    // The README's appsettings.json, with variables no machine sets, so that no key is found whatever the environment.
    private const string ReadmeSettings = """
        {
          "AgentHarness": {
            "Providers": {
              "requesty": {
                "BaseUrl": "https://router.requesty.ai/v1",
                "ApiKeyEnvironmentVariable": "AGENTHARNESS_TESTS_UNSET_REQUESTY_KEY",
                "IsGateway": true,
                "MetadataHeaderPrefix": "X-Requesty-"
              },
              "openai": {
                "BaseUrl": "https://api.openai.com/v1",
                "ApiKeyEnvironmentVariable": "AGENTHARNESS_TESTS_UNSET_OPENAI_KEY"
              }
            }
          }
        }
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task UseSandbox_ReadmeSettingsWithoutKeys_StartsAndAnswersEveryProviderOffline()
    {
        var transport = new RealTransport();
        using var services = Build(transport, static b => b.UseSandbox(), ReadmeSettings);

        services.GetRequiredService<IStartupValidator>().Validate();
        var sandbox = services.GetRequiredService<SandboxProvider>();
        sandbox.Model("openai/gpt-4.1-nano").Reply("offline nano");
        var harness = services.GetRequiredService<IAgentHarness>();

        ChatCompletion direct = await harness.GetChatClient("openai/gpt-4.1-nano").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);
        ChatCompletion viaGateway = await harness.GetChatClient("google/gemini-2.5-flash").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal("offline nano", direct.Content[0].Text);
        Assert.Equal("Sandbox answer from google/gemini-2.5-flash to: hi", viaGateway.Content[0].Text);
        Assert.Empty(transport.Requests);
        Assert.Equal(["openai", "requesty"], sandbox.Requests.Select(static r => r.Provider));

        // No key is configured, so the sandbox receives no credentials at all.
        Assert.All(sandbox.Requests, static r => Assert.False(r.Headers.ContainsKey("Authorization")));
    }

    [Fact]
    public async Task UseSandbox_TokenProviderAddedAfterTheSandbox_NoTokenIsFetchedOffline()
    {
        var source = new FakeTokenSource(TimeProvider.System) { Failure = new InvalidOperationException("the identity endpoint was reached") };
        const string Json = """
            { "AgentHarness": { "Providers": { "azure": { "BaseUrl": "https://contoso.openai.azure.com/openai/v1/", "Authentication": "Token", "TokenScope": "https://ai.azure.com/.default" } } } }
            """;
        var sandbox = new SandboxProvider();
        using var services = Build(new RealTransport(), b => b.UseSandbox(sandbox).AddProviderTokenSource("azure", source), Json);

        services.GetRequiredService<IStartupValidator>().Validate();
        await services.GetRequiredService<IAgentHarness>().GetChatClient("azure/gpt-4.1").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal(0, source.Fetches);
        Assert.False(sandbox.Requests.Single().Headers.ContainsKey("Authorization"));
    }

    [Fact]
    public async Task UseSandbox_ProviderWithKey_SandboxReceivesThatProvidersKey()
    {
        var sandbox = new SandboxProvider();
        using var services = Build(new RealTransport(), b => ThreeProviders(b.UseSandbox(sandbox)));

        await services.GetRequiredService<IAgentHarness>().GetChatClient("mistral/small").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal(["Bearer key-mistral"], sandbox.Requests.Single().Headers["Authorization"]);
    }

    [Fact]
    public async Task UseSandbox_NoSandboxGiven_RegistersOneSingletonOnTheHarnessClock()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddAgentHarness().UseSandbox().UseSandbox();
        using var provider = services.BuildServiceProvider();

        var sandbox = provider.GetRequiredService<SandboxProvider>();
        using var request = new HttpRequestMessage(HttpMethod.Get, "https://sandbox.test/v1/models");
        using var response = await sandbox.HandleAsync(request, Ct);

        Assert.Same(sandbox, provider.GetRequiredService<SandboxProvider>());
        Assert.Single(services, static d => d.ServiceType == typeof(SandboxProvider));
        Assert.Equal(time.GetUtcNow(), sandbox.Requests.Single().ReceivedAt);
    }

    [Fact]
    public async Task UseSandbox_NamedProvider_AnswersOnlyThatProviderAndOthersKeepTheirTransport()
    {
        var transport = new RealTransport();
        var sandbox = new SandboxProvider();
        sandbox.Model("openai/gpt-4.1-nano").Reply("from the sandbox");
        using var services = Build(transport, b => ThreeProviders(b).UseSandbox(sandbox, "OpenAI"));
        var harness = services.GetRequiredService<IAgentHarness>();

        ChatCompletion sandboxed = await harness.GetChatClient("openai/gpt-4.1-nano").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);
        ChatCompletion direct = await harness.GetChatClient("mistral/small").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);
        ChatCompletion viaGateway = await harness.GetChatClient("anthropic/claude-sonnet-4-5").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal("from the sandbox", sandboxed.Content[0].Text);
        Assert.Equal("from the real transport", direct.Content[0].Text);
        Assert.Equal("from the real transport", viaGateway.Content[0].Text);
        var sent = Assert.Single(sandbox.Requests);
        Assert.Equal("openai", sent.Provider);
        Assert.Equal(["Bearer key-openai"], sent.Headers["Authorization"]);
        Assert.Equal(
            [("https://mistral.test/v1/chat/completions", "Bearer key-mistral"), ("https://gateway.test/v1/chat/completions", "Bearer key-gateway")],
            transport.Requests.Select(static r => (r.Uri.ToString(), r.Authorization)));
    }

    [Fact]
    public void UseSandbox_NamedProviderWithoutKey_StartsWhileOtherProvidersStillNeedTheirKeys()
    {
        using var sandboxedOnly = Build(new RealTransport(), static b => b.UseSandbox(null, "openai"), ReadmeSettings);

        var ex = Assert.Throws<OptionsValidationException>(() => sandboxedOnly.GetRequiredService<IStartupValidator>().Validate());

        var failure = Assert.Single(ex.Failures);
        Assert.Contains("AgentHarness:Providers:requesty:ApiKey is empty", failure, StringComparison.Ordinal);

        using var both = Build(new RealTransport(), static b => b.UseSandbox(null, "openai", "requesty"), ReadmeSettings);
        both.GetRequiredService<IStartupValidator>().Validate();
    }

    [Fact]
    public void UseSandbox_UnknownProviderName_FailsStartNamingItAndTheConfiguredProviders()
    {
        using var services = Build(new RealTransport(), static b => ThreeProviders(b).UseSandbox(new SandboxProvider(), "openai", "opneai"));

        var ex = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IStartupValidator>().Validate());

        Assert.Equal(
            "UseSandbox names the provider 'opneai', which is not configured (configured: requesty, openai, mistral).",
            Assert.Single(ex.Failures));
    }

    [Fact]
    public void UseSandbox_EmptyProviderName_Throws()
    {
        var builder = new ServiceCollection().AddAgentHarness();

        Assert.Throws<ArgumentException>(() => builder.UseSandbox(null, "openai", " "));
    }

    [Fact]
    public async Task UseSandbox_CalledTwice_LastCallThatCoversAProviderAnswersIt()
    {
        var everything = new SandboxProvider();
        var openai = new SandboxProvider();
        var transport = new RealTransport();
        using var services = Build(transport, b => ThreeProviders(b).UseSandbox(everything).UseSandbox(openai, "openai").UseSandbox(openai, "openai"));
        var harness = services.GetRequiredService<IAgentHarness>();

        await harness.GetChatClient("openai/gpt-4.1-nano").CompleteChatAsync([new UserChatMessage("one")], cancellationToken: Ct);
        await harness.GetChatClient("mistral/small").CompleteChatAsync([new UserChatMessage("two")], cancellationToken: Ct);

        Assert.Equal(["one"], openai.Requests.Select(static r => r.LastUserMessage));
        Assert.Equal(["two"], everything.Requests.Select(static r => r.LastUserMessage));
        Assert.Empty(transport.Requests);

        // The service registered for applications to resolve is the first sandbox given.
        Assert.Same(everything, services.GetRequiredService<SandboxProvider>());
    }

    [Fact]
    public async Task UseSandbox_EveryProviderThenOneNamed_NamedCallDoesNotTakeTheOthersBack()
    {
        var first = new SandboxProvider();
        var second = new SandboxProvider();
        var transport = new RealTransport();
        using var services = Build(transport, b => ThreeProviders(b).UseSandbox(first, "openai").UseSandbox(second));
        var harness = services.GetRequiredService<IAgentHarness>();

        await harness.GetChatClient("openai/gpt-4.1-nano").CompleteChatAsync([new UserChatMessage("one")], cancellationToken: Ct);
        await harness.GetChatClient("mistral/small").CompleteChatAsync([new UserChatMessage("two")], cancellationToken: Ct);

        Assert.Empty(first.Requests);
        Assert.Equal(["one", "two"], second.Requests.Select(static r => r.LastUserMessage));
        Assert.Empty(transport.Requests);
    }

    [Fact]
    public async Task UseSandbox_ModelListOfASandboxedProvider_IsAnsweredInProcess()
    {
        var transport = new RealTransport();
        var sandbox = new SandboxProvider();
        sandbox.Model("gpt-4.1-nano");
        using var services = Build(transport, b => ThreeProviders(b).UseSandbox(sandbox, "openai"), configureServices: s =>
            s.AddHttpClient("AgentHarness.Management").ConfigurePrimaryHttpMessageHandler(() => transport));
        var discovery = services.GetRequiredService<IModelDiscovery>();

        var sandboxed = await discovery.ListModelsAsync("openai", Ct);
        var real = await discovery.ListModelsAsync("mistral", Ct);

        Assert.Equal(["gpt-4.1-nano"], sandboxed.Select(static m => m.Id));
        Assert.Equal(["real-model"], real.Select(static m => m.Id));
        var list = Assert.Single(sandbox.Requests);
        Assert.Equal(("GET", "openai", (string?)null), (list.Method, list.Provider, list.RequestedModel));
        Assert.Equal(["https://mistral.test/v1/models"], transport.Requests.Select(static r => r.Uri.ToString()));
    }

    [Fact]
    public void UseSandbox_SynchronousCall_IsAnsweredBySandbox()
    {
        var transport = new RealTransport();
        var sandbox = new SandboxProvider();
        sandbox.Model("openai/gpt-4.1-nano").Reply("sync");
        using var services = Build(transport, b => ThreeProviders(b).UseSandbox(sandbox, "openai"));

        ChatCompletion completion = services.GetRequiredService<IAgentHarness>().GetChatClient("openai/gpt-4.1-nano").CompleteChat([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal("sync", completion.Content[0].Text);
        Assert.Empty(transport.Requests);
    }

    [Fact]
    public async Task AddSandboxGateway_GatewayIds_AnsweredWithoutKeyOrNetwork()
    {
        var transport = new RealTransport();
        var sandbox = new SandboxProvider();
        sandbox.Model("policy/claude-4").Reply("gateway policy");
        using var services = Build(transport, b => b.AddSandboxGateway(sandbox));

        services.GetRequiredService<IStartupValidator>().Validate();
        ChatCompletion completion = await services.GetRequiredService<IAgentHarness>().GetChatClient("policy/claude-4").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal("gateway policy", completion.Content[0].Text);
        Assert.Equal("sandbox", sandbox.Requests.Single().Provider);
        Assert.Empty(transport.Requests);
    }

    private static IAgentHarnessBuilder ThreeProviders(IAgentHarnessBuilder builder)
    {
        TestHarness.ThreeProviders(builder);
        return builder;
    }

    /// <summary>
    /// A harness as an application builds it; the transport is configured after <paramref name="configure"/>, as an
    /// application that replaces it would, so the sandbox must sit above whatever transport ends up configured.
    /// </summary>
    private static ServiceProvider Build(RealTransport transport, Action<IAgentHarnessBuilder> configure, string? json = null, Action<IServiceCollection>? configureServices = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(new FakeTimeProvider(new DateTimeOffset(2026, 5, 1, 9, 0, 0, TimeSpan.Zero)));
        var builder = json is null
            ? services.AddAgentHarness()
            : services.AddAgentHarness(new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build().GetSection("AgentHarness"));
        builder.Configure(static o => o.Catalog.UnpricedModels = UnpricedModelHandling.Allow);
        configure(builder);
        builder.ConfigureHttpClient(b => b.ConfigurePrimaryHttpMessageHandler(() => transport));
        configureServices?.Invoke(services);
        return services.BuildServiceProvider();
    }
}
