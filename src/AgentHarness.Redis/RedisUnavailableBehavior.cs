namespace AgentHarness.Redis;

/// <summary>What the Redis budget store does with a call that a budget applies to while Redis cannot be reached.</summary>
public enum RedisUnavailableBehavior
{
    /// <summary>
    /// Refuses the call with <see cref="BudgetStoreUnavailableException"/> before anything is sent: no
    /// budget can be overrun, and the caller learns the store is unreachable, not that the budget is spent.
    /// </summary>
    FailClosed,

    /// <summary>
    /// Lets the call through, held to the limits on this process's own count of what it reserved and
    /// spent without Redis, and logged; its spend is written to Redis once it answers again.
    /// </summary>
    FailOpen,
}
