using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace AgentHarness.Tests.Support;

/// <summary>
/// OpenTelemetry's in-memory exporter on the harness's activity source, for one test: a root span of the test's own, and
/// only the spans of its trace are sampled, so calls of tests running in parallel never reach the list.
/// </summary>
internal sealed class TraceCapture : IDisposable
{
    private static readonly ActivitySource TestSource = new("AgentHarness.Tests");

    private readonly List<Activity> _exported = [];
    private readonly TracerProvider _provider;

    public TraceCapture()
    {
        var traceId = ActivityTraceId.CreateRandom();
        _provider = Sdk.CreateTracerProviderBuilder()
            .AddSource(TelemetryOptions.ActivitySourceName, TestSource.Name)
            .SetSampler(new OneTraceSampler(traceId))
            .AddInMemoryExporter(_exported)
            .Build();
        Root = TestSource.StartActivity("test", ActivityKind.Internal, new ActivityContext(traceId, ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded))!;
    }

    /// <summary>Gets the test's root span, current in the test's flow until disposed.</summary>
    public Activity Root { get; }

    /// <summary>Gets the harness's spans of the test's trace that have ended, in the order they ended.</summary>
    public IReadOnlyList<Activity> Spans
    {
        get
        {
            lock (_exported)
            {
                return [.. _exported.Where(a => a.TraceId == Root.TraceId && a.Source.Name == TelemetryOptions.ActivitySourceName)];
            }
        }
    }

    public Activity Single(string name) => Assert.Single(Spans, s => s.DisplayName == name);

    public IReadOnlyList<Activity> ChildrenOf(Activity parent) => [.. Spans.Where(s => s.ParentSpanId == parent.SpanId)];

    public void Dispose()
    {
        Root.Dispose();
        _provider.Dispose();
    }

    private sealed class OneTraceSampler(ActivityTraceId traceId) : Sampler
    {
        public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) =>
            new(samplingParameters.TraceId == traceId ? SamplingDecision.RecordAndSample : SamplingDecision.Drop);
    }
}

/// <summary>Telemetry tests listen to the process-wide activity source: they run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class TelemetryCollection
{
    public const string Name = "Telemetry";
}
