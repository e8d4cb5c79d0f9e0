namespace AgentHarness;

/// <summary>
/// Settings of the in-process gateway: the providers it can reach and how model ids that name no
/// provider are served. Bound from configuration (conventionally the <c>AgentHarness</c> section)
/// or set in code, and validated when the application starts.
/// </summary>
public sealed class AgentHarnessOptions
{
    /// <summary>
    /// Gets the named providers. Names are compared without regard to case; a model id
    /// <c>name/model</c> is sent to the provider called <c>name</c> with the bare model name.
    /// </summary>
    /// <value>The default value is an empty dictionary.</value>
    public IDictionary<string, ProviderOptions> Providers { get; } =
        new Dictionary<string, ProviderOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Gets or sets the provider that serves model ids with no <c>/</c> in them, such as
    /// <c>gpt-4.1-mini</c>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: a bare model id is refused.</value>
    public string? DefaultProvider { get; set; }

    /// <summary>
    /// Gets or sets the gateway that serves model ids whose provider is not configured here (for
    /// example <c>anthropic/claude-sonnet-4-5</c> or <c>policy/claude-4</c>); it receives the full id.
    /// </summary>
    /// <value>
    /// The default value is <see langword="null"/>: the only provider with
    /// <see cref="ProviderOptions.IsGateway"/> set is used, if there is exactly one.
    /// </value>
    public string? DefaultGateway { get; set; }

    /// <summary>
    /// Gets the named routing policies, called as <c>policy/&lt;name&gt;</c>. A policy id with no
    /// policy of that name here goes to the gateway, which may have a policy of its own.
    /// </summary>
    /// <value>The default value is an empty dictionary.</value>
    public IDictionary<string, PolicyOptions> Policies { get; } =
        new Dictionary<string, PolicyOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets or sets how many consecutive failures put a candidate (a provider and model) into cooldown.</summary>
    /// <value>The default value is 3.</value>
    public int FailuresBeforeCooldown { get; set; } = 3;

    /// <summary>Gets or sets how long a candidate in cooldown is skipped before one probe call is let through.</summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan CooldownPeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets how many usage records the in-memory ledger keeps; the oldest are dropped first.</summary>
    /// <value>The default value is 10,000; at least 1 and at most 1,000,000 (the ledger's room grows with the records it holds, about 300 bytes each, up to this many; keep more in the SQLite ledger).</value>
    public int UsageLedgerCapacity { get; set; } = 10_000;

    /// <summary>
    /// Gets or sets the most bytes a non-streamed answer may have, after decompression, and the most a
    /// stream may send before its first output. A larger answer fails its attempt (a policy falls back to
    /// its next member; a direct call ends with an <see cref="HttpRequestException"/> that names this limit)
    /// and is not read further.
    /// </summary>
    /// <value>The default value is 33,554,432 (32 MiB). It must be between 1,024 and 1,073,741,824.</value>
    public int MaxResponseBytes { get; set; } = Http.Internal.BodyLimits.DefaultMaxResponseBytes;

    /// <summary>
    /// Gets or sets the most bytes one server-sent event of a stream may have. A larger event fails the
    /// stream: before its first output as a failed attempt (a policy falls back), after it with a
    /// <see cref="StreamInterruptedException"/> that names this limit.
    /// </summary>
    /// <value>
    /// The default value is 4,194,304 (4 MiB). It must be between 1,024 and 1,073,741,824; a value above
    /// <see cref="MaxResponseBytes"/> counts as <see cref="MaxResponseBytes"/>.
    /// </value>
    public int MaxStreamEventBytes { get; set; } = Http.Internal.BodyLimits.DefaultMaxStreamEventBytes;

    /// <summary>Gets the price catalog's settings: prices from configuration and what to do with unpriced models.</summary>
    public CatalogOptions Catalog { get; } = new();

    /// <summary>Gets the settings of the harness's OpenTelemetry spans and metrics: message content and metadata attributes.</summary>
    public TelemetryOptions Telemetry { get; } = new();

    /// <summary>Gets the settings of the response cache, which serves only when <c>AddResponseCache</c> registered it.</summary>
    public ResponseCacheOptions ResponseCache { get; } = new();

    /// <summary>
    /// Gets the budget rules, by name: spending limits per agent, customer, team or any run key,
    /// per run, hour, day or month. A run's own cap is <see cref="AgentRun.MaxCostUsd"/>.
    /// </summary>
    /// <value>The default value is an empty dictionary.</value>
    public IDictionary<string, BudgetRuleOptions> Budgets { get; } =
        new Dictionary<string, BudgetRuleOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Gets or sets the fractions of a limit (a rule's, or a run's <see cref="AgentRun.MaxCostUsd"/>)
    /// whose crossing raises <see cref="IBudgetGuard.ThresholdReached"/>, once each per counter.
    /// </summary>
    /// <value>
    /// The default value is <see langword="null"/>, which means 0.5, 0.8 and 1.0. (A default array
    /// would not do: the configuration binder appends configured items to an array's existing ones.)
    /// </value>
#pragma warning disable CA1819 // Bound from configuration; see the value's remarks.
    public double[]? BudgetThresholds { get; set; }
#pragma warning restore CA1819

    /// <summary>
    /// Gets or sets a value indicating whether a request that sets no maximum output tokens, and whose
    /// worst case (the model's whole output limit) does not fit a budget, is sent with the most output
    /// that fits what is left (<c>max_completion_tokens</c>, or <c>max_output_tokens</c> for the
    /// Responses API) instead of being refused. The attempt's <see cref="UsageAttempt.OutputTokenLimit"/>
    /// records the limit it was sent with. A request that sets its own maximum is never changed.
    /// </summary>
    /// <value>The default value is <see langword="true"/>. <see langword="false"/> refuses such calls.</value>
    public bool FitOutputToBudget { get; set; } = true;

    /// <summary>
    /// Gets or sets the fewest output tokens <see cref="FitOutputToBudget"/> may limit a request to:
    /// when less than this fits the budget, the call is refused with a <see cref="BudgetExceededException"/>.
    /// </summary>
    /// <value>The default value is 256.</value>
    public int MinFittedOutputTokens { get; set; } = 256;
}
