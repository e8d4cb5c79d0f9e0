using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using AgentHarness.Internal;
using AgentHarness.Pipeline.Internal;
using Microsoft.Extensions.Options;
using static AgentHarness.Telemetry.Internal.TelemetryNames;

namespace AgentHarness.Telemetry;

/// <summary>
/// The harness's <see cref="ActivitySource"/> and <see cref="Meter"/>, both named <c>AgentHarness</c>, with the
/// instruments and settings the call and run telemetry share. Nothing here is touched on a call's path unless
/// <see cref="Enabled"/>: with no listener, telemetry costs a few field reads per attempt and allocates nothing.
/// </summary>
internal sealed class HarnessTelemetry
{
    /// <summary>The version spans and metrics are tagged with: the harness's assembly version.</summary>
    private static readonly string? Version = typeof(HarnessTelemetry).Assembly.GetName().Version?.ToString();

    /// <summary>The harness's one activity source: its spans belong to the process, like any library's.</summary>
    public static readonly ActivitySource Source = new(TelemetryOptions.ActivitySourceName, Version);

    private readonly ConcurrentDictionary<ProviderEndpoint, UpstreamServer> _servers = new();

    /// <param name="meterFactory">Creates the meter, so that it belongs to the container (and a test's collector sees only its own).</param>
    /// <param name="time">The harness's clock: spans are timed on it, as calls and records are.</param>
    /// <param name="options">The telemetry settings.</param>
    /// <param name="coolingDown">Counts the candidates cooling down now (the routing's cooldowns), when the meter is collected.</param>
    /// <param name="ledger">The usage ledger, whose lost records are counted when it counts them.</param>
    public HarnessTelemetry(IMeterFactory meterFactory, TimeProvider time, IOptions<AgentHarnessOptions> options, Func<int> coolingDown, IUsageLedger ledger)
    {
        Time = time;
        var settings = options.Value.Telemetry;
        CaptureContent = settings.CaptureMessageContent;
        Metadata = [.. settings.MetadataAttributes
            .Where(static key => !string.IsNullOrWhiteSpace(key))
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .Select(static key => new MetadataAttribute(key, RunMetadataPrefix + key.ToLowerInvariant()))];

        var meter = meterFactory.Create(new MeterOptions(TelemetryOptions.MeterName) { Version = Version });
        TokenUsage = meter.CreateHistogram(TokenUsageMetric, "{token}", "Number of input and output tokens used.", advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = TokenBuckets });
        Duration = meter.CreateHistogram(OperationDurationMetric, "s", "GenAI operation duration.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        TimeToFirstChunk = meter.CreateHistogram(TimeToFirstChunkMetric, "s", "Time to receive the first chunk of a streamed answer, from the call's start.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        Cost = meter.CreateCounter<double>(CostMetric, "USD", "What calls cost, as their usage records say.");
        Fallbacks = meter.CreateCounter<long>(FallbacksMetric, "{fallback}", "Attempts sent to a call's next candidate after the one before it failed.");
        Retries = meter.CreateCounter<long>(RetriesMetric, "{retry}", "Attempts that retried a candidate after it failed.");
        BudgetRefusals = meter.CreateCounter<long>(BudgetRefusalsMetric, "{call}", "Calls a budget refused, by the rule that refused them.");
        meter.CreateObservableUpDownCounter(CooldownsMetric, coolingDown, "{candidate}", "Candidates cooling down now: held back after failing, or waiting for a probe.");
        if (ledger is ILedgerCounters counters)
        {
            meter.CreateObservableCounter(LedgerDroppedMetric, () => counters.Dropped, "{record}", "Usage records the ledger dropped because its queue was full or it was disposed.");
            meter.CreateObservableCounter(LedgerFailedMetric, () => counters.Failed, "{record}", "Usage records the ledger could not write.");
        }
    }

    /// <summary>Gets the harness's clock.</summary>
    public TimeProvider Time { get; }

    /// <summary>Gets a value indicating whether calls' spans carry the messages (<see cref="TelemetryOptions.CaptureMessageContent"/>).</summary>
    public bool CaptureContent { get; }

    /// <summary>Gets the run metadata keys recorded as attributes, with their attribute names.</summary>
    public MetadataAttribute[] Metadata { get; }

    public Histogram<int> TokenUsage { get; }

    public Histogram<double> Duration { get; }

