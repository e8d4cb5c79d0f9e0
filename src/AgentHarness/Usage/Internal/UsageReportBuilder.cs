namespace AgentHarness.Usage.Internal;

/// <summary>
/// Sums rows into a <see cref="UsageReport"/>: every period of the query's range (empty ones
/// included), each period's groups, most spend first. Shared by every <see cref="IUsageSource"/> so
/// their reports are built, ordered and rounded the same way.
/// </summary>
internal sealed class UsageReportBuilder
{
    /// <summary>The decimals a call's cost is counted to: a picodollar, which an integer column can sum exactly.</summary>
    public const int SpendDecimals = 12;

    private readonly UsageQuery _query;
    private readonly DateTimeOffset _endExclusive;
    private readonly DateTimeOffset _firstPeriod;
    private readonly DateTimeOffset _lastPeriod;
    private readonly Dictionary<DateTimeOffset, PeriodAccumulator> _periods = [];

    public UsageReportBuilder(UsageQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        _query = query;
        _endExclusive = UsagePeriods.EndExclusive(query);
        _firstPeriod = UsagePeriods.Floor(query.Start, query.Resolution);
        _lastPeriod = UsagePeriods.Last(query);
    }

    public UsageQuery Query => _query;

    /// <summary>Gets the first instant after the query's range.</summary>
    public DateTimeOffset EndExclusive => _endExclusive;

    /// <summary>Whether a call made at this instant is in the query's range.</summary>
    public bool Includes(DateTimeOffset timestamp) => timestamp >= _query.Start && timestamp < _endExclusive;

    /// <summary>Whether an operation counts as a completion request.</summary>
    public static bool IsCompletion(string? operation) =>
        operation is "chat/completions" or "completions" or "responses";

    /// <summary>Rounds a call's cost to the decimals reports count it to.</summary>
    public static decimal RoundSpend(decimal costUsd) => decimal.Round(costUsd, SpendDecimals, MidpointRounding.ToEven);

    /// <summary>Returns a record's value for a group key, or <see langword="null"/> when it has none.</summary>
    public static string? ValueOf(UsageRecord record, string key) => key switch
    {
        UsageGroupKeys.ModelRequested => record.ModelRequested,
        UsageGroupKeys.ModelUsed => record.ModelUsed,
        UsageGroupKeys.Provider => record.Provider,
        UsageGroupKeys.UserId => MetadataValue(record.Metadata, "user"),
        _ => MetadataValue(record.Metadata, key[UsageGroupKeys.ExtraPrefix.Length..]),
    };

    /// <summary>
    /// Finds a metadata value the way every ledger must: the dictionary's own match first, else the
    /// first key equal without regard to case (a record built outside the harness may use an ordinal
    /// dictionary, or another case); no metadata means no value.
    /// </summary>
    public static string? MetadataValue(IReadOnlyDictionary<string, string>? metadata, string name)
    {
        if (metadata is null)
        {
            return null;
        }

        if (metadata.TryGetValue(name, out var value))
        {
            return value;
        }

        foreach (var (k, v) in metadata)
        {
            if (string.Equals(k, name, StringComparison.OrdinalIgnoreCase))
            {
                return v;
            }
        }

        return null;
    }

    /// <summary>Adds the records in the query's range; calls refused before sending are not counted.</summary>
    public void AddRecords(IEnumerable<UsageRecord> records)
    {
        var keys = _query.GroupBy;
        var values = new string?[keys.Count];
        foreach (var record in records)
        {
            if (record is null || record.Outcome == UsageOutcome.Rejected || !Includes(record.Timestamp))
            {
                continue;
            }

            for (var i = 0; i < values.Length; i++)
            {
                values[i] = ValueOf(record, keys[i]);
            }

            var period = PeriodOf(record.Timestamp)!;
            var completions = IsCompletion(record.Operation) ? 1 : 0;
            var spend = RoundSpend(record.CostUsd);

            // Saved dollars are counted to the picodollar as spend is, so a ledger that sums integers in SQL reports the same figure.
            var saved = RoundSpend(record.SavedUsd);
            period.Totals.AddCall(completions, record.InputTokens, record.OutputTokens, spend, record.FromCache, saved, record.CachedInputTokens, record.CacheWriteInputTokens);
            if (values.Length > 0)
            {
                period.Groups.Find(values).AddCall(completions, record.InputTokens, record.OutputTokens, spend, record.FromCache, saved, record.CachedInputTokens, record.CacheWriteInputTokens);
            }
        }
    }

