using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using OpenAI.Chat;

namespace AgentHarness.Azure.Tests;

public sealed class AzureCredentialBuilderExtensionsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly ChatMessage[] Messages = [new UserChatMessage("Hi.")];

    private sealed class Host(ServiceProvider services, FakeTimeProvider time, RecordingHandler provider) : IDisposable
    {
        public IAgentHarness Harness { get; } = services.GetRequiredService<IAgentHarness>();

        public FakeTimeProvider Time => time;

        public RecordingHandler Provider => provider;

        public IUsageLedger Ledger { get; } = services.GetRequiredService<IUsageLedger>();

        public void Dispose() => services.Dispose();
    }

    /// <summary>A harness bound from JSON, as an application binds appsettings.json, over a recording transport and a fake clock.</summary>
    private static Host Create(string json, Action<IAgentHarnessBuilder, FakeTimeProvider> configure)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 5, 1, 9, 0, 0, TimeSpan.Zero));
        var provider = new RecordingHandler();
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        var builder = services.AddAgentHarness(configuration.GetSection("AgentHarness"))
            .Configure(static o => o.Catalog.UnpricedModels = UnpricedModelHandling.Allow)
            .ConfigureHttpClient(b => b.ConfigurePrimaryHttpMessageHandler(() => provider));
        configure(builder, time);
        return new Host(services.BuildServiceProvider(), time, provider);
    }

    // The README's Entra ID example.
    private const string EntraJson = """
        {
          "AgentHarness": {
            "Providers": {
              "azure": {
                "BaseUrl": "https://contoso.openai.azure.com/openai/v1/",
                "Authentication": "Token"
              },
              "openai": {
                "BaseUrl": "https://api.openai.com/v1",
                "ApiKey": "sk-openai-test-0123456789"
              }
            },
            "Policies": {
              "chat": { "Models": [ { "Model": "azure/gpt-4.1" }, { "Model": "openai/gpt-4.1" } ] }
            }
          }
        }
        """;

    [Fact]
    public async Task AddAzureCredential_Configured_ProviderReceivesTheCredentialsBearerTokenAndNoKey()
    {
        FakeTokenCredential credential = null!;
        using var host = Create(EntraJson, (b, time) => b.AddAzureCredential("azure", credential = new FakeTokenCredential(time)));

        await host.Harness.GetChatClient("azure/gpt-4.1").CompleteChatAsync(Messages, cancellationToken: Ct);

        var (uri, headers) = Assert.Single(host.Provider.Requests);
        Assert.Equal(new Uri("https://contoso.openai.azure.com/openai/v1/chat/completions"), uri);
        Assert.Equal("Bearer entra-token-1", headers["Authorization"]);
        Assert.False(headers.ContainsKey("api-key"));
        Assert.Equal(["https://cognitiveservices.azure.com/.default"], Assert.Single(credential.Scopes));
    }

    [Fact]
    public async Task AddAzureCredential_32ConcurrentCallsNearExpiry_ServedAtOnceAndTheTokenRefreshedOnce()
    {
        FakeTokenCredential credential = null!;
        using var host = Create(EntraJson, (b, time) => b.AddAzureCredential("azure", credential = new FakeTokenCredential(time)));
        var client = host.Harness.GetChatClient("azure/gpt-4.1");
        await client.CompleteChatAsync(Messages, cancellationToken: Ct);

        // Four minutes before the token expires: due for a refresh, still good to send.
        host.Time.Advance(TimeSpan.FromMinutes(56));
        credential.Hold = true;
        await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(() => client.CompleteChatAsync(Messages, cancellationToken: Ct), Ct)));

        // No call waited for the refresh, and only one was asked for.
        Assert.All(host.Provider.Requests, r => Assert.Equal("Bearer entra-token-1", r.Headers["Authorization"]));
        await credential.WaitForRequestAsync(Ct);
        await credential.WaitForRequestAsync(Ct);
        Assert.Equal(2, credential.Requests);

        credential.Release(32);
        await WaitForTokenAsync(host, client, "Bearer entra-token-2");
        Assert.Equal(2, credential.Requests);
    }

    [Fact]
    public async Task AddAzureCredential_32ConcurrentCallsAfterExpiry_AllWaitForOneFetch()
    {
        FakeTokenCredential credential = null!;
        using var host = Create(EntraJson, (b, time) => b.AddAzureCredential("azure", credential = new FakeTokenCredential(time)));
        var client = host.Harness.GetChatClient("azure/gpt-4.1");
        await client.CompleteChatAsync(Messages, cancellationToken: Ct);

        host.Time.Advance(TimeSpan.FromMinutes(61));
        credential.Hold = true;

        // Started on this thread, each call runs until it waits for the token: all 32 are waiting before the fetch answers.
        var calls = Enumerable.Range(0, 32).Select(_ => client.CompleteChatAsync(Messages, cancellationToken: Ct)).ToArray();
        await credential.WaitForRequestAsync(Ct);
        await credential.WaitForRequestAsync(Ct);
        credential.Release(32);
        await Task.WhenAll(calls);

        Assert.Equal(2, credential.Requests);
        Assert.Equal(33, host.Provider.Requests.Count);
        Assert.All(host.Provider.Requests.Skip(1), r => Assert.Equal("Bearer entra-token-2", r.Headers["Authorization"]));
    }

    [Fact]
    public async Task AddAzureCredential_CredentialFails_ClearErrorNamingTheProviderOneRequestNothingSent()
    {
        FakeTokenCredential credential = null!;
        using var host = Create(EntraJson, (b, time) => b.AddAzureCredential("azure", credential = new FakeTokenCredential(time)
        {
            Failure = new global::Azure.Identity.CredentialUnavailableException("ManagedIdentityCredential authentication unavailable."),
        }));

        var ex = await Assert.ThrowsAsync<ProviderCredentialException>(() => host.Harness.GetChatClient("azure/gpt-4.1").CompleteChatAsync(Messages, cancellationToken: Ct));

        Assert.Equal("azure", ex.Provider);
        Assert.StartsWith("No access token for provider 'azure': CredentialUnavailableException: ManagedIdentityCredential authentication unavailable.", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, credential.Requests);
        Assert.Empty(host.Provider.Requests);
    }

    [Fact]
    public async Task AddAzureCredential_PolicyAzureThenOpenAI_CredentialFailsAndOpenAIGetsOnlyItsOwnKey()
    {
        using var host = Create(EntraJson, (b, time) => b.AddAzureCredential("azure", new FakeTokenCredential(time) { Failure = new InvalidOperationException("down") }));

        await host.Harness.GetChatClient("policy/chat").CompleteChatAsync(Messages, cancellationToken: Ct);

        var (uri, headers) = Assert.Single(host.Provider.Requests);
        Assert.Equal("api.openai.com", uri.Host);
        Assert.Equal("Bearer sk-openai-test-0123456789", headers["Authorization"]);
        Assert.Equal(["azure", "openai"], Assert.Single(host.Ledger.GetRecords()).Attempts.Select(a => a.Provider));
    }

    [Fact]
    public async Task AddAzureCredential_ForEveryTokenProvider_UsesTheConfiguredTokenScope()
    {
        const string Json = """
            {
              "AgentHarness": {
                "Providers": {
                  "foundry": {
                    "BaseUrl": "https://contoso.services.ai.azure.com/openai/v1/",
                    "Authentication": "Token",
                    "TokenScope": "https://ai.azure.com/.default"
                  }
                }
              }
            }
            """;
        FakeTokenCredential credential = null!;
        using var host = Create(Json, (b, time) => b.AddAzureCredential(credential = new FakeTokenCredential(time)));

        await host.Harness.GetChatClient("foundry/gpt-4.1").CompleteChatAsync(Messages, cancellationToken: Ct);

        Assert.Equal(["https://ai.azure.com/.default"], Assert.Single(credential.Scopes));
        Assert.Equal("Bearer entra-token-1", Assert.Single(host.Provider.Requests).Headers["Authorization"]);
    }

    [Fact]
    public void AddAzureCredential_ManagedIdentity_ProviderBecomesATokenProviderAndPassesTheChecks()
    {
        var services = new ServiceCollection();
        services.AddAgentHarness()
            .AddProvider("azure", static p => p.BaseUrl = new Uri("https://contoso.openai.azure.com/openai/v1/"))
            .AddAzureCredential("azure", new global::Azure.Identity.ManagedIdentityCredential(global::Azure.Identity.ManagedIdentityId.SystemAssigned));
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<AgentHarnessOptions>>().Value;

        Assert.Equal(ProviderAuthentication.Token, options.Providers["azure"].Authentication);
    }

    [Fact]
    public void AddAzureCredential_SameProviderTwice_Throws()
    {
        var builder = new ServiceCollection().AddAgentHarness();
        builder.AddAzureCredential("azure", new FakeTokenCredential(TimeProvider.System));

        var ex = Assert.Throws<ArgumentException>(() => builder.AddAzureCredential("AZURE", new FakeTokenCredential(TimeProvider.System)));

        Assert.Contains("already registered for the provider 'AZURE'", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Calls until the background refresh's token is sent; bounded, and each round waits for the call, never for time.</summary>
    private static async Task WaitForTokenAsync(Host host, ChatClient client, string expected)
    {
        for (var i = 0; i < 1000; i++)
        {
            await client.CompleteChatAsync(Messages, cancellationToken: Ct);
            if (host.Provider.Requests[^1].Headers["Authorization"] == expected)
            {
                return;
            }

            await Task.Yield();
        }

        Assert.Fail($"the refreshed token was never sent");
    }
}
