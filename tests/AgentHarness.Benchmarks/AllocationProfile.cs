using System.Diagnostics.Tracing;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace AgentHarness.Benchmarks;

/// <summary>
/// Where a call's bytes go: the runtime's allocation samples (one about every 100 KB, so an object is sampled in
/// proportion to its size) by type, for the raw client and the harness over the same in-memory answer, and the bytes
/// per call each type accounts for in the harness beyond the raw client. A guide for finding what to cut, not a figure
/// to report: the exact per-call totals come from the benchmarks' memory diagnoser.
/// </summary>
/// <remarks>
/// <c>dotnet run -c Release --project tests/AgentHarness.Benchmarks -- allocations [whole|stream|fallback|loopback] [calls]</c>
/// (fallback: a policy whose first member answers 503, against one whose first member answers)
/// </remarks>
internal static class AllocationProfile
{
    public const string Command = "allocations";

    private static readonly byte[] Json = Encoding.UTF8.GetBytes(
        """{"id":"chatcmpl-bench","object":"chat.completion","created":1746090000,"model":"gpt-4.1-nano-2025-04-14","choices":[{"index":0,"message":{"role":"assistant","content":"bug-fix","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":42,"completion_tokens":3,"total_tokens":45}}""");

    private static readonly byte[] Sse = Encoding.UTF8.GetBytes(
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4.1-nano\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"bug\"},\"finish_reason\":null}]}\n\n"
        + "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4.1-nano\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"-fix\"},\"finish_reason\":\"stop\"}]}\n\n"
        + "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4.1-nano\",\"choices\":[],\"usage\":{\"prompt_tokens\":42,\"completion_tokens\":3,\"total_tokens\":45}}\n\n"
        + "data: [DONE]\n\n");

    public static async Task<bool> TryRunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] != Command)
        {
            return false;
        }

        var stream = args.Length > 1 && args[1] == "stream";
        var calls = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 100_000;
        if (args.Length > 1 && args[1] == "loopback")
        {
            // Over real sockets, one call at a time: what the harness adds when its awaits complete asynchronously.
            var loopback = new LoopbackBenchmarks();
            loopback.Setup();
            await CompareAsync(loopback.Raw, loopback.Client, stream: false, calls, () => HarnessSetup.OpenRun(loopback.Harness)).ConfigureAwait(false);
            loopback.Cleanup();
            return true;
        }

        if (args.Length > 1 && args[1] == "fallback")
        {
            // Both sides are the harness: a policy whose first member answers, against one whose first member answers 503.
            var fallback = new FallbackBenchmarks();
            fallback.Setup();
            await CompareAsync(fallback.Direct, fallback.Fallback, stream: false, calls, () => null).ConfigureAwait(false);
            return true;
        }

        var handler = new CannedHandler(stream ? Sse : Json, stream ? "text/event-stream" : "application/json");
        var raw = HarnessSetup.CreateRawClient(handler);
        using var services = HarnessSetup.CreateHarness(handler);
        var harness = services.GetRequiredService<IAgentHarness>();
        var client = harness.GetChatClient(HarnessSetup.Model);

        await CompareAsync(raw, client, stream, calls, () => HarnessSetup.OpenRun(harness)).ConfigureAwait(false);
        return true;
    }

    private static async Task CompareAsync(ChatClient raw, ChatClient client, bool stream, int calls, Func<IDisposable?> openRun)
    {
        var rawSamples = await SampleAsync(() => CallAsync(raw, stream), calls).ConfigureAwait(false);
        Dictionary<string, long> harnessSamples;
        using (openRun())
        {
            harnessSamples = await SampleAsync(() => CallAsync(client, stream), calls).ConfigureAwait(false);
        }

        Console.WriteLine($"{"bytes/call raw",16} {"harness",10} {"added",10}  type");
        foreach (var type in rawSamples.Keys.Union(harnessSamples.Keys)
            .Select(t => (Type: t, Raw: rawSamples.GetValueOrDefault(t) / (double)calls, Harness: harnessSamples.GetValueOrDefault(t) / (double)calls))
            .OrderByDescending(t => Math.Abs(t.Harness - t.Raw)).Take(40))
        {
            Console.WriteLine($"{type.Raw,16:F1} {type.Harness,10:F1} {type.Harness - type.Raw,10:F1}  {type.Type}");
        }

        Console.WriteLine($"{rawSamples.Values.Sum() / (double)calls,16:F1} {harnessSamples.Values.Sum() / (double)calls,10:F1}  (sampled totals)");
        var rawExact = await ExactAsync(() => CallAsync(raw, stream), calls).ConfigureAwait(false);
        double harnessExact;
        using (openRun())
        {
            harnessExact = await ExactAsync(() => CallAsync(client, stream), calls).ConfigureAwait(false);
        }

        Console.WriteLine($"{rawExact,16:F1} {harnessExact,10:F1} {harnessExact - rawExact,10:F1}  (exact, GC.GetTotalAllocatedBytes)");
    }

    private static async Task CallAsync(ChatClient client, bool stream)
    {
        if (!stream)
        {
            await client.CompleteChatAsync(HarnessSetup.Messages).ConfigureAwait(false);
            return;
        }

        await foreach (var update in client.CompleteChatStreamingAsync(HarnessSetup.Messages).ConfigureAwait(false))
        {
            _ = update;
        }
    }

    private static async Task<double> ExactAsync(Func<Task> call, int calls)
    {
        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < calls; i++)
        {
            await call().ConfigureAwait(false);
        }

        return (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)calls;
    }

    private static async Task<Dictionary<string, long>> SampleAsync(Func<Task> call, int calls)
    {
        for (var i = 0; i < 2_000; i++)
        {
            await call().ConfigureAwait(false);
        }

        using var listener = new AllocationListener();
        for (var i = 0; i < calls; i++)
        {
            await call().ConfigureAwait(false);
        }

        listener.Stop();
        return listener.Bytes();
    }

    private sealed class AllocationListener : EventListener
    {
        private readonly Dictionary<string, long> _bytes = new(StringComparer.Ordinal);
        private volatile bool _stopped;

        public void Stop() => _stopped = true;

        public Dictionary<string, long> Bytes()
        {
            lock (_bytes)
            {
                return new Dictionary<string, long>(_bytes, StringComparer.Ordinal);
            }
        }

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (_stopped || eventData.EventName is null || !eventData.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || eventData.Payload is null)
            {
                return;
            }

            var type = eventData.PayloadNames!.IndexOf("TypeName") is >= 0 and var t ? eventData.Payload[t] as string ?? "?" : "?";
            var amount = eventData.PayloadNames.IndexOf("AllocationAmount64") is >= 0 and var a ? Convert.ToInt64(eventData.Payload[a], CultureInfo.InvariantCulture) : 100_000;
            lock (_bytes)
            {
                _bytes[type] = _bytes.GetValueOrDefault(type) + amount;
            }
        }
    }
}
