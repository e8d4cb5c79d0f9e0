using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace AgentHarness.Benchmarks;

/// <summary>
/// One streamed chat completion read to its end: the official client alone, against the harness's
/// client, whose every read passes through the stream observer that records usage at the end.
/// </summary>
[MemoryDiagnoser]
[InvocationCount(32768)]
public class StreamingChatBenchmarks
{
    internal static readonly byte[] Body = Encoding.UTF8.GetBytes(string.Concat(
        Chunk("""{"role":"assistant","content":""}""", finish: null),
        Chunk("""{"content":"This "}""", finish: null),
        Chunk("""{"content":"change "}""", finish: null),
        Chunk("""{"content":"is a "}""", finish: null),
        Chunk("""{"content":"bug-fix."}""", finish: null),
        Chunk("{}", finish: "stop"),
        """data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1746090000,"model":"gpt-4.1-nano-2025-04-14","choices":[],"usage":{"prompt_tokens":42,"completion_tokens":6,"total_tokens":48,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}""" + "\n\n",
        "data: [DONE]\n\n"));

    private readonly CannedHandler _handler = new(Body, "text/event-stream");
    private ChatClient _raw = null!;
    private ServiceProvider _services = null!;
    private IAgentHarness _harness = null!;
    private ChatClient _harnessClient = null!;
    private HarnessSetup.RunScope? _run;

    [GlobalSetup(Target = nameof(RawStreamingChatClient))]
    public void SetupRaw() => _raw = HarnessSetup.CreateRawClient(_handler);

    [GlobalSetup(Target = nameof(HarnessStreamingChatClient))]
    public void SetupHarness()
    {
        _services = HarnessSetup.CreateHarness(_handler);
        _harness = _services.GetRequiredService<IAgentHarness>();
        _harnessClient = _harness.GetChatClient(HarnessSetup.Model);
    }

    [IterationSetup(Target = nameof(HarnessStreamingChatClient))]
    public void OpenRun() => _run = HarnessSetup.OpenRun(_harness);

    [IterationCleanup(Target = nameof(HarnessStreamingChatClient))]
    public void CloseRun() => _run?.Dispose();

    [GlobalCleanup(Target = nameof(HarnessStreamingChatClient))]
    public void CleanupHarness()
    {
        HarnessSetup.EnsureMetadataSent(_handler, _services.GetRequiredService<IUsageLedger>());
        _services.Dispose();
    }

    [Benchmark(Baseline = true)]
    public Task<int> RawStreamingChatClient() => ReadAllAsync(_raw);

    [Benchmark]
    public Task<int> HarnessStreamingChatClient() => ReadAllAsync(_harnessClient);

    private static async Task<int> ReadAllAsync(ChatClient client)
    {
        var length = 0;
        await foreach (var update in client.CompleteChatStreamingAsync(HarnessSetup.Messages))
        {
            foreach (var part in update.ContentUpdate)
            {
                length += part.Text.Length;
            }
        }

        return length;
    }

    private static string Chunk(string delta, string? finish) =>
        $$"""data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1746090000,"model":"gpt-4.1-nano-2025-04-14","choices":[{"index":0,"delta":{{delta}},"logprobs":null,"finish_reason":{{(finish is null ? "null" : $"\"{finish}\"")}}}]}""" + "\n\n";
}
