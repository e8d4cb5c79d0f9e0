using System.ClientModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using AgentHarness.Budget.Internal;
using AgentHarness.Redis;
using AgentHarness.Redis.Internal;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using OpenAI.Chat;
using StackExchange.Redis;

namespace AgentHarness.Benchmarks;

/// <summary>
/// One reservation and its settle over two counters (a global and a per-customer rule), in the
/// in-memory store and in the Redis store against a loopback redis-server the benchmark starts.
/// </summary>
[MemoryDiagnoser]
public class RedisStoreBenchmarks
{
    private static readonly BudgetCounter[] Counters =
    [
        new("global-day|*|2026-12-02", 1_000_000_000m, DateTimeOffset.UtcNow.AddDays(2)),
        new("per-customer|acme|2026-12-02", 1_000_000_000m, DateTimeOffset.UtcNow.AddDays(2)),
    ];

    private LoopbackRedis? _redis;
    private IBudgetStore _store = null!;
    private long _id;

    [Params("InMemory", "Redis")]
    public string Store { get; set; } = "InMemory";

    [GlobalSetup]
    public void Setup()
    {
        if (Store == "InMemory")
        {
            _store = new InMemoryBudgetStore(TimeProvider.System);
            return;
        }

        _redis = LoopbackRedis.Start();
        _store = new RedisBudgetStore(RedisConnection.Shared(_redis.Connection), new RedisBudgetStoreOptions { KeyPrefix = "bench" }, "AgentHarness:Redis", TimeProvider.System, NullLogger.Instance);
    }

    [GlobalCleanup]
    public void Cleanup() => _redis?.Dispose();

    [Benchmark]
    public async Task<BudgetSettleResult> ReserveAndSettle()
    {
        var reservation = new BudgetReservation(string.Create(CultureInfo.InvariantCulture, $"b{++_id}"), 0.000123m, TimeSpan.FromMinutes(5));
        await _store.TryReserveAsync(Counters, reservation, CancellationToken.None);
        return await _store.SettleAsync(Counters, reservation, 0.0001m, CancellationToken.None);
    }
}

/// <summary>
/// Whole calls through the harness: with no budget rule on the Redis store (it must never be asked),
/// with two rules on the in-memory store, and with the same rules on Redis; one at a time (what a call
/// waits) and 16 at a time (calls per second one process sustains).
/// </summary>
[MemoryDiagnoser]
public class RedisCallBenchmarks
{
    private const int Concurrency = 16;
    private const int Batches = 16;

    private static readonly byte[] Body = Encoding.UTF8.GetBytes(
        """{"id":"c","object":"chat.completion","created":1,"model":"gpt-4.1-nano-2025-04-14","choices":[{"index":0,"message":{"role":"assistant","content":"bug-fix"},"finish_reason":"stop"}],"usage":{"prompt_tokens":42,"completion_tokens":3,"total_tokens":45,"prompt_tokens_details":{"cached_tokens":0}}}""");

    private static readonly ChatCompletionOptions Capped = new() { MaxOutputTokenCount = 16 };

    private readonly CannedHandler _handler = new(Body, "application/json");
    private LoopbackRedis? _redis;
    private ServiceProvider _services = null!;
    private ChatClient _client = null!;

    [Params("NoRulesOnRedis", "RulesInMemory", "RulesOnRedis")]
    public string Budget { get; set; } = "RulesOnRedis";

    [GlobalSetup]
    public void Setup()
    {
        var services = new ServiceCollection();
        var builder = services.AddAgentHarness()
            .AddProvider("requesty", p =>
            {
                p.BaseUrl = new Uri("https://gateway.invalid/v1");
                p.ApiKey = "key-gateway";
                p.IsGateway = true;
            })
            .Configure(o =>
            {
                if (Budget != "NoRulesOnRedis")
                {
                    o.Budgets["per-customer-daily"] = new BudgetRuleOptions { Dimension = "agent", Window = BudgetWindow.Day, LimitUsd = 1_000_000_000m };
                    o.Budgets["global-daily"] = new BudgetRuleOptions { Dimension = "global", Window = BudgetWindow.Day, LimitUsd = 1_000_000_000m };
                }
            })
            .ConfigureHttpClient(b => b.ConfigurePrimaryHttpMessageHandler(() => _handler));
        if (Budget != "RulesInMemory")
        {
            _redis = LoopbackRedis.Start();
            builder.AddRedisBudgetStore(o =>
            {
                o.ConnectionString = _redis.ConnectionString;
                o.KeyPrefix = "bench-calls";
            });
        }

        _services = services.BuildServiceProvider();
        _client = _services.GetRequiredService<IAgentHarness>().GetChatClient(HarnessSetup.Model);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        try
        {
            if (Budget == "NoRulesOnRedis" && _redis!.ScriptCalls() != 0)
            {
                throw new InvalidOperationException("A call with no budget touched Redis.");
            }

            _services.Dispose();
        }
        finally
        {
            // The server is stopped whatever happened: it must not outlive the benchmark.
            _redis?.Dispose();
        }
    }

    [Benchmark]
    public Task<ClientResult<ChatCompletion>> OneCall() => _client.CompleteChatAsync(HarnessSetup.Messages, Capped);

    [Benchmark(OperationsPerInvoke = Concurrency * Batches)]
    public async Task SixteenAtATime()
    {
        var calls = new Task[Concurrency];
        for (var batch = 0; batch < Batches; batch++)
        {
            for (var i = 0; i < Concurrency; i++)
            {
                calls[i] = _client.CompleteChatAsync(HarnessSetup.Messages, Capped);
            }

            await Task.WhenAll(calls);
        }
    }
}

/// <summary>A redis-server on a free loopback port, persisting nothing, for one benchmark.</summary>
internal sealed class LoopbackRedis : IDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private LoopbackRedis(Process process, string directory, int port, ConnectionMultiplexer connection)
    {
        _process = process;
        _directory = directory;
        ConnectionString = $"127.0.0.1:{port}";
        Connection = connection;
    }

    public string ConnectionString { get; }

    public ConnectionMultiplexer Connection { get; }

    public static LoopbackRedis Start()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var directory = Directory.CreateTempSubdirectory("agentharness-bench-redis-").FullName;
        var start = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var arg in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory })
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start (apt-get install -y redis-server).");
        process.OutputDataReceived += static (_, _) => { };
        process.BeginOutputReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                var connection = ConnectionMultiplexer.Connect($"127.0.0.1:{port},connectTimeout=500,abortConnect=true,allowAdmin=true");
                return new LoopbackRedis(process, directory, port, connection);
            }
            catch (RedisConnectionException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(50);
            }
        }
    }

    /// <summary>How many scripts the server has run: the store's every operation is one.</summary>
    public long ScriptCalls()
    {
        var stats = Connection.GetServer(ConnectionString).Info("commandstats").SelectMany(static g => g).ToArray();
        return stats.Where(static s => s.Key is "cmdstat_evalsha" or "cmdstat_eval")
            .Sum(static s => long.Parse(s.Value.Split(',')[0]["calls=".Length..], CultureInfo.InvariantCulture));
    }

    public void Dispose()
    {
        Connection.Dispose();
        _process.Kill();
        _process.WaitForExit(10_000);
        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
