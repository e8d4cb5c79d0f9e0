using AgentHarness.Usage.Internal;
using System.Globalization;

namespace AgentHarness;

/// <summary>The length of the periods a <see cref="UsageReport"/> is cut into, by the UTC calendar.</summary>
public enum UsageResolution
{
    /// <summary>One period per UTC hour.</summary>
    Hour,

    /// <summary>One period per UTC day (the default).</summary>
    Day,

    /// <summary>One period per UTC calendar month.</summary>
    Month,
}

/// <summary>The dimensions a <see cref="UsageQuery"/> can group by, named as gateways' usage APIs name them.</summary>
public static class UsageGroupKeys
{
    /// <summary>The model id the application asked for (<see cref="UsageRecord.ModelRequested"/>), for example <c>policy/claude-4</c>.</summary>
    public const string ModelRequested = "model_requested";

    /// <summary>The model that answered (<see cref="UsageRecord.ModelUsed"/>).</summary>
    public const string ModelUsed = "model_used";

    /// <summary>The provider that answered (<see cref="UsageRecord.Provider"/>; a gateway's <c>provider_used</c>).</summary>
    public const string Provider = "provider";

    /// <summary>The run's <c>user</c> metadata (the <c>X-…-User</c> header a gateway receives).</summary>
    public const string UserId = "user_id";

    /// <summary>The prefix of a run metadata key: <c>extra.agent</c>, <c>extra.task</c>, <c>extra.branch</c>, or any extra key.</summary>
    public const string ExtraPrefix = "extra.";

    /// <summary>Returns the group key of a run metadata key, for example <c>extra.branch</c> for <c>branch</c>.</summary>
    /// <param name="name">The metadata key: <c>agent</c>, <c>task</c>, <c>branch</c>, <c>environment</c>, <c>customer</c>, <c>team</c>, <c>repo</c>, <c>user</c> or an extra key.</param>
    /// <returns>The group key.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty.</exception>
    public static string Extra(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return ExtraPrefix + name;
    }
}

/// <summary>
/// A question about spend and tokens: which period (<see cref="Start"/> to <see cref="End"/>), cut
/// into which periods (<see cref="Resolution"/>), broken down by which dimensions
/// (<see cref="GroupBy"/>). The local usage ledger and a gateway's usage API answer the same query
/// with the same <see cref="UsageReport"/>.
/// </summary>
/// <remarks>
/// <para>
/// The range includes calls from <see cref="Start"/> up to the end of the second <see cref="End"/>
/// falls in, so <c>2026-05-07T23:59:59Z</c> takes in the whole of 7 May, as gateways read it.
/// </para>
/// <para>
/// Group keys are <see cref="UsageGroupKeys.ModelRequested"/>, <see cref="UsageGroupKeys.ModelUsed"/>,
/// <see cref="UsageGroupKeys.Provider"/>, <see cref="UsageGroupKeys.UserId"/> and
/// <c>extra.&lt;name&gt;</c> for any run metadata (<c>extra.agent</c>, <c>extra.task</c>,
/// <c>extra.branch</c>, <c>extra.customer</c>, an extra key set with <see cref="AgentRun.SetExtra"/>).
/// </para>
/// </remarks>
public sealed class UsageQuery
{
    /// <summary>The most periods one query may produce, so a typo in a range cannot build millions of empty hours.</summary>
    public const int MaxPeriods = 100_000;

    /// <summary>The most group keys one query may have, so every source (a SQL join per metadata key) can answer it.</summary>
    public const int MaxGroupKeys = 16;

