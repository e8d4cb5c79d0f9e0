namespace AgentHarness.Telemetry.Internal;

/// <summary>
/// The names of the harness's spans, attributes and instruments: the OpenTelemetry GenAI semantic conventions' (v1.41)
/// where they have one, <c>agentharness.*</c> where they do not.
/// </summary>
internal static class TelemetryNames
{
    // Semantic conventions: gen-ai-spans.md, gen-ai-agent-spans.md, gen-ai-metrics.md (v1.41).
    public const string OperationName = "gen_ai.operation.name";
    public const string ProviderName = "gen_ai.provider.name";
    public const string AgentName = "gen_ai.agent.name";
    public const string RequestModel = "gen_ai.request.model";
    public const string RequestMaxTokens = "gen_ai.request.max_tokens";
    public const string RequestStream = "gen_ai.request.stream";
    public const string ResponseModel = "gen_ai.response.model";
    public const string ResponseFinishReasons = "gen_ai.response.finish_reasons";
    public const string ResponseTimeToFirstChunk = "gen_ai.response.time_to_first_chunk";
    public const string UsageInputTokens = "gen_ai.usage.input_tokens";
    public const string UsageOutputTokens = "gen_ai.usage.output_tokens";
    public const string UsageCacheReadInputTokens = "gen_ai.usage.cache_read.input_tokens";
    public const string TokenType = "gen_ai.token.type";
    public const string InputMessages = "gen_ai.input.messages";
    public const string OutputMessages = "gen_ai.output.messages";
    public const string ServerAddress = "server.address";
    public const string ServerPort = "server.port";
    public const string ErrorType = "error.type";
    public const string HttpResponseStatusCode = "http.response.status_code";

    public const string InvokeAgent = "invoke_agent";
    public const string Chat = "chat";
    public const string Embeddings = "embeddings";
    public const string TextCompletion = "text_completion";
    public const string Input = "input";
    public const string Output = "output";

    public const string TokenUsageMetric = "gen_ai.client.token.usage";
    public const string OperationDurationMetric = "gen_ai.client.operation.duration";
    public const string TimeToFirstChunkMetric = "gen_ai.client.operation.time_to_first_chunk";

    // The harness's own.
    public const string RunId = "agentharness.run.id";
    public const string RunCalls = "agentharness.run.calls";
    public const string RunMetadataPrefix = "agentharness.run.";
    public const string CheckpointEvent = "agentharness.spend_checkpoint";
    public const string CheckpointUsd = "agentharness.spend_checkpoint.usd";
    public const string CheckpointDecision = "agentharness.spend_checkpoint.decision";
    public const string CheckpointMaxCostUsd = "agentharness.spend_checkpoint.max_cost_usd";
    public const string TaskName = "agentharness.task";
    public const string PolicyName = "agentharness.policy";
    public const string AttemptCount = "agentharness.attempts";
    public const string CostUsd = "agentharness.cost.usd";
    public const string CacheHitName = "agentharness.cache.hit";
    public const string CacheSavedUsd = "agentharness.cache.saved.usd";
    public const string CostBasisName = "agentharness.cost.basis";
    public const string OutcomeName = "agentharness.outcome";
    public const string AttemptNumber = "agentharness.attempt.number";
    public const string AttemptWait = "agentharness.attempt.wait";
    public const string BudgetRule = "agentharness.budget.rule";
    public const string SkipReason = "agentharness.skip.reason";
    public const string CandidateSkipped = "agentharness.candidate_skipped";

    public const string CostMetric = "agentharness.client.cost";
    public const string FallbacksMetric = "agentharness.client.fallbacks";
    public const string RetriesMetric = "agentharness.client.retries";
    public const string BudgetRefusalsMetric = "agentharness.budget.refusals";
    public const string CooldownsMetric = "agentharness.cooldowns";
    public const string LedgerDroppedMetric = "agentharness.ledger.dropped";
    public const string LedgerFailedMetric = "agentharness.ledger.failed";

    /// <summary>The bucket boundaries the conventions give for <c>gen_ai.client.token.usage</c>.</summary>
    public static readonly int[] TokenBuckets = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

    /// <summary>The bucket boundaries the conventions give for the operation duration and the time to first chunk, in seconds.</summary>
    public static readonly double[] SecondsBuckets = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

    /// <summary>The conventions' operation name of an API operation; <see langword="null"/> for one they do not name.</summary>
    public static string? Operation(string operation) => operation switch
    {
        "chat/completions" or "responses" => Chat,
        "embeddings" => Embeddings,
        "completions" => TextCompletion,
        _ => null,
    };

    /// <summary>
    /// The operation name a span and its metrics carry: the conventions' name, else the API path's first segment (a path
    /// may end with an id, as <c>responses/resp_123</c> does, and would make every call a series of its own).
    /// </summary>
    public static string OperationOrPath(string operation)
    {
        if (Operation(operation) is { } known)
        {
            return known;
        }

        var slash = operation.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? (operation.Length == 0 ? "unknown" : operation) : operation[..slash];
    }

    public static string OutcomeValue(UsageOutcome outcome) => outcome switch
    {
        UsageOutcome.Succeeded => "succeeded",
        UsageOutcome.Failed => "failed",
        UsageOutcome.Canceled => "canceled",
        UsageOutcome.Rejected => "rejected",
        UsageOutcome.Incomplete => "incomplete",
        _ => "unknown",
    };

    public static string BasisValue(CostBasis basis) => basis switch
    {
        AgentHarness.CostBasis.None => "none",
        AgentHarness.CostBasis.Reported => "reported",
        AgentHarness.CostBasis.Catalog => "catalog",
        AgentHarness.CostBasis.Estimated => "estimated",
        AgentHarness.CostBasis.Unpriced => "unpriced",
        AgentHarness.CostBasis.ReportedCostImplausible => "reported_cost_implausible",
        AgentHarness.CostBasis.ReportedUsageImplausible => "reported_usage_implausible",
        _ => "unknown",
    };
}
