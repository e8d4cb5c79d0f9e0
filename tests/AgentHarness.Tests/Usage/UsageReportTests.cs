using System.Globalization;
using System.Text.Json;
using AgentHarness.Usage.Internal;

namespace AgentHarness.Tests.Usage;

public sealed class UsageReportTests
{
    private static readonly List<UsageRecord> Samples = UsageSamples.Create();

    public static TheoryData<UsageResolution, int> EveryResolutionAndGroupBy()
    {
        var data = new TheoryData<UsageResolution, int>();
        foreach (var resolution in new[] { UsageResolution.Hour, UsageResolution.Day, UsageResolution.Month })
        {
            for (var g = 0; g < UsageSamples.GroupBys.Length; g++)
            {
                data.Add(resolution, g);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EveryResolutionAndGroupBy))]
    public void FromRecords_EveryResolutionAndGroupBy_MatchesTotalsComputedIndependently(UsageResolution resolution, int groupBy)
    {
        // A range that starts mid-day and ends mid-month, so partial periods and out-of-range calls occur.
        var query = new UsageQuery
        {
            Start = UsageSamples.From.AddDays(3).AddHours(13.5),
            End = UsageSamples.From.AddDays(31).AddHours(7).AddSeconds(-1),
            Resolution = resolution,
            GroupBy = UsageSamples.GroupBys[groupBy],
        };

        var report = UsageReport.FromRecords(query, Samples);

        var inRange = Samples
            .Where(r => r.Outcome != UsageOutcome.Rejected && r.Timestamp >= query.Start && r.Timestamp < query.End.AddSeconds(1))
            .ToList();
        Assert.NotEmpty(inRange);

        // Periods: contiguous, every one of the range, each exactly one resolution long.
        var expectedStarts = new List<DateTime>();
        for (var start = PeriodOf(query.Start.UtcDateTime, resolution); start <= query.End.UtcDateTime; start = Advance(start, resolution))
        {
            expectedStarts.Add(start);
        }

        Assert.Equal(expectedStarts, report.Periods.Select(p => p.Start.UtcDateTime));
        Assert.All(report.Periods, p => Assert.Equal(Advance(p.Start.UtcDateTime, resolution), p.End.UtcDateTime));

        foreach (var period in report.Periods)
        {
            var calls = inRange.Where(r => PeriodOf(r.Timestamp.UtcDateTime, resolution) == period.Start.UtcDateTime).ToList();
            AssertTotals(calls, period.Totals);

            if (query.GroupBy.Count == 0)
            {
                Assert.Empty(period.Groups);
                continue;
            }

            var expectedGroups = calls
                .GroupBy(r => string.Join("\u0001", query.GroupBy.Select(k => Value(r, k) ?? "\u0000")))
                .ToDictionary(g => g.Key, g => g.ToList());
            Assert.Equal(expectedGroups.Count, period.Groups.Count);
            foreach (var group in period.Groups)
            {
                var id = string.Join("\u0001", query.GroupBy.Select(k => group.Values[k] ?? "\u0000"));
                Assert.True(expectedGroups.TryGetValue(id, out var members), $"unexpected group {id} in {period.Label}");
                AssertTotals(members!, group.Totals);
            }

            // Most spend first.
            Assert.Equal(period.Groups.OrderByDescending(g => g.Totals.SpendUsd).Select(g => g.Totals.SpendUsd), period.Groups.Select(g => g.Totals.SpendUsd));
        }

        AssertTotals(inRange, report.Totals);
        if (query.GroupBy.Count > 0)
        {
            var overall = inRange.GroupBy(r => string.Join("\u0001", query.GroupBy.Select(k => Value(r, k) ?? "\u0000"))).ToList();
            Assert.Equal(overall.Count, report.Groups.Count);
            foreach (var group in report.Groups)
            {
                var id = string.Join("\u0001", query.GroupBy.Select(k => group.Values[k] ?? "\u0000"));
                AssertTotals(overall.Single(g => g.Key == id).ToList(), group.Totals);
            }
        }
    }

