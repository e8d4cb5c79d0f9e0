using System.ClientModel;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace AgentHarness.Benchmarks;

/// <summary>
/// One whole chat completion: the official client alone, against the same client handed out by the
/// harness (routing, gateway key, run metadata headers, retry pipeline, usage record).
/// </summary>
/// <remarks>
/// The run is opened per iteration, as an agent run would be: a run keeps its most recent calls,
/// so each iteration measures calls into a run of the size real runs have.
/// </remarks>
[MemoryDiagnoser]
[InvocationCount(32768)]
public class ChatCompletionBenchmarks
{
    internal static readonly byte[] Body = Encoding.UTF8.GetBytes(
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
    private IAgentHarness _harness = null!;
    private ChatClient _harnessClient = null!;
    private HarnessSetup.RunScope? _run;

    [GlobalSetup(Target = nameof(RawChatClient))]
    public void SetupRaw() => _raw = HarnessSetup.CreateRawClient(_handler);

    [GlobalSetup(Target = nameof(HarnessChatClient))]
    public void SetupHarness()
    {
        _services = HarnessSetup.CreateHarness(_handler);
        _harness = _services.GetRequiredService<IAgentHarness>();
        _harnessClient = _harness.GetChatClient(HarnessSetup.Model);
    }

    [IterationSetup(Target = nameof(HarnessChatClient))]
    public void OpenRun() => _run = HarnessSetup.OpenRun(_harness);

    [IterationCleanup(Target = nameof(HarnessChatClient))]
    public void CloseRun() => _run?.Dispose();

    [GlobalCleanup(Target = nameof(HarnessChatClient))]
    public void CleanupHarness()
    {
        HarnessSetup.EnsureMetadataSent(_handler, _services.GetRequiredService<IUsageLedger>());
        _services.Dispose();
    }

    [Benchmark(Baseline = true)]
    public Task<ClientResult<ChatCompletion>> RawChatClient() => _raw.CompleteChatAsync(HarnessSetup.Messages);

    [Benchmark]
    public Task<ClientResult<ChatCompletion>> HarnessChatClient() => _harnessClient.CompleteChatAsync(HarnessSetup.Messages);
}
