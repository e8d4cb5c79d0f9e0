using System.Globalization;
using System.Text.Json;
using AgentHarness;
using AgentHarness.Redis;
using AgentHarness.Redis.LoadWorker;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

// One replica of the multi-process tests (AgentHarness.Redis.Tests/MultiProcessTests): a harness on the
// Redis budget store over a loopback Kestrel upstream of its own, making randomized calls. Arguments are key=value:
//   redis=127.0.0.1:6379 prefix=p mode=load|hold calls=2500 concurrency=16 seed=1 lease-ms=2000
//   global-limit=2.5 customer-limit=0.35 customers=8
// "load" prints one line "RESULT {json}" at the end; "hold" makes calls the upstream never answers,
// prints "HELD n" once their reservations are in Redis, and waits to be killed.
var settings = args.Select(static a => a.Split('=', 2)).ToDictionary(static p => p[0], static p => p[1], StringComparer.Ordinal);
string Arg(string name, string fallback) => settings.TryGetValue(name, out var value) ? value : fallback;
var mode = Arg("mode", "load");
var calls = int.Parse(Arg("calls", "2500"), CultureInfo.InvariantCulture);
var concurrency = int.Parse(Arg("concurrency", "16"), CultureInfo.InvariantCulture);
var seed = int.Parse(Arg("seed", "1"), CultureInfo.InvariantCulture);
var customers = int.Parse(Arg("customers", "8"), CultureInfo.InvariantCulture);

await using var upstream = await Upstream.StartAsync(seed, hang: mode == "hold");
var services = new ServiceCollection();
services.AddAgentHarness()
    .AddProvider("up", p =>
    {
        p.BaseUrl = upstream.BaseUrl;
        p.ApiKey = "k";
        p.MaxRetries = 0;
    })
    .Configure(o =>
    {
        o.Catalog.Models["up/m"] = new ModelPriceOptions { InputPerToken = 0.000001m, OutputPerToken = 0.000004m, MaxOutputTokens = 1000 };
        // The 500s are injected faults, not an upstream to cool down from: every call goes to it.
        o.FailuresBeforeCooldown = 1000;
        o.CooldownPeriod = TimeSpan.Zero;
        if (Arg("rules", "on") == "off")
        {
            return;
        }

        o.Budgets["global-day"] = new BudgetRuleOptions { Dimension = "global", Window = BudgetWindow.Day, LimitUsd = decimal.Parse(Arg("global-limit", "2.5"), CultureInfo.InvariantCulture) };
        o.Budgets["per-customer"] = new BudgetRuleOptions { Dimension = "customer", Window = BudgetWindow.Day, LimitUsd = decimal.Parse(Arg("customer-limit", "0.35"), CultureInfo.InvariantCulture) };
        o.BudgetThresholds = [0.5, 0.8, 1.0];

    })
    .AddRedisBudgetStore(o =>
    {
        o.ConnectionString = Arg("redis", "127.0.0.1:6379");
        o.KeyPrefix = Arg("prefix", "load");
        o.LeaseTime = TimeSpan.FromMilliseconds(int.Parse(Arg("lease-ms", "60000"), CultureInfo.InvariantCulture));
        o.OperationTimeout = TimeSpan.FromSeconds(10);
    });

// Measures each settle's excess over its reservation, and knows when the last settle has landed.
services.AddSingleton(static sp => new MeasuringStore(sp.GetRequiredService<RedisBudgetStore>()));
services.AddSingleton<IBudgetStore>(static sp => sp.GetRequiredService<MeasuringStore>());

await using var provider = services.BuildServiceProvider();
var harness = provider.GetRequiredService<IAgentHarness>();
var store = provider.GetRequiredService<MeasuringStore>();
var thresholds = 0;
provider.GetRequiredService<IBudgetGuard>().ThresholdReached += (_, e) =>
{
    Interlocked.Increment(ref thresholds);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"THRESHOLD {e.Status.Rule}|{e.Status.Value ?? "*"}|{e.Threshold}"));
};
var client = harness.GetChatClient("up/m");
var options = new ChatCompletionOptions { MaxOutputTokenCount = 200 };

