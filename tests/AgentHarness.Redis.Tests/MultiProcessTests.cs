using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AgentHarness.Redis.Internal;
using AgentHarness.Redis.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace AgentHarness.Redis.Tests;

/// <summary>
/// Replicas as separate processes (AgentHarness.Redis.LoadWorker, started with <c>dotnet &lt;dll&gt;</c>)
/// sharing one Redis: a global day cap and per-customer caps, randomized calls, and a replica killed mid-flight.
/// </summary>
public sealed class MultiProcessTests(RedisServer server, ITestOutputHelper output)
{
    private const decimal GlobalLimit = 2.0m;
    private const decimal CustomerLimit = 0.25m;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string WorkerPath()
    {
        // The worker is built beside this assembly's configuration: tests/<worker>/bin/<configuration>/<tfm>/.
        var here = new DirectoryInfo(AppContext.BaseDirectory);
        var tfm = here.Name;
        var configuration = here.Parent!.Name;
        var tests = here.Parent!.Parent!.Parent!.Parent!.FullName;
        var path = Path.Combine(tests, "AgentHarness.Redis.LoadWorker", "bin", configuration, tfm, "AgentHarness.Redis.LoadWorker.dll");
        Assert.True(File.Exists(path), $"The load worker is not built at {path}.");
        return path;
    }