    [Fact]
    public void FromRecords_EndAtTheLastSecond_IncludesTheWholeSecondAndNothingAfter()
    {
        var day = new DateTimeOffset(2026, 5, 7, 0, 0, 0, TimeSpan.Zero);
        UsageRecord[] records =
        [
            Record(day.AddTicks(-1), 0.1m),
            Record(day, 1m),
            Record(day.AddDays(1).AddTicks(-1), 2m),
            Record(day.AddDays(1), 4m),
        ];

        var report = UsageReport.FromRecords(new UsageQuery { Start = day, End = day.AddDays(1).AddSeconds(-1) }, records);

        var period = Assert.Single(report.Periods);
        Assert.Equal("2026-05-07", period.Label);
        Assert.Equal(2, period.Totals.Requests);
        Assert.Equal(3m, period.Totals.SpendUsd);
    }

    [Fact]
    public void FromRecords_RejectedCalls_AreNotCounted()
    {
        var at = new DateTimeOffset(2026, 5, 7, 10, 0, 0, TimeSpan.Zero);
        UsageRecord[] records = [Record(at, 1m), Record(at, 0m) with { Outcome = UsageOutcome.Rejected }];

        var report = UsageReport.FromRecords(new UsageQuery { Start = at, End = at }, records);

        Assert.Equal(1, report.Totals.Requests);
    }

    [Fact]
    public void FromRecords_CostWithMoreThanTwelveDecimals_CountsToThePicodollar()
    {
        var at = new DateTimeOffset(2026, 5, 7, 10, 0, 0, TimeSpan.Zero);
        UsageRecord[] records = [Record(at, 0.0000012345678915m), Record(at, 0.0000000000004m)];

        var report = UsageReport.FromRecords(new UsageQuery { Start = at, End = at }, records);

        Assert.Equal(0.000001234568m, report.Totals.SpendUsd);
    }

    [Fact]
    public void FromRecords_SavedUsdWithMoreThanTwelveDecimals_CountsToThePicodollarLikeSpend()
    {
        var at = new DateTimeOffset(2026, 5, 7, 10, 0, 0, TimeSpan.Zero);
        UsageRecord[] records =
        [
            Record(at, 0m) with { FromCache = true, SavedUsd = 0.0000012345678915m },
            Record(at, 0m) with { FromCache = true, SavedUsd = 0.0000000000004m },
        ];

        var report = UsageReport.FromRecords(new UsageQuery { Start = at, End = at }, records);

        Assert.Equal("0.000001234568", report.Totals.SavedUsd.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(2, report.Totals.CacheHits);
    }

    [Fact]
    public void FromRecords_MonthsAcrossAYearEnd_AreCalendarMonths()
    {
        UsageRecord[] records =
        [
            Record(new DateTimeOffset(2026, 12, 31, 23, 59, 59, TimeSpan.Zero), 1m),
            // 00:30 on 1 January at UTC+1 is still 31 December in UTC.
            Record(new DateTimeOffset(2027, 1, 1, 0, 30, 0, TimeSpan.FromHours(1)), 2m),
            Record(new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero), 4m),
            Record(new DateTimeOffset(2027, 2, 28, 12, 0, 0, TimeSpan.Zero), 8m),
        ];

        var report = UsageReport.FromRecords(
            new UsageQuery { Start = new DateTimeOffset(2026, 12, 15, 0, 0, 0, TimeSpan.Zero), End = new DateTimeOffset(2027, 2, 28, 23, 59, 59, TimeSpan.Zero), Resolution = UsageResolution.Month },
            records);

        Assert.Equal(["2026-12", "2027-01", "2027-02"], report.Periods.Select(p => p.Label));
        Assert.Equal([3m, 4m, 8m], report.Periods.Select(p => p.Totals.SpendUsd));
        Assert.Equal(new DateTimeOffset(2027, 2, 1, 0, 0, 0, TimeSpan.Zero), report.Periods[1].End);
    }

    [Fact]
    public void FromRecords_PeriodsWithoutCalls_AreListedWithZeroTotals()
    {
        var start = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);
        var report = UsageReport.FromRecords(
            new UsageQuery { Start = start, End = start.AddHours(5).AddSeconds(-1), Resolution = UsageResolution.Hour },
            [Record(start.AddHours(2).AddMinutes(5), 1m)]);

