using System.ClientModel;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace AgentHarness.Benchmarks;

/// <summary>
/// One whole chat completion at four prompt sizes (the request body the official client writes: 263 bytes, 4 KB,
/// 16 KB, 64 KB), through the official client alone, through the harness, and through the harness in a run with a
/// cap (<see cref="AgentRun.MaxCostUsd"/>), whose every call reserves its worst case before it is sent. The transport
/// writes each request's body out, as a socket would, so both clients pay for serializing the prompt. The harness's
/// own time is the difference to the raw client; it should not grow with the prompt.
/// </summary>
[MemoryDiagnoser]
[InvocationCount(2048)]
public class PromptSizeBenchmarks
{
    internal static readonly byte[] Body = Encoding.UTF8.GetBytes(
        """{"id":"c","object":"chat.completion","created":1,"model":"gpt-4.1-nano-2025-04-14","choices":[{"index":0,"message":{"role":"assistant","content":"bug-fix"},"finish_reason":"stop"}],"usage":{"prompt_tokens":42,"completion_tokens":3,"total_tokens":45,"prompt_tokens_details":{"cached_tokens":0}}}""");

    private readonly CannedHandler _handler = new(Body, "application/json", drainRequest: true);
    private ChatMessage[] _messages = null!;
    private ChatClient _raw = null!;
    private ServiceProvider _services = null!;
    private IAgentHarness _harness = null!;
    private ChatClient _client = null!;
    private HarnessSetup.RunScope? _run;

    /// <summary>Gets or sets the size of the request body the official client writes, in bytes (at least).</summary>
    [Params(263, 4 * 1024, 16 * 1024, 64 * 1024)]
    public int PromptBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _messages = HarnessSetup.PromptOf(PromptBytes);
        _raw = HarnessSetup.CreateRawClient(_handler);
        _services = HarnessSetup.CreateHarness(_handler);
        _harness = _services.GetRequiredService<IAgentHarness>();
        _client = _harness.GetChatClient(HarnessSetup.Model);
    }

    [IterationSetup(Targets = [nameof(Harness)])]
    public void OpenRun() => _run = HarnessSetup.OpenRun(_harness);

    [IterationSetup(Targets = [nameof(HarnessWithCap)])]
    public void OpenCappedRun() => _run = HarnessSetup.OpenRun(_harness, maxCostUsd: 1_000_000m);

    [IterationCleanup(Targets = [nameof(Harness), nameof(HarnessWithCap)])]
    public void CloseRun() => _run?.Dispose();

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_handler.Requests > 0 && _services.GetRequiredService<IUsageLedger>().GetRecords() is { Count: > 0 } records
            && records[^1] is not { Outcome: UsageOutcome.Succeeded, CostUsd: > 0m })
        {
            throw new InvalidOperationException("The harness did not record its calls as succeeded and priced.");
        }

        _services.Dispose();
    }

    [Benchmark(Baseline = true)]
    public Task<ClientResult<ChatCompletion>> Raw() => _raw.CompleteChatAsync(_messages);

    [Benchmark]
    public Task<ClientResult<ChatCompletion>> Harness() => _client.CompleteChatAsync(_messages);

    [Benchmark]
    public Task<ClientResult<ChatCompletion>> HarnessWithCap() => _client.CompleteChatAsync(_messages);
}
