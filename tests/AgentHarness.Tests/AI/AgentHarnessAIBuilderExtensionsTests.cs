using System.Collections.Concurrent;
using AgentHarness.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AgentHarness.Tests.AI;

public sealed class AgentHarnessAIBuilderExtensionsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AddChatClient_PolicyWithFallback_KeyedClientRoutesItAndTheResponseCarriesTheRecordsExactCost()
    {
        var sandbox = AIClients.FallbackSandbox();
        using var services = AIClients.Build(sandbox, static b => b.AddChatClient("reviewer", AIClients.Policy));
        var reviewer = services.GetRequiredKeyedService<IChatClient>("reviewer");

        var response = await reviewer.GetResponseAsync("Review this.", cancellationToken: Ct);

        var record = Assert.Single(services.GetRequiredService<IUsageLedger>().GetRecords());
        var usage = response.GetHarnessUsage();
        Assert.Same(record, usage);
        Assert.Equal("Looks good.", response.Text);
        Assert.Equal(AIClients.Policy, usage!.ModelRequested);
        Assert.Equal("openai", usage.Provider);
        Assert.Equal("gpt-4.1-mini-2025-04-14", usage.ModelUsed);
        Assert.Equal(CostBasis.Catalog, usage.CostBasis);
        Assert.True(usage.CostUsd > 0m);
        Assert.Equal([AttemptOutcome.Failed, AttemptOutcome.Succeeded], usage.Attempts.Select(static a => a.Outcome));
        Assert.Same(record, response.AdditionalProperties![HarnessUsageExtensions.UsageKey]);

        // Nothing made up in the tokens: the usage is the provider's, with no cost count.
        Assert.Equal(record.InputTokens, response.Usage!.InputTokenCount);
        Assert.DoesNotContain(response.Usage.AdditionalCounts ?? [], static c => c.Key.Contains("cost", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task AddChatClient_Streaming_OnlyTheLastUpdateCarriesTheRecord()
    {
        var sandbox = AIClients.FallbackSandbox("A streamed review of several words.");
        using var services = AIClients.Build(sandbox, static b => b.AddChatClient("reviewer", AIClients.Policy));
        var reviewer = services.GetRequiredKeyedService<IChatClient>("reviewer");

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in reviewer.GetStreamingResponseAsync("Review this.", cancellationToken: Ct))
        {
            updates.Add(update);
        }

        var record = Assert.Single(services.GetRequiredService<IUsageLedger>().GetRecords());
        Assert.True(updates.Count > 2);
        Assert.Same(record, updates[^1].GetHarnessUsage());
        Assert.All(updates[..^1], static u => Assert.Null(u.GetHarnessUsage()));
        Assert.True(record.Streaming);
        Assert.Equal(UsageOutcome.Succeeded, record.Outcome);
        Assert.True(record.CostUsd > 0m);

        // Put together, the response carries it too, and its text is the stream's.
        var response = updates.ToChatResponse();
        Assert.Same(record, response.GetHarnessUsage());
        Assert.Equal("A streamed review of several words.", response.Text);
        Assert.Single(response.Messages);
    }

    [Fact]
    public async Task AddChatClient_ConcurrentCallsOnOneClient_EachResponseCarriesItsOwnRecord()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("openai/gpt-4.1-mini").Reply(static r => "echo " + r.LastUserMessage);
        using var services = AIClients.Build(sandbox, static b => b.AddChatClient("fast", "openai/gpt-4.1-mini"));
        var fast = services.GetRequiredKeyedService<IChatClient>("fast");

        var responses = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(
            async () => await fast.GetResponseAsync(new string('x', i + 1), cancellationToken: Ct), Ct)));

        var records = responses.Select(static r => r.GetHarnessUsage()!).ToArray();
        Assert.Equal(16, records.Distinct().Count());
        for (var i = 0; i < responses.Length; i++)
        {
            // The record is the one of this response's own call: its input grew with the prompt's length.
            Assert.Equal("echo " + new string('x', i + 1), responses[i].Text);
            Assert.Equal(responses[i].Usage!.InputTokenCount, records[i].InputTokens);
        }

        Assert.Equal(records.Select(static r => r.InputTokens).Order(), records.Select(static r => r.InputTokens));
    }

    [Fact]
    public async Task AddChatClient_FunctionInvocationHook_EachRoundTripIsRecordedAndTheResponseCarriesTheLast()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("openai/gpt-4.1-mini").ReplyWithToolCall("get_diff").Reply(static r => "Reviewed " + r.Messages[^1].Content);
        using var services = AIClients.Build(sandbox, static b => b.AddChatClient("reviewer", "openai/gpt-4.1-mini", static c => c.UseFunctionInvocation()));
        var reviewer = services.GetRequiredKeyedService<IChatClient>("reviewer");
        var tool = AIFunctionFactory.Create(() => "+ fetchUserById", "get_diff");

        var response = await reviewer.GetResponseAsync("Review the diff.", new ChatOptions { Tools = [tool] }, Ct);

        var records = services.GetRequiredService<IUsageLedger>().GetRecords();
        Assert.Equal(2, records.Count);
        Assert.Equal("Reviewed \"+ fetchUserById\"", response.Text);
        Assert.Same(records[^1], response.GetHarnessUsage());
    }

    [Fact]
    public async Task AddChatClient_DistributedCacheHit_CarriesNoRecord()
    {
        var sandbox = AIClients.FallbackSandbox();
        using var services = AIClients.Build(
            sandbox,
            static b => b.AddChatClient("reviewer", AIClients.Policy, static c => c.UseDistributedCache()),
            static s => s.AddSingleton<IDistributedCache, DictionaryCache>());
        var reviewer = services.GetRequiredKeyedService<IChatClient>("reviewer");

        var miss = await reviewer.GetResponseAsync("Review this.", cancellationToken: Ct);
        var hit = await reviewer.GetResponseAsync("Review this.", cancellationToken: Ct);

        Assert.NotNull(miss.GetHarnessUsage());
        Assert.Equal("Looks good.", hit.Text);
        Assert.Null(hit.GetHarnessUsage());
        Assert.Single(services.GetRequiredService<IUsageLedger>().GetRecords());
    }

    [Fact]
    public async Task AddEmbeddingGenerator_KeyedGenerator_EmbeddingsCarryTheRecord()
    {
        var sandbox = new SandboxProvider();
        using var services = AIClients.Build(sandbox, static b => b.AddEmbeddingGenerator("embed", "openai/text-embedding-3-small"));
        var embed = services.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>("embed");

        var embeddings = await embed.GenerateAsync(["one", "two"], cancellationToken: Ct);

        var record = Assert.Single(services.GetRequiredService<IUsageLedger>().GetRecords());
        Assert.Equal(2, embeddings.Count);
        Assert.Same(record, embeddings.GetHarnessUsage());
        Assert.Equal("embeddings", record.Operation);
    }

    [Fact]
    public async Task AddChatClient_UnroutableModel_StartFailsNamingTheRegistrationAndTheId()
    {
        using var services = AIClients.Build(new SandboxProvider(), static b => b.AddChatClient("reviewer", "nowhere/model"));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            foreach (var hosted in services.GetServices<IHostedService>())
            {
                await hosted.StartAsync(Ct);
            }
        });

        Assert.StartsWith("AddChatClient(\"reviewer\", \"nowhere/model\"): the model id 'nowhere/model' cannot be routed: ", error.Message, StringComparison.Ordinal);
        Assert.IsType<UnroutableModelException>(error.InnerException);
        Assert.Throws<InvalidOperationException>(() => services.GetRequiredKeyedService<IChatClient>("reviewer"));
    }

    [Fact]
    public void AddChatClient_SameKeyTwice_Throws()
    {
        var builder = new ServiceCollection().AddAgentHarness().AddChatClient("reviewer", AIClients.Policy);

        var error = Assert.Throws<ArgumentException>(() => builder.AddChatClient("reviewer", "openai/gpt-4.1"));

        Assert.Contains("'reviewer'", error.Message, StringComparison.Ordinal);
        builder.AddEmbeddingGenerator("reviewer", "openai/text-embedding-3-small");
    }

    [Theory]
    [InlineData("openai/gpt-4.1-nano", "openai/gpt-4.1", "openai", "gpt-4.1")]
    [InlineData("openai/gpt-4.1-nano", "mistral/mistral-large", "mistral", "mistral-large")]
    [InlineData("google/gemini-2.5-flash", "anthropic/claude-opus-4-1", "requesty", "anthropic/claude-opus-4-1")]
    [InlineData(AIClients.Policy, "openai/gpt-4.1", "openai", "gpt-4.1")]
    public async Task AddChatClient_OptionsNameAnotherModel_SentToItsProviderAsItsNameAndRecordedAndPricedAsIt(
        string registered, string requested, string provider, string sent)
    {
        var sandbox = new SandboxProvider();
        using var services = AIClients.Build(sandbox, b => AIClients.Gateway(b).AddChatClient("client", registered));
        var client = services.GetRequiredKeyedService<IChatClient>("client");
        var options = new ChatOptions { ModelId = requested };

        var response = await client.GetResponseAsync("Review this.", options, Ct);

        var request = Assert.Single(sandbox.Requests);
        Assert.Equal(provider, request.Provider);
        Assert.Equal(sent, request.Model);
        Assert.Equal(requested, request.RequestedModel);
        var record = response.GetHarnessUsage()!;
        Assert.Same(record, Assert.Single(services.GetRequiredService<IUsageLedger>().GetRecords()));
        Assert.Equal(requested, record.ModelRequested);
        Assert.Equal(provider, record.Provider);
        Assert.Equal(CostBasis.Catalog, record.CostBasis);
        Assert.Equal(AIClients.CatalogCost(services, requested, record), record.CostUsd);

        // The caller's options are its own: the model id is taken off a copy.
        Assert.Equal(requested, options.ModelId);
    }

    [Fact]
    public async Task AddChatClient_RunCapAndAnOverrideWhoseWorstCaseDoesNotFit_OverrideRefusedWhileTheRegisteredModelFits()
    {
        var sandbox = new SandboxProvider();
        using var services = AIClients.Build(sandbox, static b => AIClients.Gateway(b).AddChatClient("cheap", "google/gemini-2.5-flash"));
        var cheap = services.GetRequiredKeyedService<IChatClient>("cheap");
        using var run = services.GetRequiredService<IAgentHarness>().BeginRun("agent", static r => r.MaxCostUsd = 0.01m);

        // At most 1000 output tokens: $0.0025 for gemini-2.5-flash fits the cap, $0.075 for claude-opus-4-1 does not.
        var fits = await cheap.GetResponseAsync("Review this.", new ChatOptions { MaxOutputTokens = 1000 }, Ct);
        var refused = await Assert.ThrowsAsync<BudgetExceededException>(() =>
            cheap.GetResponseAsync("Review this.", new ChatOptions { MaxOutputTokens = 1000, ModelId = "anthropic/claude-opus-4-1" }, Ct));

        Assert.Equal("google/gemini-2.5-flash", fits.GetHarnessUsage()!.ModelRequested);
        Assert.Equal("MaxCostUsd", refused.Rule);
        Assert.Equal("anthropic/claude-opus-4-1", refused.Model);
        Assert.Single(sandbox.Requests);
        Assert.Equal(fits.GetHarnessUsage()!.CostUsd, run.SpentUsd);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("openai/gpt-4.1-nano")]
    [InlineData("gpt-4.1-nano")]
    public async Task AddChatClient_OptionsNameTheRegisteredIdOrTheNameItSends_TheRegisteredCallWithTheProvidersName(string? modelId)
    {
        var sandbox = new SandboxProvider();
        using var services = AIClients.Build(sandbox, static b => b.AddChatClient("nano", "openai/gpt-4.1-nano"));
        var nano = services.GetRequiredKeyedService<IChatClient>("nano");

        var response = await nano.GetResponseAsync("Review this.", new ChatOptions { ModelId = modelId }, Ct);

        var request = Assert.Single(sandbox.Requests);
        Assert.Equal("openai", request.Provider);
        Assert.Equal("gpt-4.1-nano", request.Model);
        Assert.Equal("openai/gpt-4.1-nano", response.GetHarnessUsage()!.ModelRequested);
        Assert.Equal("gpt-4.1-nano", nano.GetService<ChatClientMetadata>()!.DefaultModelId);
    }

    [Fact]
    public async Task AddChatClient_StreamingWithAnotherModel_SentToItsProviderAndTheLastUpdateCarriesItsRecord()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("mistral/mistral-large").Reply("A streamed review of several words.");
        using var services = AIClients.Build(sandbox, static b => b.AddChatClient("nano", "openai/gpt-4.1-nano"));
        var nano = services.GetRequiredKeyedService<IChatClient>("nano");

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in nano.GetStreamingResponseAsync("Review this.", new ChatOptions { ModelId = "mistral/mistral-large" }, Ct))
        {
            updates.Add(update);
        }

        var request = Assert.Single(sandbox.Requests);
        Assert.True(request.Stream);
        Assert.Equal("mistral", request.Provider);
        Assert.Equal("mistral-large", request.Model);
        var record = Assert.Single(services.GetRequiredService<IUsageLedger>().GetRecords());
        Assert.Same(record, updates[^1].GetHarnessUsage());
        Assert.True(record.Streaming);
        Assert.Equal("mistral/mistral-large", record.ModelRequested);
        Assert.Equal("mistral", record.Provider);
        Assert.Equal(AIClients.CatalogCost(services, "mistral/mistral-large", record), record.CostUsd);
        Assert.Equal("A streamed review of several words.", updates.ToChatResponse().Text);
    }

    [Fact]
    public async Task AddChatClient_OptionsNameAnUnroutableId_FailsAsTheHarnessDoesForThatIdAndSendsNothing()
    {
        var sandbox = new SandboxProvider();
        using var services = AIClients.Build(sandbox, static b => b.AddChatClient("nano", "openai/gpt-4.1-nano"));
        var nano = services.GetRequiredKeyedService<IChatClient>("nano");
        var options = new ChatOptions { ModelId = "nowhere/model" };
        var expected = Assert.Throws<UnroutableModelException>(() => services.GetRequiredService<IAgentHarness>().GetChatClient("nowhere/model"));

        var whole = await Assert.ThrowsAsync<UnroutableModelException>(() => nano.GetResponseAsync("Review this.", options, Ct));
        var streamed = await Assert.ThrowsAsync<UnroutableModelException>(async () =>
        {
            await foreach (var update in nano.GetStreamingResponseAsync("Review this.", options, Ct))
            {
                Assert.Fail("no update: " + update);
            }
        });

        Assert.Equal(expected.Message, whole.Message);
        Assert.Equal(expected.Message, streamed.Message);
        Assert.Empty(sandbox.Requests);
    }

    [Theory]
    [InlineData("openai/text-embedding-3-large", "text-embedding-3-large")]
    [InlineData("openai/text-embedding-3-small", "text-embedding-3-small")]
    public async Task AddEmbeddingGenerator_OptionsNameAModel_SentAsItsNameAndRecordedAndPricedAsIt(string requested, string sent)
    {
        var sandbox = new SandboxProvider();
        using var services = AIClients.Build(sandbox, static b => b.AddEmbeddingGenerator("embed", "openai/text-embedding-3-small"));
        var embed = services.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>("embed");

        var embeddings = await embed.GenerateAsync(["fetchUserById"], new EmbeddingGenerationOptions { ModelId = requested }, Ct);

        var request = Assert.Single(sandbox.Requests);
        Assert.Equal("openai", request.Provider);
        Assert.Equal(sent, request.Model);
        var record = embeddings.GetHarnessUsage()!;
        Assert.Equal(requested, record.ModelRequested);
        Assert.Equal(AIClients.CatalogCost(services, requested, record), record.CostUsd);
    }

    /// <summary>A distributed cache in a dictionary, as far as <c>UseDistributedCache</c> needs one.</summary>
    private sealed class DictionaryCache : IDistributedCache
    {
        private readonly ConcurrentDictionary<string, byte[]> _entries = new();

        public byte[]? Get(string key) => _entries.TryGetValue(key, out var value) ? value : null;

        public Task<byte[]?> GetAsync(string key, CancellationToken token = default) => Task.FromResult(Get(key));

        public void Refresh(string key)
        {
        }

        public Task RefreshAsync(string key, CancellationToken token = default) => Task.CompletedTask;

        public void Remove(string key) => _entries.TryRemove(key, out _);

        public Task RemoveAsync(string key, CancellationToken token = default)
        {
            Remove(key);
            return Task.CompletedTask;
        }

        public void Set(string key, byte[] value, DistributedCacheEntryOptions options) => _entries[key] = value;

        public Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default)
        {
            Set(key, value, options);
            return Task.CompletedTask;
        }
    }
}