    private static readonly DateTimeOffset LatestEnd = new(9999, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Gets the start of the range (inclusive).</summary>
    public required DateTimeOffset Start { get; init; }

    /// <summary>Gets the end of the range: calls up to the end of this second are included.</summary>
    public required DateTimeOffset End { get; init; }

    /// <summary>Gets the length of each period.</summary>
    /// <value>The default value is <see cref="UsageResolution.Day"/>.</value>
    public UsageResolution Resolution { get; init; } = UsageResolution.Day;

    /// <summary>Gets the dimensions each period is broken down by, in order; empty for totals only.</summary>
    /// <value>The default value is empty.</value>
    public IReadOnlyList<string> GroupBy { get; init; } = [];

    /// <summary>
    /// Checks the query: a known resolution, an end not before the start and before the year 9999,
    /// at most <see cref="MaxGroupKeys"/> known and distinct group keys, and at most
    /// <see cref="MaxPeriods"/> periods.
    /// </summary>
    /// <exception cref="ArgumentException">The query is not valid; the message names the property and the bad value.</exception>
    public void Validate()
    {
        if (!Enum.IsDefined(Resolution))
        {
            throw new ArgumentException($"UsageQuery.Resolution '{(int)Resolution}' is not one of Hour, Day, Month.", nameof(Resolution));
        }

        if (End >= LatestEnd)
        {
            throw new ArgumentException($"UsageQuery.End ({Format(End)}) must be before {Format(LatestEnd)}.", nameof(End));
        }

        if (End < Start)
        {
            throw new ArgumentException($"UsageQuery.End ({Format(End)}) is before UsageQuery.Start ({Format(Start)}).", nameof(End));
        }

        if (GroupBy is null)
        {
            throw new ArgumentException("UsageQuery.GroupBy must not be null; use an empty list for totals only.", nameof(GroupBy));
        }

        if (GroupBy.Count > MaxGroupKeys)
        {
            throw new ArgumentException(
                $"UsageQuery.GroupBy has {GroupBy.Count.ToString(CultureInfo.InvariantCulture)} keys; at most {MaxGroupKeys.ToString(CultureInfo.InvariantCulture)} are allowed.",
                nameof(GroupBy));
        }

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var key in GroupBy)
        {
            if (!IsKnownKey(key))
            {
                throw new ArgumentException(
                    $"UsageQuery.GroupBy has '{key}', which is not a group key: use {UsageGroupKeys.ModelRequested}, {UsageGroupKeys.ModelUsed}, {UsageGroupKeys.Provider}, {UsageGroupKeys.UserId} or extra.<name>.",
                    nameof(GroupBy));
            }

            if (!seen.Add(key))
            {
                throw new ArgumentException($"UsageQuery.GroupBy has '{key}' twice.", nameof(GroupBy));
            }
        }

        var periods = UsagePeriods.Count(this);
        if (periods > MaxPeriods)
        {
            throw new ArgumentException(
                $"UsageQuery from {Format(Start)} to {Format(End)} at {Resolution} resolution has {periods.ToString(CultureInfo.InvariantCulture)} periods; at most {MaxPeriods.ToString(CultureInfo.InvariantCulture)} are allowed.",
                nameof(End));
        }
    }

    /// <summary>Returns a short description, for example <c>2026-05-01T00:00:00Z..2026-05-07T23:59:59Z by day, group by extra.agent</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString() =>
        $"{Format(Start)}..{Format(End)} by {Resolution.ToString().ToLowerInvariant()}"
        + (GroupBy is { Count: > 0 } ? ", group by " + string.Join(", ", GroupBy) : string.Empty);

    internal static bool IsKnownKey(string? key) =>
        key is UsageGroupKeys.ModelRequested or UsageGroupKeys.ModelUsed or UsageGroupKeys.Provider or UsageGroupKeys.UserId
        || (key is not null
            && key.StartsWith(UsageGroupKeys.ExtraPrefix, StringComparison.Ordinal)
            && key.Length > UsageGroupKeys.ExtraPrefix.Length
            && !string.IsNullOrWhiteSpace(key[UsageGroupKeys.ExtraPrefix.Length..]));

    internal static string Format(DateTimeOffset value) =>
        value.UtcDateTime.ToString(value.UtcDateTime.Millisecond == 0 && value.UtcTicks % TimeSpan.TicksPerMillisecond == 0 ? "yyyy-MM-dd'T'HH:mm:ss'Z'" : "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);
}
