using System.ClientModel;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace AgentHarness.Benchmarks;

/// <summary>
/// A response cache hit beside the official client's own call on the same in-memory transport: a hit from memory, and a
/// hit from Redis on a loopback redis-server the benchmark starts (each of those calls first drops the entry from the
/// memory level, about 0.1 µs, so that it is read from Redis).
/// </summary>
[MemoryDiagnoser]
[InvocationCount(8192)]
public class ResponseCacheBenchmarks
{
    private static readonly byte[] Body = Encoding.UTF8.GetBytes(
        """
        {"id":"chatcmpl-bench","object":"chat.completion","created":1746090000,"model":"gpt-4.1-nano-2025-04-14",
         "choices":[{"index":0,"message":{"role":"assistant","content":"bug-fix","refusal":null},"logprobs":null,"finish_reason":"stop"}],
         "usage":{"prompt_tokens":42,"completion_tokens":3,"total_tokens":45,
                  "prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},
                  "completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},
         "service_tier":"default","system_fingerprint":"fp_bench"}
        """);

    private readonly CannedHandler _handler = new(Body, "application/json");
    private ChatClient _raw = null!;
    private ServiceProvider _services = null!;
    private ChatClient _client = null!;
    private IMemoryCache? _memory;
    private string _key = null!;
    private LoopbackRedis? _redis;

    [GlobalSetup(Target = nameof(RawChatClient))]
    public void SetupRaw() => _raw = HarnessSetup.CreateRawClient(_handler);

    [GlobalSetup(Target = nameof(MemoryHit))]
    public void SetupMemory() => Setup(redis: false);

    [GlobalSetup(Target = nameof(RedisHit))]
    public void SetupRedis() => Setup(redis: true);

    [GlobalCleanup(Targets = [nameof(MemoryHit), nameof(RedisHit)])]
    public void Cleanup()
    {
        try
        {
            var records = _services.GetRequiredService<IUsageLedger>().GetRecords();
            if (!records[^1].FromCache)
            {
                throw new InvalidOperationException("A measured call was not a cache hit.");
            }

            _services.Dispose();
        }
        finally
        {
            _redis?.Dispose();
        }
    }

    [Benchmark(Baseline = true)]
    public Task<ClientResult<ChatCompletion>> RawChatClient() => _raw.CompleteChatAsync(HarnessSetup.Messages);

    [Benchmark]
    public Task<ClientResult<ChatCompletion>> MemoryHit() => _client.CompleteChatAsync(HarnessSetup.Messages);

    [Benchmark]
    public Task<ClientResult<ChatCompletion>> RedisHit()
    {
        _memory!.Remove(_key);
        return _client.CompleteChatAsync(HarnessSetup.Messages);
    }

    private void Setup(bool redis)
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
                o.ResponseCache.Enabled = true;
                o.UsageLedgerCapacity = 100;
            })
            .ConfigureHttpClient(b => b.ConfigurePrimaryHttpMessageHandler(() => _handler));
        if (redis)
        {
            _redis = LoopbackRedis.Start();
            builder.AddRedisResponseCache(_redis.ConnectionString);
        }
        else
        {
            services.AddHybridCache();
            builder.AddResponseCache();
        }

        _services = services.BuildServiceProvider();
        _client = _services.GetRequiredService<IAgentHarness>().GetChatClient(HarnessSetup.Model);
        _memory = _services.GetRequiredService<IMemoryCache>();

        // The one upstream call: every measured call is a hit. The entry reaches Redis after the call returns.
        _client.CompleteChat(HarnessSetup.Messages);
        _key = _services.GetRequiredService<IUsageLedger>().GetRecords()[0].CacheKey!;
        if (redis)
        {
            var until = DateTime.UtcNow.AddSeconds(10);
            while (!_redis!.Connection.GetDatabase().KeyExists("agentharness:cache:" + _key) && DateTime.UtcNow < until)
            {
                Thread.Sleep(10);
            }
        }
    }
}