    public Histogram<double> TimeToFirstChunk { get; }

    public Counter<double> Cost { get; }

    public Counter<long> Fallbacks { get; }

    public Counter<long> Retries { get; }

    public Counter<long> BudgetRefusals { get; }

    /// <summary>Gets a value indicating whether anything listens: the harness's spans, or any instrument a call records.</summary>
    public bool Enabled => Source.HasListeners()
        || Duration.Enabled || TokenUsage.Enabled || Cost.Enabled || TimeToFirstChunk.Enabled
        || Fallbacks.Enabled || Retries.Enabled || BudgetRefusals.Enabled;

    /// <summary>Starts a run's span, or returns <see langword="null"/> when no listener records it.</summary>
    public RunSpan? StartRun(AgentRun run)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var activity = Source.StartActivity(InvokeAgent + " " + run.Agent, ActivityKind.Internal, parentContext: default, startTime: run.StartedAt);
        if (activity is null)
        {
            return null;
        }

        if (activity.IsAllDataRequested)
        {
            activity.SetTag(OperationName, InvokeAgent);
            activity.SetTag(AgentName, run.Agent);
            activity.SetTag(RunId, run.RunId);
            if (Metadata.Length > 0)
            {
                var metadata = run.Metadata;
                foreach (var attribute in Metadata)
                {
                    if (metadata.TryGetValue(attribute.Key, out var value))
                    {
                        activity.SetTag(attribute.Name, value);
                    }
                }
            }
        }

        return new RunSpan(this, activity);
    }

    /// <summary>The real upstream of a provider, as the conventions' <c>server.address</c> and <c>server.port</c>.</summary>
    public UpstreamServer Server(ProviderEndpoint provider) =>
        _servers.TryGetValue(provider, out var server) ? server : _servers.GetOrAdd(provider, static p =>
        {
            var uri = p.BuildUri(string.Empty);
            return new UpstreamServer(uri.Host, uri.Port);
        });

    /// <summary>Ends a span on the harness's clock, leaving the flow's current activity as it was when the span is not it.</summary>
    public void Stop(Activity activity) => Stop(activity, Time.GetUtcNow());

    /// <summary>Ends a span at <paramref name="end"/>, leaving the flow's current activity as it was when the span is not it.</summary>
    public void Stop(Activity activity, DateTimeOffset end)
    {
        var current = Activity.Current;
        activity.SetEndTime(end.UtcDateTime);
        activity.Stop();
        if (!ReferenceEquals(current, activity))
        {
            // Stop makes the span's predecessor current, whichever flow it is stopped on (a stream ends on its reader's).
            Activity.Current = current;
        }
    }
}

/// <summary>A run metadata key recorded as an attribute.</summary>
/// <param name="Key">The key, as the run's metadata has it.</param>
/// <param name="Name">The attribute's name: <c>agentharness.run.&lt;key&gt;</c>.</param>
internal readonly record struct MetadataAttribute(string Key, string Name);

/// <summary>A provider's upstream host and port.</summary>
internal sealed record UpstreamServer(string Host, int Port);

/// <summary>A run's span, open until the run is disposed.</summary>
internal sealed class RunSpan(HarnessTelemetry telemetry, Activity activity)
{
    /// <summary>Adds a spend checkpoint's decision to the span, as an event at the time it was made.</summary>
    public void CheckpointDecided(decimal checkpointUsd, SpendCheckpointDecision decision, DateTimeOffset at)
    {
        if (!activity.IsAllDataRequested)
        {
            return;
        }

        var tags = new ActivityTagsCollection
        {
            [CheckpointUsd] = (double)checkpointUsd,
            [CheckpointDecision] = decision.Action switch
            {
                SpendCheckpointAction.ContinueWithCap => "continue_with_cap",
                SpendCheckpointAction.Stop => "stop",
                _ => "continue",
            },
        };
        if (decision.MaxCostUsd is { } cap)
        {
            tags[CheckpointMaxCostUsd] = (double)cap;
        }

        activity.AddEvent(new ActivityEvent(CheckpointEvent, at, tags));
    }

    /// <summary>Ends the span with the run's totals.</summary>
    public void End(AgentRun run)
    {
        if (activity.IsAllDataRequested)
        {
            activity.SetTag(RunCalls, run.CallCount);
            activity.SetTag(CostUsd, (double)run.SpentUsd);
        }

        telemetry.Stop(activity);
    }
}