    /// <summary>Adds totals to the period an instant falls in, under the group of <paramref name="values"/> (one per group key, in order); an instant outside the query's periods is ignored.</summary>
    public void Add(DateTimeOffset instant, IReadOnlyList<string?> values, UsageTotals totals)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(totals);
        if (PeriodOf(instant) is not { } period)
        {
            return;
        }

        period.Totals.Add(totals);
        if (_query.GroupBy.Count > 0)
        {
            period.Groups.Add(values, totals);
        }
    }

    /// <summary>Adds totals to a period without a group row: a source that reports a period's totals apart from its groups.</summary>
    public void AddPeriodTotals(DateTimeOffset instant, UsageTotals totals)
    {
        ArgumentNullException.ThrowIfNull(totals);
        PeriodOf(instant)?.Totals.Add(totals);
    }

    /// <summary>Adds a group row to a period without adding to its totals (the source reported them apart).</summary>
    public void AddGroupOnly(DateTimeOffset instant, IReadOnlyList<string?> values, UsageTotals totals)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(totals);
        if (_query.GroupBy.Count > 0 && PeriodOf(instant) is { } period)
        {
            period.Groups.Add(values, totals);
        }
    }

    public UsageReport Build()
    {
        var resolution = _query.Resolution;
        var periods = new List<UsagePeriod>();
        foreach (var start in UsagePeriods.Enumerate(_query))
        {
            _periods.TryGetValue(start, out var accumulated);
            periods.Add(new UsagePeriod
            {
                Start = start,
                End = UsagePeriods.Next(start, resolution),
                Label = UsagePeriods.Label(start, resolution),
                Totals = accumulated?.Totals.ToTotals() ?? UsageTotals.Zero,
                Groups = accumulated?.Groups.ToGroups() ?? [],
            });
        }

        return new UsageReport(_query, periods);
    }

    /// <summary>Returns the accumulator of an instant's period, or <see langword="null"/> when the period is outside the query's range (a source that answers more than was asked).</summary>
    private PeriodAccumulator? PeriodOf(DateTimeOffset instant)
    {
        var start = UsagePeriods.Floor(instant, _query.Resolution);
        if (start < _firstPeriod || start > _lastPeriod)
        {
            return null;
        }

        if (!_periods.TryGetValue(start, out var period))
        {
            _periods[start] = period = new PeriodAccumulator(_query.GroupBy);
        }

        return period;
    }

    private sealed class PeriodAccumulator(IReadOnlyList<string> keys)
    {
        public TotalsAccumulator Totals { get; } = new();

        public UsageGroupAccumulator Groups { get; } = new(keys);
    }
}

/// <summary>Running totals, summed in place so counting a call allocates nothing.</summary>
internal sealed class TotalsAccumulator
{
    private long _requests;
    private long _completions;
    private long _input;
    private long _output;
    private long _total;
    private decimal _spend;
    private long _hits;
    private decimal _saved;
    private long _cachedInput;
    private long _cacheWrite;

    public void AddCall(long completions, long inputTokens, long outputTokens, decimal spendUsd, bool fromCache = false, decimal savedUsd = 0m, long cachedInputTokens = 0, long cacheWriteInputTokens = 0)
    {
        _cachedInput += cachedInputTokens;
        _cacheWrite += cacheWriteInputTokens;
        _hits += fromCache ? 1 : 0;
        _saved += savedUsd;
        _requests++;
        _completions += completions;
        _input += inputTokens;
        _output += outputTokens;
        _total += inputTokens + outputTokens;
        _spend += spendUsd;
    }

