using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace AgentHarness.Benchmarks;

/// <summary>
/// What telemetry costs: the harness's client with nothing listening (the call path as it is without telemetry), and
/// with a listener that records every span of the <c>AgentHarness</c> source and every measurement of its meter, as an
/// OpenTelemetry SDK subscribed with <c>AddSource</c> and <c>AddMeter</c> would (its exporters' own work aside).
/// </summary>
[MemoryDiagnoser]
[InvocationCount(32768)]
public class TelemetryBenchmarks
{
    private static readonly byte[] Answer = Encoding.UTF8.GetBytes(
        """
        {"id":"chatcmpl-bench","object":"chat.completion","created":1746090000,"model":"gpt-4.1-nano-2025-04-14",
         "choices":[{"index":0,"message":{"role":"assistant","content":"bug-fix","refusal":null},"logprobs":null,"finish_reason":"stop"}],
         "usage":{"prompt_tokens":42,"completion_tokens":3,"total_tokens":45,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0}}}
        """);

    private static readonly byte[] Stream = Encoding.UTF8.GetBytes(string.Concat(
        """data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4.1-nano-2025-04-14","choices":[{"index":0,"delta":{"role":"assistant","content":"bug-"},"finish_reason":null}]}""" + "\n\n",
        """data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4.1-nano-2025-04-14","choices":[{"index":0,"delta":{"content":"fix"},"finish_reason":"stop"}]}""" + "\n\n",
        """data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4.1-nano-2025-04-14","choices":[],"usage":{"prompt_tokens":42,"completion_tokens":2,"total_tokens":44}}""" + "\n\n",
        "data: [DONE]\n\n"));

    private CannedHandler _handler = null!;
    private ServiceProvider _services = null!;
    private IAgentHarness _harness = null!;
    private ChatClient _client = null!;
    private HarnessSetup.RunScope? _run;
    private ActivityListener? _spans;
    private MeterListener? _metrics;
    private long _recorded;

    /// <summary>Gets or sets a value indicating whether the call streams its answer.</summary>
    [Params(false, true)]
    public bool Streamed { get; set; }

    [GlobalSetup(Target = nameof(NothingListening))]
    public void SetupUnheard() => SetupHarness();

    [GlobalSetup(Target = nameof(EverythingRecorded))]
    public void SetupListened()
    {
        _spans = new ActivityListener
        {
            ShouldListenTo = static source => source.Name == TelemetryOptions.ActivitySourceName,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _ => Interlocked.Increment(ref _recorded),
        };
        ActivitySource.AddActivityListener(_spans);
        _metrics = new MeterListener
        {
            InstrumentPublished = static (instrument, listener) =>
            {
                if (instrument.Meter.Name == TelemetryOptions.MeterName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _metrics.SetMeasurementEventCallback<int>((_, _, _, _) => Interlocked.Increment(ref _recorded));
        _metrics.SetMeasurementEventCallback<long>((_, _, _, _) => Interlocked.Increment(ref _recorded));
        _metrics.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref _recorded));
        _metrics.Start();
        SetupHarness();
    }

    [IterationSetup]
    public void OpenRun() => _run = HarnessSetup.OpenRun(_harness);

    [IterationCleanup]
    public void CloseRun() => _run?.Dispose();

    [GlobalCleanup]
    public void Cleanup()
    {
        HarnessSetup.EnsureMetadataSent(_handler, _services.GetRequiredService<IUsageLedger>());
        _services.Dispose();
        _spans?.Dispose();
        _metrics?.Dispose();
        if (_spans is not null && Interlocked.Read(ref _recorded) == 0)
        {
            throw new InvalidOperationException("The listener recorded nothing: the benchmark did not measure telemetry.");
        }
    }

    [Benchmark(Baseline = true)]
    public Task<int> NothingListening() => CallAsync();

    [Benchmark]
    public Task<int> EverythingRecorded() => CallAsync();

    private void SetupHarness()
    {
        _handler = new CannedHandler(Streamed ? Stream : Answer, Streamed ? "text/event-stream" : "application/json");
        _services = HarnessSetup.CreateHarness(_handler);
        _harness = _services.GetRequiredService<IAgentHarness>();
        _client = _harness.GetChatClient(HarnessSetup.Model);
    }

    private async Task<int> CallAsync()
    {
        if (!Streamed)
        {
            var completion = await _client.CompleteChatAsync(HarnessSetup.Messages).ConfigureAwait(false);
            return completion.Value.Content.Count;
        }

        var length = 0;
        await foreach (var update in _client.CompleteChatStreamingAsync(HarnessSetup.Messages).ConfigureAwait(false))
        {
            length += update.ContentUpdate.Count;
        }

        return length;
    }
}
