namespace AgentHarness;

/// <summary>How a logical call ended.</summary>
public enum UsageOutcome
{
    /// <summary>The provider answered with success and, for a stream, the stream ended normally.</summary>
    Succeeded,

    /// <summary>Every attempt failed: the provider answered with an error status, or could not be reached in time.</summary>
    Failed,

    /// <summary>The caller cancelled the call.</summary>
    Canceled,

    /// <summary>The call was refused before any request was sent (for example a model no provider can serve).</summary>
    Rejected,

    /// <summary>A stream started but did not end normally: it was cut, failed while reading, or was abandoned by the caller.</summary>
    Incomplete,
}

/// <summary>Where the cost of a call comes from.</summary>
public enum CostBasis
{
    /// <summary>Nothing was charged: no request was sent, or every attempt failed before an answer.</summary>
    None,

    /// <summary>The provider or gateway reported the cost in the response (<c>usage.cost</c>).</summary>
    Reported,

    /// <summary>The tokens the response reported, at the price catalog's rates (cached input at the cached rate).</summary>
    Catalog,

    /// <summary>
    /// The answer reported no usage, or no usable count for its input or its output (the caller cancelled after the
    /// request was sent, a stream stopped before its usage event, an empty <c>usage</c> object, counts that are strings
    /// or negative): the input estimate for a missing input count, the output received for a missing output count
    /// (at most the output limit the attempt was sent with), at catalog rates.
    /// </summary>
    Estimated,

    /// <summary>The model has no price and <see cref="CatalogOptions.UnpricedModels"/> allowed the call: its cost is recorded as zero.</summary>
    Unpriced,

    /// <summary>
    /// The provider reported a cost (<c>usage.cost</c>) more than 100 times what its tokens cost at
    /// the price catalog's rates: the catalog cost was charged instead, and a warning logged.
    /// </summary>
    ReportedCostImplausible,

    /// <summary>
    /// The provider reported more tokens than the attempt could have used: more output than the output limit it was
    /// sent with (times its choices), or more input than the model's context window. The limit was charged instead (the
    /// input estimate for the input), at catalog rates, and a warning logged.
    /// </summary>
    ReportedUsageImplausible,
}

/// <summary>How one attempt of a call went.</summary>
public enum AttemptOutcome
{
    /// <summary>The attempt's answer was returned to the caller.</summary>
    Succeeded,

    /// <summary>The attempt failed; see <see cref="UsageAttempt.Error"/>.</summary>
    Failed,

    /// <summary>The candidate was not called: it was cooling down, its context window is too small, it has no price, or its worst-case cost does not fit the budget.</summary>
    Skipped,
}

/// <summary>One attempt (or skipped candidate) of a logical call: which provider and model, and how it went.</summary>
/// <param name="Provider">The configured provider.</param>
/// <param name="Model">The model id sent (or not sent) to that provider.</param>
/// <param name="Outcome">How the attempt went.</param>
/// <param name="StatusCode">The HTTP status of the answer, or <see langword="null"/> when none arrived.</param>
/// <param name="Error">A short description of the failure or skip (never a key or a prompt), or <see langword="null"/> on success.</param>
/// <param name="Latency">How long the attempt took, until its response headers (and a non-streamed body, or a stream's first event) arrived.</param>
public sealed record UsageAttempt(string Provider, string Model, AttemptOutcome Outcome, int? StatusCode, string? Error, TimeSpan Latency)
{
    /// <summary>
    /// Gets the maximum output tokens the harness set on this attempt so that its worst case fitted a
    /// budget (see <see cref="AgentHarnessOptions.FitOutputToBudget"/>), or <see langword="null"/> when
    /// the request was sent with the limit its caller set, or none.
    /// </summary>
    public int? OutputTokenLimit { get; init; }
}

/// <summary>
/// The record of one logical call through the harness (one <c>CompleteChat</c>, one
/// <c>GenerateEmbeddings</c>, ...), whatever number of attempts it took.
/// </summary>
public sealed record UsageRecord
{
    /// <summary>Gets when the call started.</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>Gets the id of the run the call was made in, or <see langword="null"/> outside any run.</summary>
    public string? RunId { get; init; }