    public void Add(UsageTotals totals)
    {
        _requests += totals.Requests;
        _completions += totals.CompletionsRequests;
        _input += totals.InputTokens;
        _output += totals.OutputTokens;
        _total += totals.TotalTokens;
        _spend += totals.SpendUsd;
        _hits += totals.CacheHits;
        _saved += totals.SavedUsd;
        _cachedInput += totals.CachedInputTokens;
        _cacheWrite += totals.CacheWriteInputTokens;
    }

    public UsageTotals ToTotals() => new()
    {
        Requests = _requests,
        CompletionsRequests = _completions,
        InputTokens = _input,
        OutputTokens = _output,
        TotalTokens = _total,
        SpendUsd = _spend,
        CacheHits = _hits,
        SavedUsd = _saved,
        CachedInputTokens = _cachedInput,
        CacheWriteInputTokens = _cacheWrite,
    };
}

/// <summary>Sums totals per distinct combination of group values, and lists them most spend first.</summary>
internal sealed class UsageGroupAccumulator(IReadOnlyList<string> keys)
{
    private readonly Dictionary<string?[], TotalsAccumulator> _groups = new(ValuesComparer.Instance);

    /// <summary>Returns the totals of a combination of values, adding it when new; <paramref name="values"/> may be reused by the caller afterwards.</summary>
    public TotalsAccumulator Find(string?[] values)
    {
        if (!_groups.TryGetValue(values, out var totals))
        {
            _groups[(string?[])values.Clone()] = totals = new TotalsAccumulator();
        }

        return totals;
    }

    public void Add(IReadOnlyList<string?> values, UsageTotals totals)
    {
        if (values.Count != keys.Count)
        {
            throw new ArgumentException($"A group row has {values.Count} values for {keys.Count} group keys.", nameof(values));
        }

        Find(values as string?[] ?? [.. values]).Add(totals);
    }

    public void Add(UsageGroup group)
    {
        var values = new string?[keys.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = group.Values.TryGetValue(keys[i], out var value) ? value : null;
        }

        Find(values).Add(group.Totals);
    }

    public IReadOnlyList<UsageGroup> ToGroups()
    {
        if (_groups.Count == 0)
        {
            return [];
        }

        var entries = _groups.Select(static g => (Values: g.Key, Totals: g.Value.ToTotals())).ToList();
        entries.Sort(static (a, b) =>
        {
            var bySpend = b.Totals.SpendUsd.CompareTo(a.Totals.SpendUsd);
            if (bySpend != 0)
            {
                return bySpend;
            }

            var byRequests = b.Totals.Requests.CompareTo(a.Totals.Requests);
            if (byRequests != 0)
            {
                return byRequests;
            }

            for (var i = 0; i < a.Values.Length; i++)
            {
                var byValue = string.CompareOrdinal(a.Values[i], b.Values[i]);
                if (byValue != 0)
                {
                    return byValue;
                }
            }

            return 0;
        });

        var groups = new UsageGroup[entries.Count];
        for (var g = 0; g < groups.Length; g++)
        {
            var values = new Dictionary<string, string?>(keys.Count, StringComparer.OrdinalIgnoreCase);
            for (var i = 0; i < keys.Count; i++)
            {
                values[keys[i]] = entries[g].Values[i];
            }

            groups[g] = new UsageGroup { Values = values, Totals = entries[g].Totals };
        }

        return groups;
    }

    /// <summary>Compares combinations of values ordinally, element by element; null is distinct from empty.</summary>
    private sealed class ValuesComparer : IEqualityComparer<string?[]>
    {
        public static readonly ValuesComparer Instance = new();

        public bool Equals(string?[]? x, string?[]? y)
        {
            if (ReferenceEquals(x, y))
            {
                return true;
            }

            if (x is null || y is null || x.Length != y.Length)
            {
                return false;
            }

            for (var i = 0; i < x.Length; i++)
            {
                if (!string.Equals(x[i], y[i], StringComparison.Ordinal))
                {
                    return false;
                }
            }

            return true;
        }

        public int GetHashCode(string?[] obj)
        {
            var hash = default(HashCode);
            foreach (var value in obj)
            {
                // Null hashes apart from the empty string, so the two stay distinct groups.
                hash.Add(value is null ? -1 : StringComparer.Ordinal.GetHashCode(value));
            }

            return hash.ToHashCode();
        }
    }
}
