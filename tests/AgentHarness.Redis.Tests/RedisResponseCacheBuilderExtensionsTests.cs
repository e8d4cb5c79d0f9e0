using AgentHarness.Redis.Tests.Support;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace AgentHarness.Redis.Tests;

/// <summary>The response cache's second level on the real redis-server: replicas share answers, scopes stay apart.</summary>
public sealed class RedisResponseCacheBuilderExtensionsTests(RedisServer server)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Replica Create(DelegateHandler transport, string prefix) => Replica.Create(
        transport,
        o => { o.ConnectionString = server.ConnectionString; o.KeyPrefix = prefix; },
        static o => o.ResponseCache.Enabled = true,
        s => s.AddAgentHarness().AddRedisResponseCache(c => c.InstanceName = prefix + ":"));

    /// <summary>Waits (bounded) until the entry a call stored has reached Redis: the second level is written after the call returned.</summary>
    private async Task WaitForKeysAsync(string prefix, int count)
    {
        var until = DateTime.UtcNow.AddSeconds(20);
        while (server.Connection.GetServer(server.ConnectionString).Keys(pattern: prefix + ":agentharness:response:*").Count() < count && DateTime.UtcNow < until)
        {
            await Task.Delay(10, Ct);
        }
    }

    [Fact]
    public async Task AddRedisResponseCache_TwoReplicas_TheSecondIsServedFromRedisWithoutAnUpstreamCall()
    {
        var prefix = RedisServer.NewPrefix(nameof(AddRedisResponseCache_TwoReplicas_TheSecondIsServedFromRedisWithoutAnUpstreamCall));
        var transport = new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(10, 20)));
        using var a = Create(transport, prefix);
        using var b = Create(transport, prefix);

        await a.Client.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);
        await WaitForKeysAsync(prefix, 1);
        var hit = await b.Client.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal(1, transport.Calls);
        Assert.Equal("ok", hit.Value.Content[0].Text);
        var record = Assert.Single(b.Ledger.GetRecords());
        Assert.Equal((true, 0m, 0.00009m), (record.FromCache, record.CostUsd, record.SavedUsd));
    }

    [Fact]
    public async Task AddRedisResponseCache_TwoCustomersOnTwoReplicas_NeverShare()
    {
        var prefix = RedisServer.NewPrefix(nameof(AddRedisResponseCache_TwoCustomersOnTwoReplicas_NeverShare));
        var transport = new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(10, 20)));
        using var a = Create(transport, prefix);
        using var b = Create(transport, prefix);

        using (a.Harness.BeginRun("agent", r => r.Customer = "acme"))
        {
            await a.Client.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);
        }

        await WaitForKeysAsync(prefix, 1);
        using (b.Harness.BeginRun("agent", r => r.Customer = "globex"))
        {
            await b.Client.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);
        }

        Assert.Equal(2, transport.Calls);
        Assert.False(Assert.Single(b.Ledger.GetRecords()).FromCache);
    }

    [Fact]
    public async Task AddRedisResponseCache_TwoApplicationsWithTheirOwnKeyPrefixes_NeverShareAnswers()
    {
        var prefixA = RedisServer.NewPrefix("appA");
        var prefixB = RedisServer.NewPrefix("appB");
        var toA = new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(10, 20)));
        var toB = new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(10, 20)));

        // Each application names only its budget store's prefix, as the README shows; the cache takes it.
        Replica App(DelegateHandler transport, string prefix) => Replica.Create(
            transport,
            o => { o.ConnectionString = server.ConnectionString; o.KeyPrefix = prefix; },
            static o => o.ResponseCache.Enabled = true,
            static s => s.AddAgentHarness().AddRedisResponseCache());
        using var a = App(toA, prefixA);
        using var b = App(toB, prefixB);

        await a.Client.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);
        await WaitForKeysAsync(prefixA + ":cache", 1);
        await b.Client.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal((1, 1), (toA.Calls, toB.Calls));
        Assert.False(Assert.Single(b.Ledger.GetRecords()).FromCache);
        Assert.Equal(prefixA + ":cache:", a.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<RedisCacheOptions>>().Value.InstanceName);
    }

    [Theory]
    [InlineData("key")]
    [InlineData("scope")]
    [InlineData("all")]
    public async Task RemoveOnOneReplica_AnotherReplicasMemoryCopy_ServedAtMostLocalTimeToLiveThenGone(string removal)
    {
        var prefix = RedisServer.NewPrefix(nameof(RemoveOnOneReplica_AnotherReplicasMemoryCopy_ServedAtMostLocalTimeToLiveThenGone) + removal);
        var transport = new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(10, 20)));
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        using var a = Shared(transport, prefix, time);
        using var b = Shared(transport, prefix, time);

        var stored = await AskAsync(a);
        await WaitForKeysAsync(prefix, 1);
        Assert.True((await AskAsync(b)).FromCache);

        var cache = a.Services.GetRequiredService<IResponseCache>();
        await (removal switch
        {
            "key" => cache.RemoveAsync(stored.CacheKey!, Ct),
            "scope" => cache.RemoveScopeAsync(new Dictionary<string, string> { ["customer"] = "acme" }, Ct),
            _ => cache.RemoveAllAsync(Ct),
        });

        // The other replica's memory copy stands for its time in memory, and no longer.
        Assert.True((await AskAsync(b)).FromCache);
        Assert.Equal(1, transport.Calls);
        time.Advance(TimeSpan.FromMinutes(1));
        var after = await AskAsync(b);

        Assert.False(after.FromCache);
        Assert.Equal(2, transport.Calls);
    }

    [Theory]
    [InlineData("scope")]
    [InlineData("all")]
    public async Task RemoveOnOneReplica_ReadOnlyCallsOfAnother_NotServedTheRemovedEntry(string removal)
    {
        var prefix = RedisServer.NewPrefix(nameof(RemoveOnOneReplica_ReadOnlyCallsOfAnother_NotServedTheRemovedEntry) + removal);
        var transport = new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(10, 20)));
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        using var a = Shared(transport, prefix, time);
        using var b = Shared(transport, prefix, time);

        await AskAsync(a);
        await WaitForKeysAsync(prefix, 1);
        Assert.True((await AskAsync(b, ResponseCacheMode.ReadOnly)).FromCache);
        var cache = a.Services.GetRequiredService<IResponseCache>();
        await (removal == "scope" ? cache.RemoveScopeAsync(new Dictionary<string, string> { ["customer"] = "acme" }, Ct) : cache.RemoveAllAsync(Ct));

        // A read-only call keeps nothing in memory: it reads the second level, and the removal written down there, every time.
        Assert.False((await AskAsync(b, ResponseCacheMode.ReadOnly)).FromCache);
        Assert.Equal(2, transport.Calls);
    }

    [Fact]
    public async Task RemoveOnOneReplica_ReplicasWithDifferentTimesToLive_TheRemovalIsJudgedByWhenTheEntryWasStored()
    {
        var prefix = RedisServer.NewPrefix(nameof(RemoveOnOneReplica_ReplicasWithDifferentTimesToLive_TheRemovalIsJudgedByWhenTheEntryWasStored));
        var transport = new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(10, 20)));
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);

        // A rolling deploy: the old replica stores for a day, the new one for an hour.
        using var a = Shared(transport, prefix, time, TimeSpan.FromDays(1));
        using var b = Shared(transport, prefix, time, TimeSpan.FromHours(1));

        await AskAsync(a);
        await WaitForKeysAsync(prefix, 1);
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.True((await AskAsync(b)).FromCache);
        await a.Services.GetRequiredService<IResponseCache>().RemoveScopeAsync(new Dictionary<string, string> { ["customer"] = "acme" }, Ct);
        time.Advance(TimeSpan.FromMinutes(1));

        Assert.False((await AskAsync(b)).FromCache);
        Assert.Equal(2, transport.Calls);
    }

    private Replica Shared(DelegateHandler transport, string prefix, TimeProvider time, TimeSpan? timeToLive = null) => Replica.Create(
        transport,
        o => { o.ConnectionString = server.ConnectionString; o.KeyPrefix = prefix; },
        o =>
        {
            o.ResponseCache.Enabled = true;
            o.ResponseCache.TimeToLive = timeToLive ?? o.ResponseCache.TimeToLive;
        },
        s =>
        {
            s.AddSingleton(time);
            s.AddAgentHarness().AddRedisResponseCache(c => c.InstanceName = prefix + ":");
        });

    private static async Task<UsageRecord> AskAsync(Replica replica, ResponseCacheMode? mode = null)
    {
        using var run = replica.Harness.BeginRun("agent", r =>
        {
            r.Customer = "acme";
            r.CacheMode = mode;
        });
        await replica.Client.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);
        return replica.Ledger.GetRecords()[^1];
    }

    [Fact]
    public async Task AddRedisResponseCache_NoConnectionOfItsOwn_UsesTheBudgetStoresConnection()
    {
        var prefix = RedisServer.NewPrefix(nameof(AddRedisResponseCache_NoConnectionOfItsOwn_UsesTheBudgetStoresConnection));
        var transport = new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(10, 20)));
        using var a = Create(transport, prefix);

        var options = a.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<RedisCacheOptions>>().Value;
        var connection = a.Services.GetRequiredService<AgentHarness.Redis.Internal.RedisConnection>();

        Assert.Same(await connection.Multiplexer, await options.ConnectionMultiplexerFactory!());
    }
}