    /// <summary>Gets the run's agent, or <see langword="null"/> outside any run.</summary>
    public string? Agent { get; init; }

    /// <summary>Gets the task that was set for the call, or <see langword="null"/>.</summary>
    public string? Task { get; init; }

    /// <summary>
    /// Gets all the run metadata of the call: <c>agent</c>, <c>task</c>, <c>branch</c>,
    /// <c>environment</c>, <c>customer</c>, <c>team</c>, <c>repo</c>, <c>user</c> (those set) and
    /// every extra key, keyed without regard to case.
    /// </summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = EmptyMetadata;

    /// <summary>Gets the model id the application asked for, for example <c>openai/gpt-4.1-nano</c>.</summary>
    public required string ModelRequested { get; init; }

    /// <summary>Gets the model that answered, as the response reported it, or <see langword="null"/> when no answer arrived.</summary>
    public string? ModelUsed { get; init; }

    /// <summary>Gets the provider of the last attempt, or <see langword="null"/> when none was made.</summary>
    public string? Provider { get; init; }

    /// <summary>Gets the API operation, for example <c>chat/completions</c> or <c>embeddings</c>.</summary>
    public required string Operation { get; init; }

    /// <summary>Gets a value indicating whether the answer was streamed.</summary>
    public bool Streaming { get; init; }

    /// <summary>Gets the input (prompt) tokens the response reported.</summary>
    public int InputTokens { get; init; }

    /// <summary>Gets the output (completion) tokens the response reported.</summary>
    public int OutputTokens { get; init; }

    /// <summary>Gets the input tokens served from the provider's prompt cache, a part of <see cref="InputTokens"/>.</summary>
    public int CachedInputTokens { get; init; }

    /// <summary>Gets the input tokens written to the provider's prompt cache, a part of <see cref="InputTokens"/> priced at the catalog's cache-write rate.</summary>
    public int CacheWriteInputTokens { get; init; }

    /// <summary>
    /// Gets what the call cost, in US dollars: the cost the provider or gateway reported, else the
    /// tokens at catalog prices, else an estimate (see <see cref="CostBasis"/>). It includes what
    /// failed attempts were charged, such as an attempt the caller cancelled after it was sent.
    /// </summary>
    public decimal CostUsd { get; init; }

    /// <summary>Gets where <see cref="CostUsd"/> comes from.</summary>
    public CostBasis CostBasis { get; init; }

    /// <summary>Gets how long the call took, from its start to its last byte (the end of a stream).</summary>
    public TimeSpan Latency { get; init; }

    /// <summary>Gets how the call ended.</summary>
    public required UsageOutcome Outcome { get; init; }

    /// <summary>Gets the HTTP status of the final answer, or <see langword="null"/> when none arrived.</summary>
    public int? StatusCode { get; init; }

    /// <summary>Gets a short description of the failure, or <see langword="null"/> on success.</summary>
    public string? Error { get; init; }

    /// <summary>Gets every attempt of the call, in order.</summary>
    public IReadOnlyList<UsageAttempt> Attempts { get; init; } = [];

    /// <summary>
    /// Gets a value indicating whether the response cache answered the call: nothing was sent, <see cref="CostUsd"/> is
    /// zero, no budget was charged, and <see cref="SavedUsd"/> is what the answer had cost.
    /// </summary>
    public bool FromCache { get; init; }

    /// <summary>Gets what a call answered from the response cache saved: the cost of the call that bought the answer; zero otherwise.</summary>
    public decimal SavedUsd { get; init; }

    /// <summary>
    /// Gets the key of the response cache entry the call was answered from or stored in, or <see langword="null"/>: pass it
    /// to <see cref="IResponseCache.RemoveAsync"/> to remove that answer.
    /// </summary>
    public string? CacheKey { get; init; }

    private static readonly IReadOnlyDictionary<string, string> EmptyMetadata =
        new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
}
