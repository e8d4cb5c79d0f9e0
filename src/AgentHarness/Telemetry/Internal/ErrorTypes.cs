using AgentHarness.Pipeline.Internal;

namespace AgentHarness.Telemetry.Internal;

/// <summary>
/// The <c>error.type</c> values the harness reports, a short list as the conventions ask: an attempt's failure kind, and
/// for a call, what ended it.
/// </summary>
internal static class ErrorTypes
{
    public const string BudgetExceeded = "budget_exceeded";
    public const string UnpricedModel = "unpriced_model";
    public const string UnroutableModel = "unroutable_model";
    public const string StreamIncomplete = "stream_incomplete";
    public const string Canceled = "canceled";

    /// <summary>The conventions' value for an error the instrumentation does not name.</summary>
    public const string Other = "_OTHER";

    /// <summary>The error type of a failed attempt: what its failure means for routing.</summary>
    public static string Of(FailureKind kind) => kind switch
    {
        FailureKind.Transient => "transient",
        FailureKind.ContextWindowExceeded => "context_window_exceeded",
        FailureKind.ContentFilter => "content_filter",
        FailureKind.QuotaExceeded => "quota_exceeded",
        FailureKind.Authentication => "authentication",
        FailureKind.ModelNotFound => "model_not_found",
        FailureKind.InvalidRequest => "invalid_request",
        FailureKind.Canceled => Canceled,
        _ => Other,
    };
}
