using System.ClientModel;
using System.ClientModel.Primitives;
using System.Diagnostics;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;
using OpenAI.Chat;

namespace AgentHarness.Benchmarks;

/// <summary>
/// Synchronous calls under load: 48 concurrent <c>CompleteChat</c> calls queued on the thread pool at
/// once, against a loopback Kestrel server that answers each after 200 ms, through the official client
/// alone and through the harness. A synchronous call holds its pool thread for the whole call, so the
/// pool must grow to run them together; a call that also needs a second pool thread to finish (an
/// asynchronous pipeline waited on) makes every call wait for the pool to grow further.
/// </summary>
/// <remarks>
/// The figure depends on how many threads the pool already has, so each case runs once in a fresh
/// process, with the pool as an application starts with it, against the upstream that Program starts in
/// the host process:
/// <c>dotnet run -c Release --project tests/AgentHarness.Benchmarks -- --filter '*SyncCalls*' --outOfProcess</c>.
/// In-process runs share the pool with the upstream and measure the second case with the threads the first grew.
/// </remarks>
[SimpleJob(RunStrategy.ColdStart, launchCount: 3, warmupCount: 0, iterationCount: 1, invocationCount: 1)]
public class SyncCallsBenchmarks
{
    private const int Calls = 48;

    private WebApplication? _server;
    private ChatClient _raw = null!;
    private ServiceProvider? _services;
    private ChatClient _harness = null!;

    [GlobalSetup]
    public void Setup()
    {
        // The upstream must not share the measured process's thread pool: starved of threads too, it would
        // slow both clients alike and hide the difference. Program starts it in the host process.
        Uri baseUrl;
        if (Environment.GetEnvironmentVariable(SyncCallsUpstream.Variable) is { Length: > 0 } url)
        {
            baseUrl = new Uri(url);
        }
        else
        {
            _server = SyncCallsUpstream.Start();
            baseUrl = SyncCallsUpstream.BaseUrl(_server);
        }

        _raw = new ChatClient("gpt-4.1-nano", new ApiKeyCredential("key-raw"), new OpenAIClientOptions
        {
            Endpoint = baseUrl,
            Transport = new HttpClientPipelineTransport(new HttpClient(new SocketsHttpHandler())),
            RetryPolicy = new ClientRetryPolicy(0),
        });

        var services = new ServiceCollection();
        services.AddAgentHarness().AddProvider("local", p =>
        {
            p.BaseUrl = baseUrl;
            p.ApiKey = "key-local";
        });
        _services = services.BuildServiceProvider();
        _harness = _services.GetRequiredService<IAgentHarness>().GetChatClient("local/gpt-4.1-nano");

        // One call each, one at a time, so the measured calls pay for neither JIT nor the first connection.
        _raw.CompleteChat([new UserChatMessage("warm up")]);
        _harness.CompleteChat([new UserChatMessage("warm up")]);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Console.WriteLine($"// pool threads at the end: {ThreadPool.ThreadCount}");
        if (_services is not null)
        {
            var records = _services.GetRequiredService<IUsageLedger>().GetRecords();
            if (records.Count(r => r.Outcome == UsageOutcome.Succeeded) != records.Count)
            {
                throw new InvalidOperationException("Some harness calls did not succeed.");
            }

            _services.Dispose();
        }

        _server?.StopAsync().GetAwaiter().GetResult();
        _server?.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true)]
    public TimeSpan RawSyncCalls() => Run(_raw);

    [Benchmark]
    public TimeSpan HarnessSyncCalls() => Run(_harness);

    private static TimeSpan Run(ChatClient client)
    {
        var started = Stopwatch.GetTimestamp();
        var calls = new Task[Calls];
        for (var i = 0; i < Calls; i++)
        {
            calls[i] = Task.Run(() => client.CompleteChat([new UserChatMessage("Classify the change.")]));
        }

        Task.WaitAll(calls);
        return Stopwatch.GetElapsedTime(started);
    }
}

/// <summary>The 200 ms upstream of <see cref="SyncCallsBenchmarks"/>: a loopback Kestrel server.</summary>
internal static class SyncCallsUpstream
{
    /// <summary>The environment variable that gives benchmark processes the upstream's base address.</summary>
    public const string Variable = "AGENTHARNESS_BENCH_SYNC_UPSTREAM";

    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(200);

    private static readonly byte[] Body = Encoding.UTF8.GetBytes(
        """{"id":"c","object":"chat.completion","created":1,"model":"gpt-4.1-nano","choices":[{"index":0,"message":{"role":"assistant","content":"bug-fix"},"finish_reason":"stop"}],"usage":{"prompt_tokens":42,"completion_tokens":3,"total_tokens":45}}""");

    /// <summary>Starts the server on <c>http://127.0.0.1:0</c>; dispose it to stop it.</summary>
    public static WebApplication Start()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var server = builder.Build();
        server.Run(static async context =>
        {
            await Task.Delay(Delay, context.RequestAborted).ConfigureAwait(false);
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(Body, context.RequestAborted).ConfigureAwait(false);
        });
        server.StartAsync().GetAwaiter().GetResult();
        return server;
    }

    /// <summary>The OpenAI-compatible base address of a started server.</summary>
    public static Uri BaseUrl(WebApplication server) => new(server.Urls.Single() + "/v1");

    /// <summary>
    /// Starts the server in this (host) process when the run selects <see cref="SyncCallsBenchmarks"/>, and
    /// publishes its address to the benchmark processes, which inherit the environment.
    /// </summary>
    public static WebApplication? StartForRun(IReadOnlyList<string> args)
    {
        if (!args.Any(a => a.Contains("SyncCalls", StringComparison.OrdinalIgnoreCase) || a == "*"))
        {
            return null;
        }

        var server = Start();
        Environment.SetEnvironmentVariable(Variable, BaseUrl(server).ToString());
        return server;
    }
}
