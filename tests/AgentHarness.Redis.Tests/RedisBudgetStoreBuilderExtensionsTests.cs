using System.Net.Sockets;
using AgentHarness.Redis.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenAI.Chat;
using StackExchange.Redis;

namespace AgentHarness.Redis.Tests;

/// <summary>Registration, start-time validation and whole calls through harnesses that share one Redis.</summary>
public sealed class RedisBudgetStoreBuilderExtensionsTests(RedisServer server)
{
    private static readonly ChatCompletionOptions Max100 = new() { MaxOutputTokenCount = 100 };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Action<AgentHarnessOptions> GlobalDay(decimal limit) => o => o.Budgets["global"] = new BudgetRuleOptions { Dimension = "global", Window = BudgetWindow.Day, LimitUsd = limit };

    private static async Task<string> StartFailureAsync(Action<IHostApplicationBuilder> configure)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        configure(builder);
        using var host = builder.Build();
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Ct));
        return ex.Message;
    }

    [Fact]
    public async Task AddRedisBudgetStore_NoConnectionStringAndNoMultiplexer_StartFailsNamingTheSetting()
    {
        var message = await StartFailureAsync(static b => b.Services.AddAgentHarness().AddRedisBudgetStore());

        Assert.Contains("AgentHarness:Redis:ConnectionString is required when no IConnectionMultiplexer is registered", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddRedisBudgetStore_BadSettingsInASection_StartFailsWithThePathAndTheValue()
    {
        var message = await StartFailureAsync(static b =>
        {
            b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["App:Redis:ConnectionString"] = "127.0.0.1:6379",
                ["App:Redis:KeyPrefix"] = "{budgets}",
                ["App:Redis:OperationTimeout"] = "00:00:00",
                ["App:Redis:LeaseTime"] = "00:00:00.5",
            });
            b.Services.AddAgentHarness().AddRedisBudgetStore(b.Configuration.GetSection("App:Redis"));
        });

        Assert.Contains("App:Redis:KeyPrefix must be non-empty text without braces (the store adds them); got '{budgets}'.", message, StringComparison.Ordinal);
        Assert.Contains("App:Redis:OperationTimeout must be between 00:00:00.0010000 and 00:05:00; got 00:00:00.", message, StringComparison.Ordinal);
        Assert.Contains("App:Redis:LeaseTime must be between 00:00:01 and 7.00:00:00; got 00:00:00.5000000.", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddRedisBudgetStore_MultiplexerInServices_UsedAndLeftOpenWhenTheHarnessIsDisposed()
    {
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString);
        await using (multiplexer)
        {
            var prefix = RedisServer.NewPrefix(nameof(AddRedisBudgetStore_MultiplexerInServices_UsedAndLeftOpenWhenTheHarnessIsDisposed));
            var transport = new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(10, 20)));
            using (var replica = Replica.Create(transport, o => o.KeyPrefix = prefix, GlobalDay(1m), s => s.AddSingleton<IConnectionMultiplexer>(multiplexer)))
            {
                Assert.IsType<RedisBudgetStore>(replica.Services.GetRequiredService<IBudgetStore>());
                await replica.Client.CompleteChatAsync([new UserChatMessage("hi")], Max100, Ct);
            }

            Assert.True(multiplexer.IsConnected);
            var keys = server.Connection.GetServer(server.ConnectionString).Keys(pattern: "{" + prefix + "}:b:*").ToArray();
            Assert.Single(keys);
        }
    }

    [Fact]
    public async Task AddRedisBudgetStore_TwoReplicas_ShareOneGlobalCap()
    {
        var prefix = RedisServer.NewPrefix(nameof(AddRedisBudgetStore_TwoReplicas_ShareOneGlobalCap));
        var transport = new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(10, 100)));

        // Each call reserves about $0.0004 and costs $0.00041: the cap holds two calls, whoever makes them.
        using var a = Replica.Create(transport, o => { o.ConnectionString = server.ConnectionString; o.KeyPrefix = prefix; }, GlobalDay(0.001m));
        using var b = Replica.Create(transport, o => { o.ConnectionString = server.ConnectionString; o.KeyPrefix = prefix; }, GlobalDay(0.001m));

        await a.Client.CompleteChatAsync([new UserChatMessage("hi")], Max100, Ct);
        await b.Client.CompleteChatAsync([new UserChatMessage("hi")], Max100, Ct);

        // A settle reaches Redis after its call returned: wait (bounded) until both have, for exact figures.
        var until = DateTime.UtcNow.AddSeconds(20);
        while ((await a.Guard.GetStatusAsync("global", cancellationToken: Ct)).SpentUsd < 0.00082m && DateTime.UtcNow < until)
        {
            await Task.Delay(10, Ct);
        }

        var ex = await Assert.ThrowsAsync<BudgetExceededException>(() => a.Client.CompleteChatAsync([new UserChatMessage("hi")], Max100, Ct));

        Assert.Equal("global", ex.Rule);
        Assert.Equal(0.00082m, ex.SpentUsd);
        Assert.Equal(2, transport.Calls);
        var status = await b.Guard.GetStatusAsync("global", cancellationToken: Ct);
        Assert.Equal((0.00082m, 0m), (status.SpentUsd, status.ReservedUsd));
    }

    [Fact]
    public async Task AddRedisBudgetStore_TwoReplicasCrossThresholdsTogether_EachThresholdRaisedOnceAcrossThem()
    {
        var prefix = RedisServer.NewPrefix(nameof(AddRedisBudgetStore_TwoReplicasCrossThresholdsTogether_EachThresholdRaisedOnceAcrossThem));
        var transport = new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(0, 10)));
        var replicas = Enumerable.Range(0, 2).Select(_ => Replica.Create(
            transport,
            o => { o.ConnectionString = server.ConnectionString; o.KeyPrefix = prefix; },
            o => { GlobalDay(0.005m)(o); o.BudgetThresholds = [0.2, 0.4, 0.6, 0.8]; })).ToArray();
        var raised = new System.Collections.Concurrent.ConcurrentBag<double>();
        foreach (var replica in replicas)
        {
            replica.Guard.ThresholdReached += (_, e) => raised.Add(e.Threshold);
        }

        try
        {
            // 100 calls of $0.00004 each (10 output tokens) from both replicas at once: $0.004, 80 % of the cap.
            await Parallel.ForEachAsync(Enumerable.Range(0, 100), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = Ct }, async (i, ct) =>
            {
                var options = new ChatCompletionOptions { MaxOutputTokenCount = 10 };
                await replicas[i % 2].Client.CompleteChatAsync([new UserChatMessage("x")], options, ct);
            });

            var until = DateTime.UtcNow.AddSeconds(10);
            while (raised.Count < 4 && DateTime.UtcNow < until)
            {
                await Task.Delay(10, Ct);
            }

            Assert.Equal([0.2, 0.4, 0.6, 0.8], raised.Order());
        }
        finally
        {
            foreach (var replica in replicas)
            {
                replica.Dispose();
            }
        }
    }

    [Fact]
    public async Task AddRedisBudgetStore_CallsNoRuleAppliesTo_NeverAskRedis()
    {
        // Redis is unreachable and fails closed: any call that asked it would be refused.
        var transport = new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(10, 20)));
        using var replica = Replica.Create(
            transport,
            o => { o.ConnectionString = $"127.0.0.1:{RedisServer.FreePort()},connectTimeout=200"; o.OperationTimeout = TimeSpan.FromMilliseconds(300); },
            static o => o.Budgets["acme"] = new BudgetRuleOptions { Dimension = "customer", Value = "acme", Window = BudgetWindow.Day, LimitUsd = 1m });

        await replica.Client.CompleteChatAsync([new UserChatMessage("no run")], Max100, Ct);
        using (replica.Harness.BeginRun("agent", static r => { r.Customer = "other"; r.MaxCostUsd = 1m; }))
        {
            await replica.Client.CompleteChatAsync([new UserChatMessage("a run with its own cap, another customer")], Max100, Ct);
        }

        Assert.Equal(2, transport.Calls);
        Assert.Equal(0, replica.Store.RefusedUnavailable);
        Assert.All(replica.Ledger.GetRecords(), static r => Assert.Equal(UsageOutcome.Succeeded, r.Outcome));
    }

    [Fact]
    public async Task AddRedisBudgetStore_RedisUnreachableFailClosed_CallRefusedWithBudgetStoreUnavailableAndNothingSent()
    {
        var transport = new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(10, 20)));
        using var replica = Replica.Create(
            transport,
            o => { o.ConnectionString = $"127.0.0.1:{RedisServer.FreePort()},connectTimeout=200"; o.OperationTimeout = TimeSpan.FromMilliseconds(300); },
            GlobalDay(1m));

        var ex = await Assert.ThrowsAsync<BudgetStoreUnavailableException>(() => replica.Client.CompleteChatAsync([new UserChatMessage("hi")], Max100, Ct));

        Assert.Contains("could not be reached", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, transport.Calls);
        var record = Assert.Single(replica.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Rejected, record.Outcome);
        Assert.Contains("could not be reached", record.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddRedisBudgetStore_RedisUnreachableFailOpen_CallGoesThroughCountedLocally()
    {
        var transport = new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(10, 20)));
        using var replica = Replica.Create(
            transport,
            o =>
            {
                o.ConnectionString = $"127.0.0.1:{RedisServer.FreePort()},connectTimeout=200";
                o.OperationTimeout = TimeSpan.FromMilliseconds(300);
                o.WhenUnavailable = RedisUnavailableBehavior.FailOpen;
            },
            GlobalDay(1m));

        await replica.Client.CompleteChatAsync([new UserChatMessage("hi")], Max100, Ct);

        Assert.Equal(1, transport.Calls);
        Assert.Equal(1, replica.Store.FailedOpen);
        Assert.Equal(UsageOutcome.Succeeded, Assert.Single(replica.Ledger.GetRecords()).Outcome);
    }

    [Fact]
    public async Task AddRedisBudgetStore_RedisAcceptsButNeverAnswers_TheCallEndsAtItsTotalTimeout()
    {
        // A server that takes the connection and says nothing: the store's own timeout is far longer than the call's.
        using var silent = new TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var accepted = new List<Socket>();
        _ = Task.Run(async () =>
        {
            while (true)
            {
                accepted.Add(await silent.AcceptSocketAsync(Ct));
            }
        }, Ct);
        var transport = new DelegateHandler(static (_, _) => Task.FromResult(Replica.Answer(10, 20)));
        using var replica = Replica.Create(
            transport,
            o =>
            {
                o.ConnectionString = $"127.0.0.1:{((System.Net.IPEndPoint)silent.LocalEndpoint).Port},connectTimeout=60000,syncTimeout=60000,asyncTimeout=60000";
                o.OperationTimeout = TimeSpan.FromMinutes(1);
            },
            o => { GlobalDay(1m)(o); o.Providers["up"].TotalTimeout = o.Providers["up"].AttemptTimeout = TimeSpan.FromMilliseconds(500); });

        // The bound only guards the test from hanging: the call must end on its own, at its total timeout.
        var call = replica.Client.CompleteChatAsync([new UserChatMessage("hi")], Max100, Ct);
        var ex = await Assert.ThrowsAsync<AllCandidatesFailedException>(() => call.WaitAsync(TimeSpan.FromSeconds(30), Ct));

        Assert.Contains("budget store did not answer within the call's total timeout", Assert.Single(ex.Attempts).Error, StringComparison.Ordinal);
        Assert.Equal(0, transport.Calls);
    }
}