if (mode == "hold")
{
    var pending = Enumerable.Range(0, concurrency).Select(i => Task.Run(async () =>
    {
        using var run = harness.BeginRun("load", r => r.Customer = $"c{i % customers}");
        await client.CompleteChatAsync([new UserChatMessage("kind:json hold")], options);
    })).ToArray();
    // The bound only keeps a worker whose calls never reserve from waiting forever.
    await store.WaitUntilAsync(s => s.Reserved >= concurrency, TimeSpan.FromSeconds(60));

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"HELD {store.Reserved}"));

    // Killed here by the test; the bound only keeps a forgotten worker from living on.
    await Task.WhenAny(Task.WhenAll(pending), Task.Delay(TimeSpan.FromMinutes(2)));
    return 1;
}

var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
void Count(string outcome)
{
    lock (outcomes)
    {
        outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
    }
}

var only = settings.GetValueOrDefault("only");
var clock = System.Diagnostics.Stopwatch.StartNew();
var random = new Random(seed);
var plan = Enumerable.Range(0, calls).Select(_ => (Kind: random.Next(100), Customer: random.Next(customers), CancelAfter: random.Next(0, 4))).ToArray();
await Parallel.ForEachAsync(plan, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (call, _) =>
{
    var kind = only ?? call.Kind switch
    {
        < 40 => "json",
        < 55 => "500",
        < 72 => "stream",
        < 85 => "cut",
        _ => "slow",
    };
    using var run = harness.BeginRun("load", r => r.Customer = $"c{call.Customer}");
    using var cancel = new CancellationTokenSource();
    if (kind == "slow")
    {
        cancel.CancelAfter(call.CancelAfter);
    }

    try
    {
        var messages = new ChatMessage[] { new UserChatMessage($"kind:{kind} please answer briefly") };
        if (kind is "stream" or "cut")
        {
            await foreach (var update in client.CompleteChatStreamingAsync(messages, options, cancel.Token))
            {
                GC.KeepAlive(update);
            }
        }
        else
        {
            await client.CompleteChatAsync(messages, options, cancel.Token);
        }

        Count("ok");
    }
    catch (BudgetExceededException)
    {
        Count("refused");
    }
    catch (OperationCanceledException)
    {
        Count("canceled");
    }
    catch (Exception ex) when (ex is System.ClientModel.ClientResultException or AllCandidatesFailedException or IOException)
    {
        Count("failed");
    }
    catch (ObjectDisposedException) when (cancel.IsCancellationRequested)
    {
        // The official client can dispose a response twice when the caller cancels as it arrives.
        Count("canceled (response disposed)");
    }
    catch (Exception ex)
    {
        Count($"unexpected {ex.GetType().Name} ({kind}, cancelled: {cancel.IsCancellationRequested})");
    }
});

// Settles are written after the calls return (a stream's when it ends): wait until the last one landed.
await store.WaitUntilAsync(static s => s.InFlightSettles == 0, TimeSpan.FromSeconds(30));

var records = harness is not null ? provider.GetRequiredService<IUsageLedger>().GetRecords() : [];
var perCustomer = records.GroupBy(static r => r.Metadata.GetValueOrDefault("customer") ?? "?")
    .ToDictionary(static g => g.Key, static g => g.Sum(static r => r.CostUsd).ToString(CultureInfo.InvariantCulture), StringComparer.Ordinal);
var result = new Dictionary<string, object>(StringComparer.Ordinal)
{
    ["records"] = records.Count,
    ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 2),
    ["total"] = records.Sum(static r => r.CostUsd).ToString(CultureInfo.InvariantCulture),
    ["perCustomer"] = perCustomer,
    ["outcomes"] = outcomes,
    ["excess"] = store.ExcessUsd.ToString(CultureInfo.InvariantCulture),
    ["maxExcess"] = store.MaxExcessUsd.ToString(CultureInfo.InvariantCulture),
    ["settlesLeft"] = store.InFlightSettles,
    ["thresholds"] = Volatile.Read(ref thresholds),
    ["failedOpen"] = provider.GetRequiredService<RedisBudgetStore>().FailedOpen,
};
Console.WriteLine("RESULT " + JsonSerializer.Serialize(result));
return 0;
