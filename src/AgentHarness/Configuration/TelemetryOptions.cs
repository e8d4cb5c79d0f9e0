namespace AgentHarness;

/// <summary>
/// Settings of the harness's OpenTelemetry spans and metrics, which an application receives by adding
/// <c>.AddSource("AgentHarness")</c> to its tracer provider and <c>.AddMeter("AgentHarness")</c> to its meter provider.
/// </summary>
/// <remarks>
/// With nothing listening to the <see cref="ActivitySourceName"/> source and no instrument of the <see cref="MeterName"/>
/// meter enabled, the harness records nothing and allocates nothing for telemetry.
/// </remarks>
public sealed class TelemetryOptions
{
    /// <summary>The name of the harness's <see cref="System.Diagnostics.ActivitySource"/>: <c>AgentHarness</c>.</summary>
    public const string ActivitySourceName = "AgentHarness";

    /// <summary>The name of the harness's <see cref="System.Diagnostics.Metrics.Meter"/>: <c>AgentHarness</c>.</summary>
    public const string MeterName = "AgentHarness";

    /// <summary>
    /// Gets or sets a value indicating whether a call's span carries the messages sent and received
    /// (<c>gen_ai.input.messages</c> and <c>gen_ai.output.messages</c>, in the OpenTelemetry GenAI format). Prompts and
    /// answers often hold personal or confidential data, and every span is kept by the tracing backend, so this is off
    /// unless turned on. Only chat completions calls carry them.
    /// </summary>
    /// <value>The default value is <see langword="false"/>: no prompt or answer text is ever recorded.</value>
    public bool CaptureMessageContent { get; set; }

    /// <summary>
    /// Gets the run metadata keys recorded as attributes <c>agentharness.run.&lt;key&gt;</c> on the run's span, its calls'
    /// spans and the call metrics, for example <c>branch</c>, <c>customer</c> or an extra key such as <c>Ticket</c>. The
    /// agent and the task are always recorded; any other key's values are unbounded (every branch, every customer), which
    /// multiplies a metric's series, so none is recorded unless listed here.
    /// </summary>
    /// <value>The default value is an empty list.</value>
    public IList<string> MetadataAttributes { get; } = new List<string>();
}
