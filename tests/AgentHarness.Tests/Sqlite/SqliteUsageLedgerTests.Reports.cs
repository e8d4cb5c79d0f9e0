using AgentHarness.Tests.Usage;

namespace AgentHarness.Tests.Sqlite;

public sealed partial class SqliteUsageLedgerTests : IClassFixture<SqliteUsageLedgerFixture>
{
    private readonly SqliteUsageLedgerFixture _samples;

    public SqliteUsageLedgerTests(SqliteUsageLedgerFixture samples) => _samples = samples;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<UsageResolution, int, bool, bool> EveryResolutionGroupByAndRange()
    {
        var data = new TheoryData<UsageResolution, int, bool, bool>();
        foreach (var reopened in new[] { false, true })
        {
            foreach (var resolution in new[] { UsageResolution.Hour, UsageResolution.Day, UsageResolution.Month })
            {
                for (var g = 0; g < UsageSamples.GroupBys.Length; g++)
                {
                    data.Add(resolution, g, false, reopened);
                    data.Add(resolution, g, true, reopened);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EveryResolutionGroupByAndRange))]
    public async Task GetUsageAsync_EveryResolutionGroupByAndRange_EqualsInMemoryReport(UsageResolution resolution, int groupBy, bool narrow, bool reopened)
    {
        var query = narrow
            ? new UsageQuery
            {
                // Starts mid-day and ends mid-month: partial periods, and calls on both sides of each end.
                Start = UsageSamples.From.AddDays(3).AddHours(13.5),
                End = UsageSamples.From.AddDays(31).AddHours(7).AddSeconds(-1),
                Resolution = resolution,
                GroupBy = UsageSamples.GroupBys[groupBy],
            }
            : new UsageQuery
            {
                Start = UsageSamples.From,
                End = UsageSamples.From.AddDays(40),
                Resolution = resolution,
                GroupBy = UsageSamples.GroupBys[groupBy],
            };
        var expected = UsageReport.FromRecords(query, _samples.Samples);
        Assert.True(expected.Totals.Requests > 100, "The range must hold enough calls to compare.");

        var actual = await _samples.Ledger(reopened).GetUsageAsync(query, Ct);

        UsageReportAssert.Equal(expected, actual);
    }

    [Fact]
    public void GetRecords_FileWrittenThenReopened_EqualsTheRecordsAddedFieldByField()
    {
        var records = _samples.Reopened.GetRecords();

        UsageRecordAssert.Equal(_samples.Samples, records);
    }

    [Fact]
    public void GetRecords_LedgerThatWroteThem_EqualsTheRecordsAddedFieldByField()
    {
        UsageRecordAssert.Equal(_samples.Samples, _samples.Live.GetRecords());
    }
}
