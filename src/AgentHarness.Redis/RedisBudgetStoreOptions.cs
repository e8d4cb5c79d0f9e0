namespace AgentHarness.Redis;

/// <summary>Options of the <see cref="RedisBudgetStore"/>, conventionally bound from the <c>AgentHarness:Redis</c> section.</summary>
public sealed class RedisBudgetStoreOptions
{
    /// <summary>
    /// Gets or sets the StackExchange.Redis configuration string, for example <c>redis:6379,password=…</c>.
    /// The store opens its own connection, which reconnects on its own. Leave it empty to use the
    /// <c>IConnectionMultiplexer</c> registered in the service collection (the application's own, as
    /// .NET Aspire's Redis integration registers it).
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the registered <c>IConnectionMultiplexer</c>.</value>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// Gets or sets the start of every key the store writes. Keys are <c>{prefix}:…</c>: the braces make
    /// every key of one prefix hash to one slot, so the scripts also run on Redis Cluster. Harnesses that
    /// share budgets use the same prefix; ones that must not, different ones.
    /// </summary>
    /// <value>The default value is <c>agentharness</c>.</value>
    public string KeyPrefix { get; set; } = "agentharness";

    /// <summary>Gets or sets what happens to a call that a budget applies to while Redis cannot be reached.</summary>
    /// <value>The default value is <see cref="RedisUnavailableBehavior.FailClosed"/>.</value>
    public RedisUnavailableBehavior WhenUnavailable { get; set; } = RedisUnavailableBehavior.FailClosed;

    /// <summary>
    /// Gets or sets how long one reservation, settle or read may wait for Redis before Redis counts as
    /// unreachable for it. A call also never waits past its own <c>TotalTimeout</c>.
    /// </summary>
    /// <value>The default value is 2 seconds.</value>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Gets or sets how long a reservation is held without a settle before Redis drops it, so that a
    /// replica that died mid-call holds no budget past it. Leave it unset for the lease derived from the
    /// call timeouts (<see cref="BudgetLease"/>: the longest <c>TotalTimeout</c>, plus the longest stream
    /// silence, plus a minute).
    /// </summary>
    /// <value>The default value is <see langword="null"/>: <see cref="BudgetLease.From(AgentHarnessOptions)"/>.</value>
    public TimeSpan? LeaseTime { get; set; }

    /// <summary>
    /// Gets or sets how long a settle that could not reach Redis is retried (and a settle remembered by its
    /// reservation id, so that a retry is applied once). A settle still failing after it is logged as lost.
    /// </summary>
    /// <value>The default value is 1 hour.</value>
    public TimeSpan SettleRetryWindow { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Gets or sets a value indicating whether candidates' cooldowns are shared by every replica on this
    /// Redis and key prefix: a provider's model that cools down in one replica cools down in all, and
    /// once its period is over a single replica probes it. Failures are still counted per replica. When
    /// Redis cannot be reached, each replica keeps its own cooldowns.
    /// </summary>
    /// <value>The default value is <see langword="false"/>: each replica keeps its own cooldowns.</value>
    public bool SharedCooldowns { get; set; }
}
