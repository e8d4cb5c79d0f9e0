namespace AgentHarness.Pipeline.Internal;

/// <summary>What an attempt's failure means for routing: judged by routing, reported by telemetry as the attempt's error type.</summary>
internal enum FailureKind
{
    /// <summary>Rate limit, overload, server error, connection failure or attempt timeout: retry the same model, then try the next candidate.</summary>
    Transient,

    /// <summary>The prompt does not fit the model: no retry; the next candidate, preferably one with a larger window.</summary>
    ContextWindowExceeded,

    /// <summary>The provider's safety filter refused the request; what the router does next is configurable.</summary>
    ContentFilter,

    /// <summary>The account's quota, credit, budget or spend limit is used up: no retry on that provider; fall back.</summary>
    QuotaExceeded,

    /// <summary>The provider refused the credentials: no retry on that provider; fall back.</summary>
    Authentication,

    /// <summary>The provider does not serve this model (404), or redirected the call (3xx, never followed): no retry on that provider; another candidate may have it.</summary>
    ModelNotFound,

    /// <summary>The request itself is wrong, so any provider would refuse it: no retry, no fallback.</summary>
    InvalidRequest,

    /// <summary>The caller cancelled: no retry, no fallback.</summary>
    Canceled,
}
