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
    private readonly Dictionary<DateTimeOffset, PeriodAccumulator> _periods = [];

    public UsageReportBuilder(UsageQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        _query = query;
        _endExclusive = UsagePeriods.EndExclusive(query);
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
    public static string? ValueOf(UsageRecord record, string key)
    {
        string? value;
        switch (key)
        {
            case UsageGroupKeys.ModelRequested:
                return record.ModelRequested;
            case UsageGroupKeys.ModelUsed:
                return record.ModelUsed;
            case UsageGroupKeys.Provider:
                return record.Provider;
            case UsageGroupKeys.UserId:
                return record.Metadata.TryGetValue("user", out value) ? value : null;
            default:
                var name = key[UsageGroupKeys.ExtraPrefix.Length..];
                if (record.Metadata.TryGetValue(name, out value))
                {
                    return value;
                }

                // A record built outside the harness may key its metadata with another case.
                foreach (var (k, v) in record.Metadata)
                {
                    if (string.Equals(k, name, StringComparison.OrdinalIgnoreCase))
                    {
                        return v;
                    }
                }

                return null;
        }
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

            Add(record.Timestamp, values, new UsageTotals
            {
                Requests = 1,
                CompletionsRequests = IsCompletion(record.Operation) ? 1 : 0,
                InputTokens = record.InputTokens,
                OutputTokens = record.OutputTokens,
                TotalTokens = (long)record.InputTokens + record.OutputTokens,
                SpendUsd = RoundSpend(record.CostUsd),
            });
        }
    }

    /// <summary>Adds totals to the period an instant falls in, under the group of <paramref name="values"/> (one per group key, in order).</summary>
    public void Add(DateTimeOffset instant, IReadOnlyList<string?> values, UsageTotals totals)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(totals);
        var start = UsagePeriods.Floor(instant, _query.Resolution);
        if (!_periods.TryGetValue(start, out var period))
        {
            _periods[start] = period = new PeriodAccumulator(_query.GroupBy);
        }

        period.Totals += totals;
        if (_query.GroupBy.Count > 0)
        {
            period.Groups.Add(values, totals);
        }
    }

    /// <summary>Adds totals to a period without a group row: a source that reports a period's totals apart from its groups.</summary>
    public void AddPeriodTotals(DateTimeOffset instant, UsageTotals totals)
    {
        ArgumentNullException.ThrowIfNull(totals);
        var start = UsagePeriods.Floor(instant, _query.Resolution);
        if (!_periods.TryGetValue(start, out var period))
        {
            _periods[start] = period = new PeriodAccumulator(_query.GroupBy);
        }

        period.Totals += totals;
    }

    /// <summary>Adds a group row to a period without adding to its totals (the source reported them apart).</summary>
    public void AddGroupOnly(DateTimeOffset instant, IReadOnlyList<string?> values, UsageTotals totals)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(totals);
        var start = UsagePeriods.Floor(instant, _query.Resolution);
        if (!_periods.TryGetValue(start, out var period))
        {
            _periods[start] = period = new PeriodAccumulator(_query.GroupBy);
        }

        if (_query.GroupBy.Count > 0)
        {
            period.Groups.Add(values, totals);
        }
    }

    public UsageReport Build()
    {
        var resolution = _query.Resolution;
        var starts = new SortedSet<DateTimeOffset>(UsagePeriods.Enumerate(_query));
        starts.UnionWith(_periods.Keys);
        var periods = new List<UsagePeriod>(starts.Count);
        foreach (var start in starts)
        {
            _periods.TryGetValue(start, out var accumulated);
            periods.Add(new UsagePeriod
            {
                Start = start,
                End = UsagePeriods.Next(start, resolution),
                Label = UsagePeriods.Label(start, resolution),
                Totals = accumulated?.Totals ?? UsageTotals.Zero,
                Groups = accumulated?.Groups.ToGroups() ?? [],
            });
        }

        return new UsageReport(_query, periods);
    }

    private sealed class PeriodAccumulator(IReadOnlyList<string> keys)
    {
        public UsageTotals Totals { get; set; } = UsageTotals.Zero;

        public UsageGroupAccumulator Groups { get; } = new(keys);
    }
}

/// <summary>Sums totals per distinct combination of group values, and lists them most spend first.</summary>
internal sealed class UsageGroupAccumulator(IReadOnlyList<string> keys)
{
    private readonly Dictionary<string, Entry> _groups = new(StringComparer.Ordinal);

    public void Add(IReadOnlyList<string?> values, UsageTotals totals)
    {
        if (values.Count != keys.Count)
        {
            throw new ArgumentException($"A group row has {values.Count} values for {keys.Count} group keys.", nameof(values));
        }

        var id = Identity(values);
        if (_groups.TryGetValue(id, out var entry))
        {
            entry.Totals += totals;
        }
        else
        {
            _groups[id] = new Entry([.. values], totals);
        }
    }

    public void Add(UsageGroup group)
    {
        var values = new string?[keys.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = group.Values.TryGetValue(keys[i], out var value) ? value : null;
        }

        Add(values, group.Totals);
    }

    public IReadOnlyList<UsageGroup> ToGroups()
    {
        if (_groups.Count == 0)
        {
            return [];
        }

        var entries = _groups.Values.ToList();
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

    /// <summary>A collision-free key for a combination of values, null distinct from empty.</summary>
    private static string Identity(IReadOnlyList<string?> values)
    {
        var builder = new System.Text.StringBuilder();
        foreach (var value in values)
        {
            if (value is null)
            {
                builder.Append('-');
            }
            else
            {
                builder.Append(value.Length).Append(':').Append(value);
            }

            builder.Append('|');
        }

        return builder.ToString();
    }

    private sealed class Entry(string?[] values, UsageTotals totals)
    {
        public string?[] Values { get; } = values;

        public UsageTotals Totals { get; set; } = totals;
    }
}
