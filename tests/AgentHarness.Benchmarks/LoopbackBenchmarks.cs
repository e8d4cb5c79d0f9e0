using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;
using OpenAI.Chat;

namespace AgentHarness.Benchmarks;

/// <summary>
/// Whole chat completions over real sockets: a minimal Kestrel upstream on 127.0.0.1 that answers at once, the official
/// client alone against the harness (a gateway with metadata headers, in a run), one call at a time and sixteen at once.
/// The time of one call at concurrency 1 is its latency (the median is the p50 of the iterations); at concurrency 16 a
/// call's mean time is the inverse of the throughput.
/// </summary>
/// <remarks>
/// The upstream runs in the measured process, so both clients share the machine with it alike; compare ratios.
/// </remarks>
[MemoryDiagnoser]
[MedianColumn]
[InvocationCount(256)]
public class LoopbackBenchmarks
{
    private const int Concurrency = 16;
    private const int CallsPerWorker = 8;

    private static readonly byte[] Answer = Encoding.UTF8.GetBytes(
        """{"id":"c","object":"chat.completion","created":1,"model":"gpt-4.1-nano-2025-04-14","choices":[{"index":0,"message":{"role":"assistant","content":"bug-fix"},"finish_reason":"stop"}],"usage":{"prompt_tokens":42,"completion_tokens":3,"total_tokens":45}}""");

    private WebApplication _server = null!;
    private ChatClient _raw = null!;
    private ServiceProvider _services = null!;
    private IAgentHarness _harness = null!;
    private ChatClient _client = null!;
    private HarnessSetup.RunScope? _run;

    [GlobalSetup]
    public void Setup()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _server = builder.Build();
        _server.Run(static context =>
        {
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = Answer.Length;
            return context.Response.Body.WriteAsync(Answer, context.RequestAborted).AsTask();
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
        services.AddAgentHarness().AddProvider("requesty", p =>
        {
            p.BaseUrl = baseUrl;
            p.ApiKey = "key-gateway";
            p.IsGateway = true;
            p.MetadataHeaderPrefix = HarnessSetup.MetadataHeaderPrefix;
        });
        _services = services.BuildServiceProvider();
        _harness = _services.GetRequiredService<IAgentHarness>();
        _client = _harness.GetChatClient(HarnessSetup.Model);

        // Connections open and code compiled before the first iteration, for both clients alike.
        Concurrently(_raw).GetAwaiter().GetResult();
        using (HarnessSetup.OpenRun(_harness))
        {
            Concurrently(_client).GetAwaiter().GetResult();
        }
    }

    /// <summary>Gets the official client alone (after <see cref="Setup"/>).</summary>
    internal ChatClient Raw => _raw;

    /// <summary>Gets the harness's client (after <see cref="Setup"/>).</summary>
    internal ChatClient Client => _client;

    /// <summary>Gets the harness (after <see cref="Setup"/>).</summary>
    internal IAgentHarness Harness => _harness;

    [IterationSetup(Targets = [nameof(HarnessOneAtATime), nameof(Harness16AtOnce)])]
    public void OpenRun() => _run = HarnessSetup.OpenRun(_harness);

    [IterationCleanup(Targets = [nameof(HarnessOneAtATime), nameof(Harness16AtOnce)])]
    public void CloseRun() => _run?.Dispose();

    [GlobalCleanup]
    public void Cleanup()
    {
        var records = _services.GetRequiredService<IUsageLedger>().GetRecords();
        if (records.Count == 0 || records.Any(static r => r.Outcome != UsageOutcome.Succeeded))
        {
            throw new InvalidOperationException("Some harness calls over the loopback upstream did not succeed.");
        }

        _services.Dispose();
        _server.StopAsync().GetAwaiter().GetResult();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true)]
    public Task<ClientResult<ChatCompletion>> RawOneAtATime() => _raw.CompleteChatAsync(HarnessSetup.Messages);

    [Benchmark]
    public Task<ClientResult<ChatCompletion>> HarnessOneAtATime() => _client.CompleteChatAsync(HarnessSetup.Messages);

    [Benchmark(OperationsPerInvoke = Concurrency * CallsPerWorker)]
    public Task Raw16AtOnce() => Concurrently(_raw);

    [Benchmark(OperationsPerInvoke = Concurrency * CallsPerWorker)]
    public Task Harness16AtOnce() => Concurrently(_client);

    private static Task Concurrently(ChatClient client)
    {
        var workers = new Task[Concurrency];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Run(async () =>
            {
                for (var call = 0; call < CallsPerWorker; call++)
                {
                    await client.CompleteChatAsync(HarnessSetup.Messages).ConfigureAwait(false);
                }
            });
        }

        return Task.WhenAll(workers);
    }
}
