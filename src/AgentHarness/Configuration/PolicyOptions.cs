namespace AgentHarness;

/// <summary>How a policy chooses the model that serves a call.</summary>
public enum RoutingStrategy
{
    /// <summary>Members are tried in the configured order.</summary>
    Fallback,

    /// <summary>The first member is drawn by weight; the others follow by descending weight. With <see cref="PolicyOptions.Sticky"/>, a routing key keeps landing on the same member while it is healthy.</summary>
    Weighted,

    /// <summary>Each call starts at the next member in turn.</summary>
    RoundRobin,

    /// <summary>The member with the lowest recent latency (time to first token for streams) first; members not yet measured are tried first.</summary>
    LowestLatency,

    /// <summary>
    /// The cheapest member first: by <see cref="PolicyMemberOptions.Rank"/>, then, among members of
    /// equal rank (all of them unless ranks are set), by the price catalog's input and output price
    /// per token together; members without a price come after priced ones.
    /// </summary>
    LowestCost,
}

/// <summary>Which failures of a candidate make a policy try its next candidate.</summary>
[Flags]
public enum FallbackTriggers
{
    /// <summary>No failure falls back: the first candidate's failure is the call's.</summary>
    None = 0,

    /// <summary>Timeouts, connection failures, 408, 429 (rate limit) and 5xx, once the candidate's retries are spent.</summary>
    Transient = 1,

    /// <summary>The prompt does not fit the model: the next candidate with a larger context window is tried.</summary>
    ContextWindow = 2,

    /// <summary>The provider's content filter refused the request.</summary>
    ContentFilter = 4,

    /// <summary>401 or 403 from the candidate's provider.</summary>
    Authentication = 8,

    /// <summary>A 429 (or 402) that means a quota or spend limit, not a rate limit.</summary>
    Quota = 16,

    /// <summary>404 from the candidate's provider: it does not serve that model, another candidate may.</summary>
    ModelNotFound = 32,

    /// <summary>Every failure except content filtering and the caller's own errors.</summary>
    Default = Transient | ContextWindow | Authentication | Quota | ModelNotFound,
}

/// <summary>
/// A named routing policy, called as <c>policy/&lt;name&gt;</c>: its members (models or other
/// policies), how it picks among them, and how it retries and falls back.
/// </summary>
public sealed class PolicyOptions
{
    /// <summary>Gets or sets how the policy orders its members for a call.</summary>
    /// <value>The default value is <see cref="RoutingStrategy.Fallback"/>.</value>
    public RoutingStrategy Strategy { get; set; } = RoutingStrategy.Fallback;

    /// <summary>Gets the members, in order: model ids such as <c>anthropic/claude-sonnet-4-5</c>, or <c>policy/&lt;other&gt;</c>.</summary>
    /// <value>The default value is an empty list, which fails validation.</value>
    public IList<PolicyMemberOptions> Models { get; } = new List<PolicyMemberOptions>();

    /// <summary>Gets or sets which failures move the call to the next candidate.</summary>
    /// <value>The default value is <see cref="FallbackTriggers.Default"/>.</value>
    public FallbackTriggers FallbackOn { get; set; } = FallbackTriggers.Default;

    /// <summary>Gets or sets how many attempts one candidate gets for transient failures before the next is tried.</summary>
    /// <value>The default value is 3 (one attempt and two retries).</value>
    public int AttemptsPerModel { get; set; } = 3;

    /// <summary>Gets or sets how long one attempt may take until its response headers (and a non-streamed body) arrive.</summary>
    /// <value>The default value is 100 seconds.</value>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>Gets or sets how long a call through the policy may take over all candidates, attempts and waits, until its response is committed.</summary>
    /// <value>The default value is 5 minutes.</value>
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets the base delay of the exponential backoff (with jitter) between attempts on one candidate.</summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets the longest <c>Retry-After</c> waited for; a longer one moves on to the next candidate at once.</summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets how long a stream may take to deliver its first event before the candidate counts as failed.</summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan FirstTokenTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets how long a stream that has started may go without data before it fails with <see cref="StreamInterruptedException"/>.</summary>
    /// <value>The default value is 60 seconds.</value>
    public TimeSpan StreamIdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Gets or sets a value indicating whether a <see cref="RoutingStrategy.Weighted"/> policy keeps a routing key on the same member while it is healthy.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Sticky { get; set; }

    /// <summary>
    /// Gets or sets the run metadata key whose value is the sticky routing key, for example
    /// <c>customer</c> or <c>extra.tenant</c>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the run id.</value>
    public string? StickyKey { get; set; }
}

/// <summary>One member of a <see cref="PolicyOptions">policy</see>.</summary>
public sealed class PolicyMemberOptions
{
    /// <summary>Gets or sets the model id (<c>provider/model</c>, a gateway id) or <c>policy/&lt;name&gt;</c>.</summary>
    /// <value>The default value is <see langword="null"/>, which fails validation.</value>
    public string? Model { get; set; }

    /// <summary>Gets or sets the member's share in a <see cref="RoutingStrategy.Weighted"/> policy; weights are normalised.</summary>
    /// <value>The default value is 1.</value>
    public double Weight { get; set; } = 1;

    /// <summary>Gets or sets the model's context window in tokens, so that after a context-length failure smaller models are skipped.</summary>
    /// <value>The default value is <see langword="null"/>: unknown, never skipped.</value>
    public int? ContextWindow { get; set; }

    /// <summary>Gets or sets the member's cost rank for <see cref="RoutingStrategy.LowestCost"/>: lower is cheaper.</summary>
    /// <value>The default value is 0.</value>
    public int Rank { get; set; }
}