        Assert.Equal(["2026-05-01 00:00", "2026-05-01 01:00", "2026-05-01 02:00", "2026-05-01 03:00", "2026-05-01 04:00"], report.Periods.Select(p => p.Label));
        Assert.Equal([0L, 0L, 1L, 0L, 0L], report.Periods.Select(p => p.Totals.Requests));
        Assert.Same(UsageTotals.Zero, report.Periods[0].Totals);
    }

    [Fact]
    public void FromRecords_MissingMetadata_GroupsUnderNull()
    {
        var at = new DateTimeOffset(2026, 5, 7, 10, 0, 0, TimeSpan.Zero);
        UsageRecord[] records =
        [
            Record(at, 1m, ("task", "classify")),
            Record(at, 2m),
            Record(at, 4m, ("TASK", "classify")),
        ];

        var report = UsageReport.FromRecords(new UsageQuery { Start = at, End = at, GroupBy = ["extra.task"] }, records);

        Assert.Collection(
            report.Groups,
            g => { Assert.Equal("classify", g.Values["extra.task"]); Assert.Equal(5m, g.Totals.SpendUsd); },
            g => { Assert.Null(g.Values["extra.task"]); Assert.Equal(2m, g.Totals.SpendUsd); });
    }

    [Fact]
    public void FromRecords_UserId_ReadsTheUserMetadata()
    {
        var at = new DateTimeOffset(2026, 5, 7, 10, 0, 0, TimeSpan.Zero);
        var report = UsageReport.FromRecords(
            new UsageQuery { Start = at, End = at, GroupBy = [UsageGroupKeys.UserId] },
            [Record(at, 1m, ("user", "ana"))]);

        Assert.Equal("ana", Assert.Single(report.Groups).Values[UsageGroupKeys.UserId]);
    }

    [Fact]
    public void Validate_EndBeforeStart_NamesBothValues()
    {
        var query = new UsageQuery { Start = new DateTimeOffset(2026, 5, 7, 0, 0, 0, TimeSpan.Zero), End = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero) };

        var error = Assert.Throws<ArgumentException>(query.Validate);

        Assert.Contains("UsageQuery.End (2026-05-01T00:00:00Z) is before UsageQuery.Start (2026-05-07T00:00:00Z)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_UnknownResolution_NamesTheValue()
    {
        var error = Assert.Throws<ArgumentException>(new UsageQuery { Start = UsageSamples.From, End = UsageSamples.From, Resolution = (UsageResolution)9 }.Validate);

        Assert.Contains("UsageQuery.Resolution '9'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("agent")]
    [InlineData("extra.")]
    [InlineData("extra. ")]
    [InlineData("Model_Requested")]
    [InlineData("")]
    public void Validate_UnknownGroupKey_NamesTheKey(string key)
    {
        var error = Assert.Throws<ArgumentException>(new UsageQuery { Start = UsageSamples.From, End = UsageSamples.From, GroupBy = [key] }.Validate);

        Assert.Contains($"'{key}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("extra.<name>", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_DuplicateGroupKey_Refuses()
    {
        var error = Assert.Throws<ArgumentException>(new UsageQuery { Start = UsageSamples.From, End = UsageSamples.From, GroupBy = ["extra.task", "extra.TASK"] }.Validate);

        Assert.Contains("twice", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_TooManyPeriods_Refuses()
    {
        var query = new UsageQuery { Start = UsageSamples.From, End = UsageSamples.From.AddYears(12), Resolution = UsageResolution.Hour };

        var error = Assert.Throws<ArgumentException>(query.Validate);

        Assert.Contains("at most 100000", error.Message, StringComparison.Ordinal);
        new UsageQuery { Start = UsageSamples.From, End = UsageSamples.From.AddYears(12), Resolution = UsageResolution.Month }.Validate();
    }

    [Fact]
    public void Validate_EndAtTheLastRepresentableInstant_NamesTheProperty()
    {
        var error = Assert.Throws<ArgumentException>(new UsageQuery { Start = UsageSamples.From, End = DateTimeOffset.MaxValue, Resolution = UsageResolution.Month }.Validate);

        Assert.Contains("UsageQuery.End (9999-12-31T23:59:59.9999999Z) must be before 9999-01-01T00:00:00Z", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_MoreGroupKeysThanSourcesCanJoin_Refuses()
    {
        var keys = Enumerable.Range(0, UsageQuery.MaxGroupKeys + 1).Select(i => "extra.k" + i).ToArray();

        var error = Assert.Throws<ArgumentException>(new UsageQuery { Start = UsageSamples.From, End = UsageSamples.From, GroupBy = keys }.Validate);

        Assert.Contains("has 17 keys; at most 16", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromRecords_MetadataInAnOrdinalDictionary_FindsKeysOfAnyCaseExactMatchFirst()
    {
        var at = new DateTimeOffset(2026, 5, 7, 10, 0, 0, TimeSpan.Zero);
        UsageRecord[] records =
        [
            Record(at, 1m) with { Metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["User"] = "bob", ["Task"] = "a", ["task"] = "b" } },
            Record(at, 2m) with { Metadata = null! },
        ];

        var report = UsageReport.FromRecords(new UsageQuery { Start = at, End = at, GroupBy = [UsageGroupKeys.UserId, "extra.task"] }, records);

        Assert.Collection(
            report.Groups,
            g => { Assert.Null(g.Values[UsageGroupKeys.UserId]); Assert.Null(g.Values["extra.task"]); },
            g => { Assert.Equal("bob", g.Values[UsageGroupKeys.UserId]); Assert.Equal("b", g.Values["extra.task"]); });
    }

    [Fact]
    public void ToTable_GroupedReport_ShowsPeriodsGroupsAndTotal()
    {
        var at = new DateTimeOffset(2026, 5, 7, 10, 0, 0, TimeSpan.Zero);
        var report = UsageReport.FromRecords(
            new UsageQuery { Start = at, End = at.AddDays(1), GroupBy = ["extra.task"] },
            [Record(at, 0.0012m, ("task", "review")), Record(at, 0.000006m, ("task", "classify")), Record(at.AddDays(1), 0.00000000004m)]);

        var lines = report.ToTable().Split(Environment.NewLine);

        Assert.Equal("Period      extra.task  Requests  Input tokens  Output tokens  Total tokens   Spend (USD)", lines[0]);
        Assert.Equal("2026-05-07  review             1           100             20           120       $0.0012", lines[2]);
        Assert.Equal("2026-05-07  classify           1           100             20           120     $0.000006", lines[3]);
        Assert.Equal("2026-05-08  (none)             1           100             20           120  $<0.00000001", lines[4]);
        Assert.Equal("Total                          3           300             60           360     $0.001206", lines[^1]);
    }

    [Fact]
    public void ToTable_NoCalls_SaysSo()
    {
        var report = UsageReport.FromRecords(new UsageQuery { Start = UsageSamples.From, End = UsageSamples.From }, []);

        Assert.Contains("(no usage in 2026-04-28T00:00:00Z..2026-04-28T00:00:00Z by day)", report.ToTable(), StringComparison.Ordinal);
    }

    [Fact]
    public void ToCsv_ValuesWithCommasAndQuotes_AreQuotedAndNullsEmpty()
    {
        var at = new DateTimeOffset(2026, 5, 7, 10, 0, 0, TimeSpan.Zero);
        var report = UsageReport.FromRecords(
            new UsageQuery { Start = at, End = at, GroupBy = ["extra.branch", "extra.task"] },
            [Record(at, 0.000000000001m, ("branch", "fix/a, \"b\""))]);

        var lines = report.ToCsv().Split("\r\n");

        Assert.Equal("period,period_start,period_end,extra.branch,extra.task,requests,completions_requests,input_tokens,output_tokens,total_tokens,spend_usd", lines[0]);
        Assert.Equal("2026-05-07,2026-05-07T00:00:00Z,2026-05-08T00:00:00Z,\"fix/a, \"\"b\"\"\",,1,1,100,20,120,0.000000000001", lines[1]);
        Assert.Equal(string.Empty, lines[2]);
    }

    [Fact]
    public void ToJson_SampleReport_ParsesBackToTheSameFigures()
    {
        var query = new UsageQuery { Start = UsageSamples.From, End = UsageSamples.From.AddDays(40), GroupBy = ["extra.agent", "extra.branch"] };
        var report = UsageReport.FromRecords(query, Samples);

        using var json = JsonDocument.Parse(report.ToJson());

        var root = json.RootElement;
        Assert.Equal("day", root.GetProperty("resolution").GetString());
        Assert.Equal(["extra.agent", "extra.branch"], root.GetProperty("group_by").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(report.Totals.SpendUsd, root.GetProperty("totals").GetProperty("spend").GetDecimal());
        Assert.Equal(report.Totals.Requests, root.GetProperty("totals").GetProperty("total_requests").GetInt64());
        var periods = root.GetProperty("periods").EnumerateArray().ToList();
        Assert.Equal(report.Periods.Count, periods.Count);
        Assert.Equal(report.Totals.SpendUsd, periods.SelectMany(p => p.GetProperty("groups").EnumerateArray()).Sum(g => g.GetProperty("spend").GetDecimal()));
        var firstGroup = root.GetProperty("groups")[0];
        Assert.Equal(report.Groups[0].Values["extra.branch"], firstGroup.GetProperty("group_by_values").GetProperty("extra.branch").GetString());
    }

    [Fact]
    public async Task GetUsageAsync_InMemoryLedger_AnswersFromItsRecords()
    {
        var ledger = new InMemoryUsageLedger(10_000);
        foreach (var record in Samples)
        {
            ledger.Add(record);
        }

        var query = new UsageQuery { Start = UsageSamples.From, End = UsageSamples.From.AddDays(40), GroupBy = ["extra.task"] };
        var report = await ledger.GetUsageAsync(query, TestContext.Current.CancellationToken);

        Assert.Equal(UsageReport.FromRecords(query, Samples).Totals, report.Totals);
        Assert.Equal(Samples.Count(r => r.Outcome != UsageOutcome.Rejected), report.Totals.Requests);
    }

    [Fact]
    public async Task GetUsageAsync_Canceled_Throws()
    {
        var ledger = new InMemoryUsageLedger(10);
        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ledger.GetUsageAsync(new UsageQuery { Start = UsageSamples.From, End = UsageSamples.From }, cancel.Token));
    }

    private static void AssertTotals(List<UsageRecord> calls, UsageTotals totals)
    {
        Assert.Equal(calls.Count, totals.Requests);
        Assert.Equal(calls.Count(c => c.Operation is "chat/completions" or "responses"), totals.CompletionsRequests);
        Assert.Equal(calls.Sum(c => (long)c.InputTokens), totals.InputTokens);
        Assert.Equal(calls.Sum(c => (long)c.OutputTokens), totals.OutputTokens);
        Assert.Equal(calls.Sum(c => (long)c.InputTokens + c.OutputTokens), totals.TotalTokens);
        Assert.Equal(calls.Sum(c => Math.Round(c.CostUsd, 12, MidpointRounding.ToEven)), totals.SpendUsd);
    }

    private static string? Value(UsageRecord record, string key) => key switch
    {
        "model_requested" => record.ModelRequested,
        "model_used" => record.ModelUsed,
        "provider" => record.Provider,
        "user_id" => record.Metadata.GetValueOrDefault("user"),
        _ => record.Metadata.GetValueOrDefault(key["extra.".Length..]),
    };

    private static DateTime PeriodOf(DateTime utc, UsageResolution resolution) => resolution switch
    {
        UsageResolution.Hour => new DateTime(utc.Year, utc.Month, utc.Day, utc.Hour, 0, 0, DateTimeKind.Utc),
        UsageResolution.Day => utc.Date,
        _ => new DateTime(utc.Year, utc.Month, 1, 0, 0, 0, DateTimeKind.Utc),
    };

    private static DateTime Advance(DateTime start, UsageResolution resolution) => resolution switch
    {
        UsageResolution.Hour => start.AddHours(1),
        UsageResolution.Day => start.AddDays(1),
        _ => start.AddMonths(1),
    };

    private static UsageRecord Record(DateTimeOffset at, decimal cost, params (string Key, string Value)[] metadata) => new()
    {
        Timestamp = at,
        Metadata = metadata.ToDictionary(m => m.Key, m => m.Value, StringComparer.OrdinalIgnoreCase),
        ModelRequested = "openai/gpt-4.1-nano",
        ModelUsed = "gpt-4.1-nano-2025-04-14",
        Provider = "openai",
        Operation = "chat/completions",
        InputTokens = 100,
        OutputTokens = 20,
        CostUsd = cost,
        CostBasis = CostBasis.Catalog,
        Outcome = UsageOutcome.Succeeded,
    };
}
