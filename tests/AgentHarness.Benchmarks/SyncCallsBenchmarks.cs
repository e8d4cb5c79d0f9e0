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
/// process, with the pool as an application starts with it:
/// <c>dotnet run -c Release --project tests/AgentHarness.Benchmarks -- --filter '*SyncCalls*' --outOfProcess</c>.
/// In-process runs measure the second case with the threads the first one grew.
/// </remarks>
[SimpleJob(RunStrategy.ColdStart, launchCount: 3, warmupCount: 0, iterationCount: 1, invocationCount: 1)]
public class SyncCallsBenchmarks
{
    private const int Calls = 48;
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(200);

    private static readonly byte[] Body = Encoding.UTF8.GetBytes(
        """{"id":"c","object":"chat.completion","created":1,"model":"gpt-4.1-nano","choices":[{"index":0,"message":{"role":"assistant","content":"bug-fix"},"finish_reason":"stop"}],"usage":{"prompt_tokens":42,"completion_tokens":3,"total_tokens":45}}""");

    private WebApplication _server = null!;
    private ChatClient _raw = null!;
    private ServiceProvider? _services;
    private ChatClient _harness = null!;

    [GlobalSetup]
    public void Setup()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _server = builder.Build();
        _server.Run(static async context =>
        {
            await Task.Delay(Delay, context.RequestAborted).ConfigureAwait(false);
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(Body, context.RequestAborted).ConfigureAwait(false);
        });
        _server.StartAsync().GetAwaiter().GetResult();
        var baseUrl = new Uri(_server.Urls.Single() + "/v1");

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

        _server.StopAsync().GetAwaiter().GetResult();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
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
