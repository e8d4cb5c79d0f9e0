using System.Net;
using AgentHarness.Redis.Internal;
using AgentHarness.Redis.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;
using StackExchange.Redis;

namespace AgentHarness.Redis.Tests;

/// <summary>Cooldowns shared by replicas (<see cref="RedisBudgetStoreOptions.SharedCooldowns"/>) on the real server.</summary>
public sealed class RedisCooldownsTests(RedisServer server)
{
    private const string Candidate = "up/m";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static HttpResponseMessage Error() => new(HttpStatusCode.InternalServerError) { Content = new StringContent("""{"error":{"message":"down"}}""") };

    private Replica Create(string prefix, HttpMessageHandler transport, bool shared, TimeSpan period) => Replica.Create(
        transport,
        o =>
        {
            o.ConnectionString = server.ConnectionString;
            o.KeyPrefix = prefix;
            o.SharedCooldowns = shared;
        },
        o =>
        {
            o.FailuresBeforeCooldown = 2;
            o.CooldownPeriod = period;
        });

    private static async Task<RedisCooldowns> StartedAsync(Replica replica)
    {
        var cooldowns = Assert.IsType<RedisCooldowns>(replica.Services.GetRequiredService<ISharedCooldowns>());
        await cooldowns.Started.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        return cooldowns;
    }

    /// <summary>Bounded polling of what a replica heard from the server.</summary>
    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var until = DateTime.UtcNow.AddSeconds(20);
        while (!condition() && DateTime.UtcNow < until)
        {
            await Task.Delay(10, Ct);
        }

