using AgentHarness.Usage.Internal;

namespace AgentHarness;

/// <summary>
/// Answers a <see cref="UsageQuery"/>: the local usage ledger (<see cref="IUsageLedger"/>), a durable
/// ledger, or a gateway's usage API. Code written against this interface runs unchanged on any of them.
/// </summary>
public interface IUsageSource
{
    /// <summary>Builds the report of a query.</summary>
    /// <param name="query">The query; see <see cref="UsageQuery.Validate"/>.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentException">The query is not valid for this source.</exception>
    Task<UsageReport> GetUsageAsync(UsageQuery query, CancellationToken cancellationToken = default);
}

/// <summary>Requests, tokens and spend of a period, a group or a whole report.</summary>
public sealed record UsageTotals
{
    /// <summary>Gets totals of zero.</summary>
    public static UsageTotals Zero { get; } = new();

    /// <summary>Gets the number of requests (logical calls that were sent; calls refused before sending are not counted).</summary>
    public long Requests { get; init; }

    /// <summary>Gets how many of <see cref="Requests"/> were completions (chat completions, completions, Responses).</summary>
    public long CompletionsRequests { get; init; }

    /// <summary>Gets the input (prompt) tokens.</summary>
    public long InputTokens { get; init; }

    /// <summary>Gets the output (completion) tokens.</summary>
    public long OutputTokens { get; init; }

    /// <summary>Gets the total tokens: input plus output locally, as reported by a gateway.</summary>
    public long TotalTokens { get; init; }

    /// <summary>Gets the spend in US dollars. Locally, each call's cost is counted to the picodollar (12 decimals).</summary>
    public decimal SpendUsd { get; init; }

    /// <summary>Gets the input tokens the providers served from their prompt caches, a part of <see cref="InputTokens"/> charged at the cached rate.</summary>
    public long CachedInputTokens { get; init; }

    /// <summary>Gets the input tokens written to the providers' prompt caches, a part of <see cref="InputTokens"/> charged at the cache-write rate.</summary>
    public long CacheWriteInputTokens { get; init; }

    /// <summary>Gets how many of <see cref="Requests"/> the response cache answered (at no cost).</summary>
    public long CacheHits { get; init; }

    /// <summary>Gets what the calls the response cache answered saved, in US dollars: what their answers had cost.</summary>
    public decimal SavedUsd { get; init; }

    /// <summary>Adds two totals.</summary>
    /// <param name="left">The first totals.</param>
    /// <param name="right">The second totals.</param>
    /// <returns>The sum.</returns>
    public static UsageTotals operator +(UsageTotals left, UsageTotals right)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        return new UsageTotals
        {
            Requests = left.Requests + right.Requests,
            CompletionsRequests = left.CompletionsRequests + right.CompletionsRequests,
            InputTokens = left.InputTokens + right.InputTokens,
            OutputTokens = left.OutputTokens + right.OutputTokens,
            TotalTokens = left.TotalTokens + right.TotalTokens,
            SpendUsd = left.SpendUsd + right.SpendUsd,
            CacheHits = left.CacheHits + right.CacheHits,
            CachedInputTokens = left.CachedInputTokens + right.CachedInputTokens,
            CacheWriteInputTokens = left.CacheWriteInputTokens + right.CacheWriteInputTokens,
            SavedUsd = left.SavedUsd + right.SavedUsd,
        };
    }

    /// <summary>Adds two totals.</summary>
    /// <param name="other">The totals to add.</param>
    /// <returns>The sum.</returns>
    public UsageTotals Add(UsageTotals other) => this + other;
}

/// <summary>One row of a grouped report: the values of the query's group keys, and their totals.</summary>
public sealed class UsageGroup
{
    /// <summary>
    /// Gets the value of each of the query's group keys, keyed by the key as the query wrote it
    /// (<c>extra.task</c> → <c>classify</c>). A value is <see langword="null"/> when the calls did not
    /// have it (no <c>task</c> set, no answer and so no <c>model_used</c>).
    /// </summary>
    public required IReadOnlyDictionary<string, string?> Values { get; init; }

