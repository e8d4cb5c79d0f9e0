using AgentHarness.Http.Internal;
using BenchmarkDotNet.Attributes;

namespace AgentHarness.Benchmarks;

/// <summary>
/// What the harness's own reading of a stream costs, apart from the rest of the call: the observer that follows every
/// event of <see cref="StreamingChatBenchmarks"/>' stream (eight events) for its model, usage, output and errors, and
/// the reading of one of its chunks alone.
/// </summary>
[MemoryDiagnoser]
public class StreamObserverBenchmarks
{
    private static readonly byte[] Chunk = System.Text.Encoding.UTF8.GetBytes(
        """{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1746090000,"model":"gpt-4.1-nano-2025-04-14","choices":[{"index":0,"delta":{"content":"change "},"logprobs":null,"finish_reason":null}]}""");

    /// <summary>The whole stream, as the observer sees it when the caller reads it in one go.</summary>
    [Benchmark(Baseline = true)]
    public int ObserveWholeStream()
    {
        using var observer = new SseUsageObserver();
        observer.Observe(StreamingChatBenchmarks.Body);
        observer.Complete();
        return observer.Reading.OutputTokens;
    }

    /// <summary>One chunk's data read for its model, output and usage.</summary>
    [Benchmark]
    public bool ReadOneChunk()
    {
        using var text = new OutputText();
        var reading = new UsageReading { Deltas = text };
        return reading.Read(Chunk);
    }

    /// <summary>
    /// The floor of reading a chunk: System.Text.Json's reader alone over its tokens. A committed stream's event fails the
    /// stream when it is malformed, so every event is tokenized once by the harness, whatever it carries.
    /// </summary>
    [Benchmark]
    public int TokenizeOneChunk()
    {
        var reader = new System.Text.Json.Utf8JsonReader(Chunk);
        var tokens = 0;
        while (reader.Read())
        {
            tokens++;
        }

        return tokens;
    }
}