        Assert.True(condition());
    }

    private static async Task FailTwiceAsync(Replica replica)
    {
        for (var i = 0; i < 2; i++)
        {
            await Assert.ThrowsAnyAsync<Exception>(() => replica.Client.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct));
        }
    }

    /// <summary>Calls through the replicas in turn (bounded) until the transport has been sent <paramref name="calls"/> requests.</summary>
    private static async Task CallUntilSentAsync(Replica[] replicas, DelegateHandler transport, int calls)
    {
        var until = DateTime.UtcNow.AddSeconds(20);
        for (var i = 0; transport.Calls < calls && DateTime.UtcNow < until; i++)
        {
            await Assert.ThrowsAnyAsync<Exception>(() => replicas[i % replicas.Length].Client.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct));
            await Task.Delay(10, Ct);
        }

        Assert.Equal(calls, transport.Calls);
    }

    [Fact]
    public async Task Opened_CooldownInOneReplica_TheOtherHoldsTheCandidateBackWithoutSending()
    {
        var prefix = RedisServer.NewPrefix(nameof(Opened_CooldownInOneReplica_TheOtherHoldsTheCandidateBackWithoutSending));
        var failing = new DelegateHandler(static (_, _) => Task.FromResult(Error()));
        var healthy = new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(5, 5)));
        using var a = Create(prefix, failing, shared: true, TimeSpan.FromMinutes(5));
        using var b = Create(prefix, healthy, shared: true, TimeSpan.FromMinutes(5));
        var heard = await StartedAsync(b);
        await StartedAsync(a);

        await FailTwiceAsync(a);
        await WaitUntilAsync(() => heard.CoolingDownElsewhere(Candidate) is not null);
        var ex = await Assert.ThrowsAsync<AllCandidatesFailedException>(() => b.Client.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct));

        Assert.Equal(0, healthy.Calls);
        Assert.Contains("cooling down", Assert.Single(ex.Attempts).Error, StringComparison.Ordinal);
        Assert.InRange(heard.CoolingDownElsewhere(Candidate)!.Value, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(5));
    }

    [Fact]
    public async Task Started_ReplicaStartsWhileACooldownRuns_ReadsItFromRedis()
    {
        var prefix = RedisServer.NewPrefix(nameof(Started_ReplicaStartsWhileACooldownRuns_ReadsItFromRedis));
        using var a = Create(prefix, new DelegateHandler(static (_, _) => Task.FromResult(Error())), shared: true, TimeSpan.FromMinutes(5));
        await StartedAsync(a);
        await FailTwiceAsync(a);
        await WaitUntilAsync(() => server.Database.KeyExists("{" + prefix + "}:cd:" + Candidate));

        using var late = Create(prefix, new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(5, 5))), shared: true, TimeSpan.FromMinutes(5));
        var heard = await StartedAsync(late);

        Assert.NotNull(heard.CoolingDownElsewhere(Candidate));
    }

    [Fact]
    public async Task TryTakeProbe_TwoReplicasOnceThePeriodIsOver_OnlyOneProbesAndItsSuccessReopensTheCandidateForBoth()
    {
        var prefix = RedisServer.NewPrefix(nameof(TryTakeProbe_TwoReplicasOnceThePeriodIsOver_OnlyOneProbesAndItsSuccessReopensTheCandidateForBoth));
        var failing = true;
        var probe = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var transport = new DelegateHandler(async (_, _) =>
        {
            if (Volatile.Read(ref failing))
            {
                return Error();
            }

            await probe.Task;
            return Replica.Answer(5, 5);
        });
        var period = TimeSpan.FromMilliseconds(500);
        using var a = Create(prefix, transport, shared: true, period);
        using var b = Create(prefix, transport, shared: true, period);
        var heardByB = await StartedAsync(b);
        await StartedAsync(a);
        await FailTwiceAsync(a);
        await WaitUntilAsync(() => heardByB.CoolingDownElsewhere(Candidate) is not null);
        Assert.Equal(2, transport.Calls);

        // Both replicas' periods end; each asks for the probe, one at a time across them.
        Volatile.Write(ref failing, false);
        await WaitUntilAsync(() => heardByB.CoolingDownElsewhere(Candidate) == TimeSpan.Zero);
        var first = a.Client.CompleteChatAsync([new UserChatMessage("probe")], cancellationToken: Ct);
        await WaitUntilAsync(() => transport.Calls == 3 || first.IsCompleted);
        if (first.IsFaulted)
        {
            Assert.Fail(first.Exception!.ToString());
        }

        var second = await Assert.ThrowsAsync<AllCandidatesFailedException>(() => b.Client.CompleteChatAsync([new UserChatMessage("second")], cancellationToken: Ct));
        Assert.Equal(3, transport.Calls);
        Assert.Contains("cooling down", Assert.Single(second.Attempts).Error, StringComparison.Ordinal);

        probe.SetResult();
        await first;
        await WaitUntilAsync(() => !server.Database.KeyExists("{" + prefix + "}:probe:" + Candidate) && heardByB.CoolingDownElsewhere(Candidate) is null);
        await b.Client.CompleteChatAsync([new UserChatMessage("after")], cancellationToken: Ct);
        await a.Client.CompleteChatAsync([new UserChatMessage("after")], cancellationToken: Ct);
        Assert.Equal(5, transport.Calls);
    }

    [Fact]
    public async Task SharedCooldownsOff_CooldownInOneReplica_TheOtherKeepsSending()
    {
        var prefix = RedisServer.NewPrefix(nameof(SharedCooldownsOff_CooldownInOneReplica_TheOtherKeepsSending));
        var healthy = new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(5, 5)));
        using var a = Create(prefix, new DelegateHandler(static (_, _) => Task.FromResult(Error())), shared: false, TimeSpan.FromMinutes(5));
        using var b = Create(prefix, healthy, shared: false, TimeSpan.FromMinutes(5));
        Assert.IsType<NoSharedCooldowns>(b.Services.GetRequiredService<ISharedCooldowns>());

        await FailTwiceAsync(a);
        await b.Client.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal(1, healthy.Calls);
        Assert.False(server.Database.KeyExists("{" + prefix + "}:cd:" + Candidate));
    }

    [Fact]
    public async Task Opened_AProbeFails_TheNextPeriodIsProbedAgainNotAfterTheProbeLease()
    {
        var prefix = RedisServer.NewPrefix(nameof(Opened_AProbeFails_TheNextPeriodIsProbedAgainNotAfterTheProbeLease));
        var failing = new DelegateHandler(static (_, _) => Task.FromResult(Error()));
        using var a = Create(prefix, failing, shared: true, TimeSpan.FromMilliseconds(300));
        using var b = Create(prefix, failing, shared: true, TimeSpan.FromMilliseconds(300));
        await StartedAsync(a);
        await StartedAsync(b);
        await FailTwiceAsync(a);

        // Calls are held back until a period is over, then one probe goes (and fails): the third call sent.
        // The probe key's lease is minutes long; a second probe must follow one period after the first failed.
        await CallUntilSentAsync([a, b], failing, 3);
        await CallUntilSentAsync([a, b], failing, 4);

        Assert.Equal(4, failing.Calls);
    }

    [Fact]
    public async Task TryTakeProbe_RedisPausedWhenThePeriodIsOver_CallEndsWithinItsTotalTimeout()
    {
        var port = RedisServer.FreePort();
        var (process, directory, _) = await RedisServer.StartAsync(port);
        try
        {
            await using var control = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},allowAdmin=true");
            var failing = new DelegateHandler(static (_, _) => Task.FromResult(Error()));
            using var replica = Replica.Create(
                failing,
                o =>
                {
                    o.ConnectionString = $"127.0.0.1:{port},syncTimeout=60000,asyncTimeout=60000";
                    o.KeyPrefix = "paused";
                    o.SharedCooldowns = true;
                    o.OperationTimeout = TimeSpan.FromSeconds(30);
                },
                o =>
                {
                    o.FailuresBeforeCooldown = 1;
                    o.CooldownPeriod = TimeSpan.FromSeconds(2);
                    o.Providers["up"].TotalTimeout = o.Providers["up"].AttemptTimeout = TimeSpan.FromSeconds(1);
                });
            await StartedAsync(replica);
            await Assert.ThrowsAnyAsync<Exception>(() => replica.Client.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct));
            await WaitUntilAsync(() => control.GetDatabase().KeyExists("{paused}:cd:" + Candidate));
            await WaitUntilAsync(() => !control.GetDatabase().KeyExists("{paused}:cd:" + Candidate));

            // Redis holds every command for 20 s, the store's operation timeout is 30 s: the probe's wait for
            // Redis must not hold the call (1 s total timeout) anywhere near either.
            await control.GetServer($"127.0.0.1:{port}").ExecuteAsync("CLIENT", "PAUSE", "20000", "ALL");
            var started = System.Diagnostics.Stopwatch.StartNew();
            await Assert.ThrowsAnyAsync<Exception>(() => replica.Client.CompleteChatAsync([new UserChatMessage("probe")], cancellationToken: Ct).WaitAsync(TimeSpan.FromSeconds(60), Ct));

            Assert.InRange(started.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(10));
            Assert.Equal(2, failing.Calls);
        }
        finally
        {
            RedisServer.Stop(process, directory);
        }
    }

    [Fact]
    public async Task Dispose_TwoHarnessesShareTheApplicationsMultiplexer_TheOtherStillHearsCooldowns()
    {
        var prefix = RedisServer.NewPrefix(nameof(Dispose_TwoHarnessesShareTheApplicationsMultiplexer_TheOtherStillHearsCooldowns));
        await using var multiplexer = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString);
        var failing = new DelegateHandler(static (_, _) => Task.FromResult(Error()));
        Replica Shared() => Replica.Create(
            failing,
            o => { o.KeyPrefix = prefix; o.SharedCooldowns = true; },
            o => { o.FailuresBeforeCooldown = 2; o.CooldownPeriod = TimeSpan.FromMinutes(5); },
            s => s.AddSingleton<IConnectionMultiplexer>(multiplexer));
        using var a = Shared();
        using var b = Shared();
        var heardByB = await StartedAsync(b);
        await StartedAsync(a);
        using (var gone = Shared())
        {
            await StartedAsync(gone);
        }

        await FailTwiceAsync(a);

        await WaitUntilAsync(() => heardByB.CoolingDownElsewhere(Candidate) is not null);
    }

    [Fact]
    public async Task Started_AnotherAppsPrefixMatchesThisOneAsAPattern_ItsCooldownsAreNotRead()
    {
        var prefix = RedisServer.NewPrefix(nameof(Started_AnotherAppsPrefixMatchesThisOneAsAPattern_ItsCooldownsAreNotRead));
        using var other = Create(prefix + "x", new DelegateHandler(static (_, _) => Task.FromResult(Error())), shared: true, TimeSpan.FromMinutes(5));
        await StartedAsync(other);
        await FailTwiceAsync(other);
        await WaitUntilAsync(() => server.Database.KeyExists("{" + prefix + "x}:cd:" + Candidate));

        // '?' is a pattern character to Redis: the prefix 'p?' must not read the cooldowns of 'px'.
        var healthy = new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(5, 5)));
        using var app = Create(prefix + "?", healthy, shared: true, TimeSpan.FromMinutes(5));
        var heard = await StartedAsync(app);

        Assert.Null(heard.CoolingDownElsewhere(Candidate));
        await app.Client.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);
        Assert.Equal(1, healthy.Calls);
    }
}
