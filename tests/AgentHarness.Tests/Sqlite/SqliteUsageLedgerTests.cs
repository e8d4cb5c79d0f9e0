using AgentHarness.Sqlite;
using AgentHarness.Tests.Usage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace AgentHarness.Tests.Sqlite;

public sealed partial class SqliteUsageLedgerTests
{
    private static UsageRecord Record(string model, int second = 0, decimal cost = 0.001m) => new()
    {
        Timestamp = new DateTimeOffset(2026, 5, 1, 9, 0, second, TimeSpan.Zero),
        ModelRequested = model,
        Operation = "chat/completions",
        Outcome = UsageOutcome.Succeeded,
        InputTokens = 10,
        OutputTokens = 2,
        CostUsd = cost,
        CostBasis = CostBasis.Catalog,
    };

    private static UsageQuery May2026(params string[] groupBy) => new()
    {
        Start = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero),
        End = new DateTimeOffset(2026, 5, 31, 23, 59, 59, TimeSpan.Zero),
        Resolution = UsageResolution.Month,
        GroupBy = groupBy,
    };

    [Fact]
    public async Task GetRecords_EveryFieldAndAwkwardValues_RoundTripsExactly()
    {
        using var db = new TempDatabase();
        UsageRecord[] records =
        [
            new()
            {
                // Sub-millisecond ticks, a non-UTC offset, every optional field set.
                Timestamp = new DateTimeOffset(2026, 5, 1, 14, 30, 0, TimeSpan.FromHours(5.5)).AddTicks(1_234_567),
                RunId = "run-1",
                Agent = "code-review-agent",
                Task = "review",
                Metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
                {
                    ["agent"] = "code-review-agent",
                    ["Branch"] = "fix/login, \"quoted\"\n'x'",
                    ["ünïcödé"] = "値 ✓",
                    ["empty"] = string.Empty,
                },
                ModelRequested = "policy/claude-4",
                ModelUsed = "claude-sonnet-4-5-20250929",
                Provider = "requesty",
                Operation = "chat/completions",
                Streaming = true,
                InputTokens = int.MaxValue,
                OutputTokens = 7,
                CachedInputTokens = 3,
                CostUsd = 123.4500m,
                CostBasis = CostBasis.Reported,
                Latency = TimeSpan.FromTicks(12_345_678_901),
                Outcome = UsageOutcome.Incomplete,
                StatusCode = 200,
                Error = "stream cut",
                Attempts =
                [
                    new UsageAttempt("openai", "gpt-4.1", AttemptOutcome.Failed, null, "connection reset", TimeSpan.FromTicks(1)),
                    new UsageAttempt("anthropic", "claude-4", AttemptOutcome.Skipped, null, "cooling down", TimeSpan.Zero),
                    new UsageAttempt("requesty", "claude-sonnet-4-5", AttemptOutcome.Succeeded, 200, null, TimeSpan.FromMilliseconds(12.5)),
                ],
            },
            new()
            {
                // Before 1970, in the last tick of a second: the millisecond split must floor, not truncate.
                Timestamp = new DateTimeOffset(1969, 12, 31, 23, 59, 59, TimeSpan.Zero).AddTicks(9_999_999),
                ModelRequested = "m",
                Operation = "embeddings",
                CostUsd = 0.000000000000000001m,
                Outcome = UsageOutcome.Rejected,
            },
            new()
            {
                Timestamp = DateTimeOffset.UnixEpoch,
                ModelRequested = string.Empty,
                Operation = "models",
                CostUsd = -0.5m,
                CostBasis = CostBasis.Estimated,
                Outcome = UsageOutcome.Canceled,
            },
        ];

        await using (var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath }))
        {
            foreach (var record in records)
            {
                ledger.Add(record);
            }
        }

        await using var reopened = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });
        UsageRecordAssert.Equal(records, reopened.GetRecords());
    }

    [Fact]
    public async Task GetUsageAsync_RangeBoundsInsideAMillisecond_CountsLikeInMemory()
    {
        using var db = new TempDatabase();
        var start = new DateTimeOffset(2026, 5, 1, 9, 0, 0, TimeSpan.Zero).AddTicks(5_000);
        var records = new[] { -1, 0, 1, 4_999, 10_000 }
            .Select((offset, i) => Record("m" + i) with { Timestamp = start.AddTicks(offset) })
            .Append(Record("late") with { Timestamp = new DateTimeOffset(2026, 5, 1, 9, 59, 59, TimeSpan.Zero).AddTicks(9_999_999) })
            .Append(Record("after") with { Timestamp = new DateTimeOffset(2026, 5, 1, 10, 0, 0, TimeSpan.Zero) })
            .ToList();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });
        records.ForEach(ledger.Add);
        var query = new UsageQuery
        {
            Start = start,
            End = new DateTimeOffset(2026, 5, 1, 9, 59, 59, 500, TimeSpan.Zero),
            Resolution = UsageResolution.Hour,
            GroupBy = [UsageGroupKeys.ModelRequested],
        };

        var report = await ledger.GetUsageAsync(query, Ct);

        UsageReportAssert.Equal(UsageReport.FromRecords(query, records), report);
        Assert.Equal(["late", "m1", "m2", "m3", "m4"], report.Groups.Select(g => g.Values[UsageGroupKeys.ModelRequested]).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task GetUsageAsync_MetadataKeysInAnyCase_GroupsLikeInMemory()
    {
        using var db = new TempDatabase();
        var records = new[]
        {
            Record("a") with { Metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["Team"] = "red", ["USER"] = "ana" } },
            Record("b") with { Metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["team"] = "red", ["user"] = "bo" } },
            Record("c") with { Metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["team"] = string.Empty } },
            Record("d"),
        };
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });
        Array.ForEach(records, ledger.Add);
        var query = May2026("extra.TEAM", UsageGroupKeys.UserId);

        var report = await ledger.GetUsageAsync(query, Ct);

        UsageReportAssert.Equal(UsageReport.FromRecords(query, records), report);
        Assert.Equal(4, report.Groups.Count);
    }

    [Fact]
    public async Task GetUsageAsync_CostsOfFewDecimals_KeepTheirDecimalsLikeInMemory()
    {
        using var db = new TempDatabase();
        var records = new[] { Record("a", cost: 0.5m), Record("a", 1, cost: 0.25m), Record("b", cost: 0m), Record("c", cost: 1.000000000000000009m) };
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });
        Array.ForEach(records, ledger.Add);
        var query = May2026(UsageGroupKeys.ModelRequested);

        var report = await ledger.GetUsageAsync(query, Ct);

        UsageReportAssert.Equal(UsageReport.FromRecords(query, records), report);
        Assert.Equal("0.75", report.Groups.Single(g => g.Values[UsageGroupKeys.ModelRequested] == "a").Totals.SpendUsd.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Add_QueueFullWhileWriterWaitsForTheFile_DropsCountsAndLogsOnce()
    {
        using var db = new TempDatabase();
        var logger = new FakeLogger<SqliteUsageLedger>();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath, QueueCapacity = 1 }, logger);
        var taken = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        ledger.BatchStarting = count => taken.TrySetResult(count);

        using (db.HoldWriteLock())
        {
            ledger.Add(Record("first"));
            Assert.Equal(1, await taken.Task.WaitAsync(Ct));

            // The writer is stuck on the lock with "first": one more fits the queue, the rest are dropped at once.
            ledger.Add(Record("second"));
            ledger.Add(Record("third"));
            ledger.Add(Record("fourth"));

            Assert.Equal(2, ledger.Dropped);
            Assert.Equal(2, ledger.Pending);
            Assert.Equal(0, ledger.Written);
        }

        await ledger.FlushAsync(Ct);

        Assert.Equal(2, ledger.Written);
        Assert.Equal(0, ledger.Failed);
        Assert.Equal(0, ledger.Pending);
        Assert.Equal(["first", "second"], ledger.GetRecords().Select(r => r.ModelRequested));
        var warning = Assert.Single(logger.Collector.GetSnapshot(), r => r.Level >= LogLevel.Warning);
        Assert.Equal(301, warning.Id.Id);
        Assert.Contains("queue of 1 records is full", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Add_BatchRefusedByTheDatabase_CountsFailedLogsAndWritesLaterBatches()
    {
        using var db = new TempDatabase();
        var logger = new FakeLogger<SqliteUsageLedger>();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath }, logger);
        db.Execute("""
            CREATE TRIGGER refuse_boom BEFORE INSERT ON usage_records WHEN NEW.model_requested = 'boom'
            BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;
            """);

        ledger.Add(Record("before"));
        await ledger.FlushAsync(Ct);
        ledger.Add(Record("boom"));
        await ledger.FlushAsync(Ct);
        ledger.Add(Record("after"));
        await ledger.FlushAsync(Ct);

        Assert.Equal(2, ledger.Written);
        Assert.Equal(1, ledger.Failed);
        Assert.Equal(0, ledger.Pending);
        Assert.Equal(["before", "after"], ledger.GetRecords().Select(r => r.ModelRequested));
        var error = Assert.Single(logger.Collector.GetSnapshot(), r => r.Level == LogLevel.Error);
        Assert.Equal(303, error.Id.Id);
        Assert.Contains("batch of 1 usage records", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("boom", error.Message, StringComparison.Ordinal);
        Assert.IsType<Microsoft.Data.Sqlite.SqliteException>(error.Exception);
    }

    [Fact]
    public async Task Add_TableDroppedByAnotherConnection_CountsFailedAndNeverThrows()
    {
        using var db = new TempDatabase();
        var logger = new FakeLogger<SqliteUsageLedger>();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath }, logger);
        db.Execute("DROP TABLE usage_records;");

        ledger.Add(Record("a"));
        ledger.Add(Record("b"));
        await ledger.FlushAsync(Ct);

        Assert.Equal(0, ledger.Written);
        Assert.Equal(2, ledger.Failed);
        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Id.Id == 303);
    }

    [Fact]
    public async Task Add_CostBeyondPicodollarRange_CountsFailedAndWritesTheOthers()
    {
        using var db = new TempDatabase();
        var logger = new FakeLogger<SqliteUsageLedger>();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath }, logger);

        ledger.Add(Record("ok"));
        ledger.Add(Record("huge", cost: 10_000_000m));
        ledger.Add(Record("ok too", cost: 9_223_372.036854775807m));
        await ledger.FlushAsync(Ct);

        Assert.Equal(2, ledger.Written);
        Assert.Equal(1, ledger.Failed);
        Assert.Equal(["ok", "ok too"], ledger.GetRecords().Select(r => r.ModelRequested));
        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Id.Id == 304);
        var report = await ledger.GetUsageAsync(May2026(), Ct);
        Assert.Equal(9_223_372.037854775807m, report.Totals.SpendUsd);
    }

    [Fact]
    public async Task Add_AfterDispose_IsDroppedAndCountedNotThrown()
    {
        using var db = new TempDatabase();
        var logger = new FakeLogger<SqliteUsageLedger>();
        var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath }, logger);
        ledger.Add(Record("kept"));
        await ledger.DisposeAsync();

        ledger.Add(Record("late"));

        Assert.Equal(1, ledger.Written);
        Assert.Equal(1, ledger.Dropped);
        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Id.Id == 302);
        await ledger.FlushAsync(Ct);
        Assert.Throws<ObjectDisposedException>(() => ledger.GetRecords());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => ledger.GetUsageAsync(May2026(), Ct));
    }

    [Fact]
    public async Task Add_FromManyThreads_WritesEveryRecord()
    {
        using var db = new TempDatabase();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath, BatchSize = 100 });

        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(
            () =>
            {
                for (var i = 0; i < 1000; i++)
                {
                    ledger.Add(Record($"m{t}-{i}"));
                }
            },
            Ct)));
        await ledger.FlushAsync(Ct);

        Assert.Equal(8000, ledger.Written);
        Assert.Equal(0, ledger.Dropped + ledger.Failed + ledger.Pending);
        Assert.Equal(8000, ledger.GetRecords().Select(r => r.ModelRequested).Distinct().Count());
    }

    [Fact]
    public async Task FlushAsync_WriterWaitingForTheFile_HonoursCancellation()
    {
        using var db = new TempDatabase();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });
        var taken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ledger.BatchStarting = _ => taken.TrySetResult();
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        using (db.HoldWriteLock())
        {
            ledger.Add(Record("a"));
            await taken.Task.WaitAsync(Ct);
            var flush = ledger.FlushAsync(cancellation.Token);
            Assert.False(flush.IsCompleted);

            await cancellation.CancelAsync();

            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => flush);
        }

        await ledger.FlushAsync(Ct);
        Assert.Equal(1, ledger.Written);
    }

    [Fact]
    public async Task GetUsageAsync_CancelledToken_Throws()
    {
        using var db = new TempDatabase();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ledger.GetUsageAsync(May2026(), new CancellationToken(canceled: true)));
    }

    [Fact]
    public async Task GetUsageAsync_InvalidQuery_ThrowsArgumentException()
    {
        using var db = new TempDatabase();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });

        var error = await Assert.ThrowsAsync<ArgumentException>(() => ledger.GetUsageAsync(May2026("team"), Ct));

        Assert.Contains("'team'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DisposeAsync_AfterQueries_ClosesTheFileSoItCanBeReopenedAtOnce()
    {
        using var db = new TempDatabase();
        var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });
        ledger.Add(Record("a"));
        await ledger.GetUsageAsync(May2026(), Ct);
        _ = ledger.GetRecords();

        await ledger.DisposeAsync();
        await ledger.DisposeAsync();

        // The last connection to close removes the write-ahead log: none is left open, pooled or not.
        Assert.False(File.Exists(db.FilePath + "-wal"), "a connection to the file is still open");
        await using var reopened = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });
        Assert.Equal("a", Assert.Single(reopened.GetRecords()).ModelRequested);
    }

    [Fact]
    public void Dispose_WithRecordsQueued_WritesThemFirst()
    {
        using var db = new TempDatabase();
        var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath, BatchSize = 7 });
        for (var i = 0; i < 100; i++)
        {
            ledger.Add(Record("m" + i));
        }

        ledger.Dispose();

        Assert.Equal(100, ledger.Written);
        using var reopened = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });
        Assert.Equal(100, reopened.GetRecords().Count);
    }

    [Fact]
    public void Constructor_MissingDirectory_CreatesItAndTheFile()
    {
        using var db = new TempDatabase();
        Assert.False(Directory.Exists(db.DirectoryPath));

        using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });

        Assert.True(File.Exists(db.FilePath));
        Assert.Equal(Path.GetFullPath(db.FilePath), ledger.Path);
        using var connection = db.Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version;";
        Assert.Equal(1L, command.ExecuteScalar());
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", command.ExecuteScalar());
    }

    [Fact]
    public void Constructor_PathIsADirectory_ThrowsNamingTheSettingAndPath()
    {
        using var db = new TempDatabase();
        Directory.CreateDirectory(db.FilePath);

        var error = Assert.Throws<InvalidOperationException>(() => new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath }));

        Assert.Contains("AgentHarness:Sqlite:Path", error.Message, StringComparison.Ordinal);
        Assert.Contains(db.FilePath, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_FileIsNotADatabase_ThrowsNamingTheSettingAndPath()
    {
        using var db = new TempDatabase();
        Directory.CreateDirectory(db.DirectoryPath);
        File.WriteAllText(db.FilePath, new string('x', 4096));

        var error = Assert.Throws<InvalidOperationException>(() => new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath }));

        Assert.Contains("AgentHarness:Sqlite:Path", error.Message, StringComparison.Ordinal);
        Assert.Contains(db.FilePath, error.Message, StringComparison.Ordinal);
        Assert.Contains("not a database", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_FileOfANewerSchemaVersion_RefusesIt()
    {
        using var db = new TempDatabase();
        Directory.CreateDirectory(db.DirectoryPath);
        db.Execute("PRAGMA user_version = 99;");

        var error = Assert.Throws<InvalidOperationException>(() => new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath }));

        Assert.Contains("schema version 99", error.Message, StringComparison.Ordinal);
        Assert.Contains("newer version", error.Message, StringComparison.Ordinal);
        Assert.Contains(db.FilePath, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", 10, 256, "AgentHarness:Sqlite:Path is required")]
    [InlineData("   ", 10, 256, "got '   '")]
    [InlineData("usage.db", 0, 256, "AgentHarness:Sqlite:QueueCapacity must be at least 1; got 0.")]
    [InlineData("usage.db", 10, -3, "AgentHarness:Sqlite:BatchSize must be at least 1; got -3.")]
    public void Constructor_InvalidOptions_ThrowsNamingTheSettingAndValue(string path, int capacity, int batchSize, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = path, QueueCapacity = capacity, BatchSize = batchSize }));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