    /// <summary>Gets the group's totals.</summary>
    public required UsageTotals Totals { get; init; }
}

/// <summary>One period of a <see cref="UsageReport"/>: its UTC bounds, totals, and grouped rows.</summary>
public sealed class UsagePeriod
{
    /// <summary>Gets the period's start (inclusive), UTC.</summary>
    public required DateTimeOffset Start { get; init; }

    /// <summary>Gets the period's end (exclusive): the start of the next period.</summary>
    public required DateTimeOffset End { get; init; }

    /// <summary>Gets the period's name: <c>2026-05-01 09:00</c> by hour, <c>2026-05-01</c> by day, <c>2026-05</c> by month.</summary>
    public required string Label { get; init; }

    /// <summary>Gets the period's totals.</summary>
    public required UsageTotals Totals { get; init; }

    /// <summary>Gets the period's rows, one per distinct combination of group values, most spend first; empty when the query has no group keys.</summary>
    public IReadOnlyList<UsageGroup> Groups { get; init; } = [];
}

/// <summary>
/// The answer to a <see cref="UsageQuery"/>: every period of its range in order (periods without
/// calls included, with zero totals), each with its totals and grouped rows, and the same figures
/// over the whole range.
/// </summary>
/// <remarks>Render it with <see cref="ToTable"/>, <see cref="ToCsv"/> or <see cref="ToJson"/>.</remarks>
public sealed class UsageReport
{
    /// <summary>Initializes a report from its periods; <see cref="Totals"/> and <see cref="Groups"/> are summed from them.</summary>
    /// <param name="query">The query the report answers.</param>
    /// <param name="periods">The periods, in order.</param>
    public UsageReport(UsageQuery query, IReadOnlyList<UsagePeriod> periods)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(periods);
        Query = query;
        Periods = periods;
        var totals = UsageTotals.Zero;
        var groups = new UsageGroupAccumulator(query.GroupBy);
        foreach (var period in periods)
        {
            totals += period.Totals;
            foreach (var group in period.Groups)
            {
                groups.Add(group);
            }
        }

        Totals = totals;
        Groups = groups.ToGroups();
    }

    /// <summary>Gets the query the report answers.</summary>
    public UsageQuery Query { get; }

    /// <summary>Gets the periods of the query's range, in order.</summary>
    public IReadOnlyList<UsagePeriod> Periods { get; }

    /// <summary>Gets the totals of the whole range.</summary>
    public UsageTotals Totals { get; }

    /// <summary>Gets the grouped rows of the whole range (each group's totals over every period), most spend first.</summary>
    public IReadOnlyList<UsageGroup> Groups { get; }

    /// <summary>
    /// Builds a report from usage records, the way the in-memory ledger does; for an
    /// <see cref="IUsageLedger"/> of your own. Calls refused before sending
    /// (<see cref="UsageOutcome.Rejected"/>) are not counted.
    /// </summary>
    /// <param name="query">The query.</param>
    /// <param name="records">The records, in any order.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentException">The query is not valid.</exception>
    public static UsageReport FromRecords(UsageQuery query, IEnumerable<UsageRecord> records)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(records);
        var builder = new UsageReportBuilder(query);
        builder.AddRecords(records);
        return builder.Build();
    }

    /// <summary>
    /// Renders the report as a text table for a console: one row per period with calls (one per
    /// group when the query groups), then the total.
    /// </summary>
    /// <returns>The table, lines separated by <see cref="Environment.NewLine"/>.</returns>
    public string ToTable() => UsageReportWriter.ToTable(this);

    /// <summary>
    /// Renders the report as CSV (RFC 4180, invariant culture, a header row): one row per period, or
    /// per group of each period when the query groups.
    /// </summary>
    /// <returns>The CSV text.</returns>
    public string ToCsv() => UsageReportWriter.ToCsv(this);

    /// <summary>Renders the report as indented JSON with snake_case names; spend is an exact decimal number.</summary>
    /// <returns>The JSON text.</returns>
    public string ToJson() => UsageReportWriter.ToJson(this);
}