    private static Process Start(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(WorkerPath());
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start)!;
    }

    private RedisBudgetStore Reader(string prefix) =>
        new(RedisConnection.Shared(server.Connection), new RedisBudgetStoreOptions { KeyPrefix = prefix }, "AgentHarness:Redis", TimeProvider.System, NullLogger.Instance);

    /// <summary>Every counter the prefix holds in Redis, by its key (rule|value|window).</summary>
    private async Task<Dictionary<string, BudgetCounterState>> CountersAsync(string prefix)
    {
        var reader = Reader(prefix);
        var start = "{" + prefix + "}:b:";
        var counters = new Dictionary<string, BudgetCounterState>(StringComparer.Ordinal);
        foreach (var key in server.Connection.GetServer(server.ConnectionString).Keys(pattern: start + "*"))
        {
            var counter = key.ToString()[start.Length..];
            counters[counter] = await reader.GetAsync(counter, Ct);
        }

        return counters;
    }

    [Fact]
    public async Task FourProcesses_RandomizedCallsOnSharedCaps_CapsHoldAndCountersEqualTheLedgersToThePicodollar()
    {
        var prefix = RedisServer.NewPrefix("load");
        var started = Stopwatch.StartNew();
        var workers = Enumerable.Range(1, 4).Select(i => Start(
            $"redis={server.ConnectionString}", $"prefix={prefix}", "mode=load", "calls=2500", "concurrency=16", $"seed={i}",
            string.Create(CultureInfo.InvariantCulture, $"global-limit={GlobalLimit}"), string.Create(CultureInfo.InvariantCulture, $"customer-limit={CustomerLimit}"))).ToArray();
        var outputs = await Task.WhenAll(workers.Select(static async w =>
        {
            var stdout = w.StandardOutput.ReadToEndAsync();
            var stderr = w.StandardError.ReadToEndAsync();
            await w.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
            return (Code: w.ExitCode, Out: await stdout, Err: await stderr);
        }));
        foreach (var worker in workers)
        {
            worker.Dispose();
        }

        output.WriteLine($"4 processes x 2,500 calls in {started.Elapsed.TotalSeconds:0.0} s");
        var results = new List<JsonElement>();
        foreach (var (code, stdout, stderr) in outputs)
        {
            Assert.True(code == 0, $"worker exited {code}: {stderr}");
            var line = stdout.Split('\n').Single(static l => l.StartsWith("RESULT ", StringComparison.Ordinal));
            results.Add(JsonDocument.Parse(line["RESULT ".Length..]).RootElement);
            output.WriteLine(line);
        }

        var counters = await CountersAsync(prefix);
        var global = Assert.Single(counters, static c => c.Key.StartsWith("global-day|*|", StringComparison.Ordinal)).Value;
        var ledgerTotal = results.Sum(static r => decimal.Parse(r.GetProperty("total").GetString()!, CultureInfo.InvariantCulture));
        var excess = results.Sum(static r => decimal.Parse(r.GetProperty("excess").GetString()!, CultureInfo.InvariantCulture));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"global: spent {global.SpentUsd} of {GlobalLimit}, ledgers {ledgerTotal}, excess over reservations {excess}"));

        // The Redis counters are the sum of the four ledgers, to the picodollar, and nothing is left reserved.
        Assert.Equal(ledgerTotal, global.SpentUsd);
        Assert.All(counters.Values, static c => Assert.Equal(0m, c.ReservedUsd));
        Assert.Equal(10_000, results.Sum(static r => r.GetProperty("records").GetInt32()));
        Assert.All(results, static r => Assert.Equal(0, r.GetProperty("settlesLeft").GetInt32()));
        Assert.All(results, static r => Assert.Equal(0, r.GetProperty("failedOpen").GetInt64()));

        // Spend never passes a cap by more than what calls charged past their own reservations.
        Assert.InRange(global.SpentUsd, GlobalLimit * 0.9m, GlobalLimit + excess);
        var customers = counters.Where(static c => c.Key.StartsWith("per-customer|", StringComparison.Ordinal)).ToArray();
        Assert.Equal(8, customers.Length);
        foreach (var (key, state) in customers)
        {
            var customer = key.Split('|')[1];
            var ledger = results.Sum(r => r.GetProperty("perCustomer").TryGetProperty(customer, out var v) ? decimal.Parse(v.GetString()!, CultureInfo.InvariantCulture) : 0m);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{customer}: spent {state.SpentUsd} of {CustomerLimit}, ledgers {ledger}"));
            Assert.Equal(ledger, state.SpentUsd);
            Assert.True(state.SpentUsd <= CustomerLimit + excess, $"{customer} spent {state.SpentUsd}");
        }

        // Both kinds of cap were reached: calls were refused, and every outcome occurred.
        var outcomes = results.SelectMany(static r => r.GetProperty("outcomes").EnumerateObject()).GroupBy(static p => p.Name).ToDictionary(static g => g.Key, static g => g.Sum(static p => p.Value.GetInt32()), StringComparer.Ordinal);
        output.WriteLine(string.Join(", ", outcomes.Select(static o => $"{o.Key} {o.Value}")));
        Assert.All(new[] { "ok", "refused", "failed", "canceled" }, o => Assert.True(outcomes.GetValueOrDefault(o) > 0, $"no call ended {o}"));
        Assert.Equal(10_000, outcomes.Values.Sum());

        // Each threshold of each counter was raised once across the four processes.
        var raised = outputs.SelectMany(static o => o.Out.Split('\n')).Where(static l => l.StartsWith("THRESHOLD ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(raised.Length, raised.Distinct(StringComparer.Ordinal).Count());
        Assert.Contains(raised, static l => l.StartsWith("THRESHOLD global-day|*|1", StringComparison.Ordinal) || l.StartsWith("THRESHOLD global-day|*|0.8", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ProcessKilledMidFlight_AfterTheLeaseItsReservationsAreGoneAndTheBudgetIsWhole()
    {
        var prefix = RedisServer.NewPrefix("kill");
        using var worker = Start($"redis={server.ConnectionString}", $"prefix={prefix}", "mode=hold", "concurrency=16", "lease-ms=2000", "global-limit=1", "customer-limit=1");
        var held = await worker.StandardOutput.ReadLineAsync(Ct).AsTask().WaitAsync(TimeSpan.FromMinutes(1), Ct);
        Assert.Equal("HELD 16", held);
        var before = await CountersAsync(prefix);
        var global = Assert.Single(before, static c => c.Key.StartsWith("global-day|*|", StringComparison.Ordinal));
        Assert.True(global.Value.ReservedUsd > 0m);

        worker.Kill();  // SIGKILL: nothing of the process runs after it.
        await worker.WaitForExitAsync(Ct);
        var killed = Stopwatch.StartNew();

        // Bounded polling of the real server: the lease is 2 s, the deadline only guards a broken lease.
        var reader = Reader(prefix);
        BudgetCounterState state;
        do
        {
            await Task.Delay(50, Ct);
            state = await reader.GetAsync(global.Key, Ct);
        }
        while (state.ReservedUsd > 0m && killed.Elapsed < TimeSpan.FromSeconds(30));

        output.WriteLine($"reservations of the killed process gone {killed.Elapsed.TotalSeconds:0.00} s after the kill (lease 2 s)");
        Assert.Equal(default, state);
        Assert.All((await CountersAsync(prefix)).Values, static c => Assert.Equal(default, c));
        Assert.True((await reader.TryReserveAsync([new BudgetCounter(global.Key, 1m, DateTimeOffset.UtcNow.AddDays(1))], new BudgetReservation("whole", 1m, TimeSpan.FromMinutes(1)), Ct)).Succeeded);
    }
}
