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

    /// <summary>A ledger with a short lock wait, so a test that holds the file's lock waits one second, not thirty.</summary>
    private static SqliteUsageLedger ShortWait(SqliteUsageLedgerOptions options, FakeLogger<SqliteUsageLedger>? logger = null) =>
        new(options, "AgentHarness:Sqlite", logger, busyTimeout: TimeSpan.FromSeconds(1));

    /// <summary>Creates the file and its schema through a query, so a test can open it before the writer has written anything.</summary>
    private static void CreateFile(SqliteUsageLedger ledger) => _ = ledger.GetRecords();

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

    /// <summary>The usage_records table as schema version 1 created it, before the response cache's columns.</summary>
    private const string CreateVersion1Table = """
        CREATE TABLE usage_records (
            id INTEGER PRIMARY KEY,
            timestamp_ms INTEGER NOT NULL,
            timestamp_ticks INTEGER NOT NULL,
            offset_minutes INTEGER NOT NULL,
            run_id TEXT,
            agent TEXT,
            task TEXT,
            model_requested TEXT,
            model_used TEXT,
            provider TEXT,
            operation TEXT,
            streaming INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cached_input_tokens INTEGER NOT NULL,
            cost_usd TEXT NOT NULL,
            cost_pico INTEGER NOT NULL,
            cost_scale INTEGER NOT NULL,
            cost_basis TEXT NOT NULL,
            latency_ticks INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            status_code INTEGER,
            error TEXT,
            attempts TEXT NOT NULL
        );
        CREATE INDEX usage_records_timestamp ON usage_records (timestamp_ms);
        CREATE TABLE usage_metadata (
            record_id INTEGER NOT NULL,
            key TEXT NOT NULL,
            name TEXT NOT NULL,
            value TEXT,
            PRIMARY KEY (record_id, key)
        ) WITHOUT ROWID;
        PRAGMA user_version = 1;
        """;

    /// <summary>Calls and cache hits: a hit costs nothing and saves the original call's cost; a call may write to the provider's prompt cache.</summary>
    private static UsageRecord[] CacheRecords() =>
    [
        Record("a", cost: 0.0125m) with { CachedInputTokens = 4, CacheWriteInputTokens = 6 },
        Record("a", 1, cost: 0m) with { FromCache = true, SavedUsd = 0.0125m, CacheKey = "k:1" },
        Record("a", 2, cost: 0m) with { FromCache = true, SavedUsd = 0.5m, CacheKey = "k:2", Operation = "embeddings" },
        Record("b", 3, cost: 0.25m) with { CacheWriteInputTokens = 1000 },
        Record("b", 4, cost: 0m) with { FromCache = true, SavedUsd = 1.000000000000000009m, CacheKey = "k:3" },
        Record("b", 5, cost: 0m) with { FromCache = true, SavedUsd = 9m, Outcome = UsageOutcome.Rejected },
    ];

    [Fact]
    public async Task GetRecords_CacheHitFields_RoundTripExactly()
    {
        using var db = new TempDatabase();
        UsageRecord[] records =
        [
            Record("a") with { FromCache = true, SavedUsd = 0.012300m, CacheKey = "sha256:ab\n\"c\"", CacheWriteInputTokens = 0, CostUsd = 0m },
            Record("a", 1) with { FromCache = false, SavedUsd = 0m, CacheKey = null, CacheWriteInputTokens = int.MaxValue },
        ];

        await using (var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath }))
        {
            Array.ForEach(records, ledger.Add);
            await ledger.FlushAsync(Ct);
            UsageRecordAssert.Equal(records, ledger.GetRecords());
        }

        await using var reopened = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });
        UsageRecordAssert.Equal(records, reopened.GetRecords());
    }

    [Fact]
    public async Task GetUsageAsync_CacheHitsAndCalls_EqualsInMemoryReport()
    {
        using var db = new TempDatabase();
        var records = CacheRecords();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });
        Array.ForEach(records, ledger.Add);
        var query = May2026(UsageGroupKeys.ModelRequested);

        var report = await ledger.GetUsageAsync(query, Ct);

        UsageReportAssert.Equal(UsageReport.FromRecords(query, records), report);
        Assert.Equal(3, report.Totals.CacheHits);
        Assert.Equal(1006, report.Totals.CacheWriteInputTokens);
        Assert.Equal("0.5125", report.Groups.Single(g => g.Values[UsageGroupKeys.ModelRequested] == "a").Totals.SavedUsd.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task GetRecords_FileOfSchemaVersion1_AddsTheCacheColumnsKeepsOldRowsAndTakesNewOnes()
    {
        using var db = new TempDatabase();
        Directory.CreateDirectory(db.DirectoryPath);
        db.Execute(CreateVersion1Table + """
            INSERT INTO usage_records (timestamp_ms, timestamp_ticks, offset_minutes, model_requested, operation, streaming,
                input_tokens, output_tokens, cached_input_tokens, cost_usd, cost_pico, cost_scale, cost_basis, latency_ticks, outcome, attempts)
            VALUES (1777626000000, 0, 0, 'old', 'chat/completions', 0, 10, 2, 0, '0.001', 1000000000, 3, 'Catalog', 0, 'Succeeded', '[]');
            """);
        var old = Record("old");
        var hit = Record("new", 1, cost: 0m) with { FromCache = true, SavedUsd = 0.001m, CacheKey = "k", CacheWriteInputTokens = 5 };

        await using (var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath }))
        {
            var read = Assert.Single(ledger.GetRecords());
            Assert.False(read.FromCache);
            Assert.Equal(0m, read.SavedUsd);
            UsageRecordAssert.Equal(old, read);

            ledger.Add(hit);
            await ledger.FlushAsync(Ct);
            Assert.Equal((1L, 0L), (ledger.Written, ledger.Failed));
        }

        // Opening the upgraded file again changes nothing and reads both rows, and its report counts the hit.
        await using var reopened = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });
        UsageRecordAssert.Equal([old, hit], reopened.GetRecords());
        var query = May2026(UsageGroupKeys.ModelRequested);
        UsageReportAssert.Equal(UsageReport.FromRecords(query, [old, hit]), await reopened.GetUsageAsync(query, Ct));

        using var connection = db.Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT (SELECT COUNT(*) FROM pragma_table_info('usage_records') WHERE name IN ('from_cache', 'saved_usd', 'saved_pico', 'saved_scale', 'cache_key', 'cache_write_input_tokens')) || ',' || (SELECT user_version FROM pragma_user_version);";
        Assert.Equal("6,2", command.ExecuteScalar());
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

    /// <summary>Records built outside the harness: ordinal metadata dictionaries, keys differing only in case, no metadata at all.</summary>
    private static UsageRecord[] OddMetadataRecords() =>
    [
        Record("a") with { Metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["User"] = "bob" } },
        Record("b") with { Metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["Task"] = "a", ["task"] = "b" } },
        Record("c") with { Metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["TASK"] = "x", ["Task"] = "y", ["USER"] = "ann", ["User"] = "al" } },
        Record("d") with { Metadata = null! },
    ];

    [Fact]
    public async Task GetUsageAsync_MetadataKeysDifferingOnlyInCase_TakesTheExactLowerCaseKeyElseTheFirst()
    {
        using var db = new TempDatabase();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });
        Array.ForEach(OddMetadataRecords(), ledger.Add);

        var report = await ledger.GetUsageAsync(May2026(UsageGroupKeys.ModelRequested, UsageGroupKeys.UserId, "extra.task"), Ct);

        string?[] Values(string model)
        {
            var group = report.Groups.Single(g => g.Values[UsageGroupKeys.ModelRequested] == model);
            return [group.Values[UsageGroupKeys.UserId], group.Values["extra.task"]];
        }

        Assert.Equal(["bob", null], Values("a"));
        Assert.Equal([null, "b"], Values("b"));
        Assert.Equal(["ann", "x"], Values("c"));
        Assert.Equal([null, null], Values("d"));
        var records = ledger.GetRecords();
        Assert.Equal("b", records[1].Metadata["task"]);
        Assert.Empty(records[3].Metadata);
        using var connection = db.Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM usage_metadata WHERE record_id = (SELECT MAX(id) FROM usage_records);";
        Assert.Equal(0L, command.ExecuteScalar());
    }

    [Theory]
    [InlineData(UsageGroupKeys.UserId)]
    [InlineData("extra.task")]
    public async Task GetUsageAsync_MetadataKeysDifferingOnlyInCase_GroupsLikeInMemory(string key)
    {
        using var db = new TempDatabase();
        var records = OddMetadataRecords();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });
        Array.ForEach(records, ledger.Add);
        var query = May2026(UsageGroupKeys.ModelRequested, key);

        var report = await ledger.GetUsageAsync(query, Ct);

        UsageReportAssert.Equal(UsageReport.FromRecords(query, records), report);
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
        CreateFile(ledger);
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
        CreateFile(ledger);
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
        CreateFile(ledger);
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
    public async Task Add_SavedUsdBeyondPicodollarRange_CountsFailedAndWritesTheOthers()
    {
        using var db = new TempDatabase();
        var logger = new FakeLogger<SqliteUsageLedger>();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath }, logger);

        ledger.Add(Record("ok", cost: 0m) with { FromCache = true, SavedUsd = 9_223_372.036854775807m });
        ledger.Add(Record("huge", cost: 0m) with { FromCache = true, SavedUsd = 10_000_000m });
        await ledger.FlushAsync(Ct);

        Assert.Equal((1L, 1L), (ledger.Written, ledger.Failed));
        Assert.Equal(["ok"], ledger.GetRecords().Select(r => r.ModelRequested));
        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Id.Id == 304);
        var report = await ledger.GetUsageAsync(May2026(), Ct);
        Assert.Equal(9_223_372.036854775807m, report.Totals.SavedUsd);
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
        CreateFile(ledger);
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
    public async Task GetUsageAsync_CancelledToken_ThrowsWithoutQuerying()
    {
        using var db = new TempDatabase();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });
        var queried = false;
        ledger.QueryStarting = _ => queried = true;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ledger.GetUsageAsync(May2026(), new CancellationToken(canceled: true)));

        Assert.False(queried);
        Assert.False(Directory.Exists(db.DirectoryPath));
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
    public async Task Constructor_MissingDirectory_TouchesNoFileUntilTheFirstWrite()
    {
        using var db = new TempDatabase();

        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });

        Assert.Equal(Path.GetFullPath(db.FilePath), ledger.Path);
        Assert.False(Directory.Exists(db.DirectoryPath));
        ledger.Add(Record("a"));
        await ledger.FlushAsync(Ct);
        Assert.Equal(1, ledger.Written);
        Assert.True(File.Exists(db.FilePath));
        using var connection = db.Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version;";
        Assert.Equal(2L, command.ExecuteScalar());
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", command.ExecuteScalar());
    }

    [Fact]
    public async Task Add_PathCannotBeOpened_CountsFailedLogsOnceAndWritesOnceItCan()
    {
        using var db = new TempDatabase();
        Directory.CreateDirectory(db.FilePath);
        var logger = new FakeLogger<SqliteUsageLedger>();

        // Neither throws: the ledger is built inside the harness's HTTP pipeline, where a failure would fail every call.
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath, BatchSize = 1 }, logger);
        ledger.Add(Record("lost 1"));
        ledger.Add(Record("lost 2"));
        await ledger.FlushAsync(Ct);
        ledger.Add(Record("lost 3"));
        await ledger.FlushAsync(Ct);

        Assert.Equal((0L, 3L, 0L), (ledger.Written, ledger.Failed, ledger.Pending));
        var error = Assert.Single(logger.Collector.GetSnapshot(), r => r.Level >= LogLevel.Warning);
        Assert.Equal((305, LogLevel.Error), (error.Id.Id, error.Level));
        Assert.Contains(db.FilePath, error.Message, StringComparison.Ordinal);
        Assert.NotNull(error.Exception);
        var queryError = await Assert.ThrowsAsync<InvalidOperationException>(() => ledger.GetUsageAsync(May2026(), Ct));
        Assert.Contains("AgentHarness:Sqlite:Path", queryError.Message, StringComparison.Ordinal);
        Assert.Contains(db.FilePath, queryError.Message, StringComparison.Ordinal);
        Assert.Contains(db.FilePath, Assert.Throws<InvalidOperationException>(() => ledger.GetRecords()).Message, StringComparison.Ordinal);

        // The obstacle goes away: the writer opens the file before its next batch.
        Directory.Delete(db.FilePath);
        ledger.Add(Record("kept"));
        await ledger.FlushAsync(Ct);

        Assert.Equal((1L, 3L), (ledger.Written, ledger.Failed));
        Assert.Equal("kept", Assert.Single(ledger.GetRecords()).ModelRequested);
        Assert.Equal(1, (await ledger.GetUsageAsync(May2026(), Ct)).Totals.Requests);
        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Id.Id == 306);
        Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id == 305);
    }

    [Fact]
    public async Task Add_FileIsNotADatabase_CountsFailedAndQueriesThrowNamingThePath()
    {
        using var db = new TempDatabase();
        Directory.CreateDirectory(db.DirectoryPath);
        File.WriteAllText(db.FilePath, new string('x', 4096));
        var logger = new FakeLogger<SqliteUsageLedger>();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath }, logger);

        ledger.Add(Record("a"));
        await ledger.FlushAsync(Ct);

        Assert.Equal((0L, 1L), (ledger.Written, ledger.Failed));
        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Id.Id == 305 && r.Message.Contains(db.FilePath, StringComparison.Ordinal));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ledger.GetUsageAsync(May2026(), Ct));
        Assert.Contains("AgentHarness:Sqlite:Path", error.Message, StringComparison.Ordinal);
        Assert.Contains(db.FilePath, error.Message, StringComparison.Ordinal);
        Assert.Contains("not a database", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Add_FileOfANewerSchemaVersion_RefusesItCountsFailedAndQueriesThrow()
    {
        using var db = new TempDatabase();
        Directory.CreateDirectory(db.DirectoryPath);
        db.Execute("PRAGMA user_version = 99;");
        var logger = new FakeLogger<SqliteUsageLedger>();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath }, logger);

        ledger.Add(Record("a"));
        await ledger.FlushAsync(Ct);

        Assert.Equal((0L, 1L), (ledger.Written, ledger.Failed));
        var logged = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id == 305);
        Assert.Contains("schema version 99", logged.Exception!.Message, StringComparison.Ordinal);
        foreach (var error in new[]
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => ledger.GetUsageAsync(May2026(), Ct)),
            Assert.Throws<InvalidOperationException>(() => ledger.GetRecords()),
        })
        {
            Assert.Contains("schema version 99", error.Message, StringComparison.Ordinal);
            Assert.Contains("newer version", error.Message, StringComparison.Ordinal);
            Assert.Contains(db.FilePath, error.Message, StringComparison.Ordinal);
        }

        using var connection = db.Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM sqlite_master;";
        Assert.Equal(0L, command.ExecuteScalar());
    }

    [Fact]
    public async Task DisposeAsync_DatabaseLockedWithRecordsQueued_TriesOneBatchAndCountsTheRestFailed()
    {
        using var db = new TempDatabase();
        var logger = new FakeLogger<SqliteUsageLedger>();
        var ledger = ShortWait(new SqliteUsageLedgerOptions { Path = db.FilePath, BatchSize = 1 }, logger);
        CreateFile(ledger);
        var batches = 0;
        var taken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var disposing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ledger.BatchStarting = _ =>
        {
            if (Interlocked.Increment(ref batches) == 1)
            {
                // The first batch waits for the lock only once disposal has begun, so its failure is one during disposal.
                taken.TrySetResult();
                disposing.Task.Wait(Ct);
            }
        };

        using (db.HoldWriteLock())
        {
            ledger.Add(Record("first"));
            await taken.Task.WaitAsync(Ct);
            for (var i = 0; i < 4; i++)
            {
                ledger.Add(Record("queued " + i));
            }

            var disposal = ledger.DisposeAsync();
            disposing.SetResult();
            await disposal;
        }

        Assert.Equal(1, batches);
        Assert.Equal((0L, 5L, 0L), (ledger.Written, ledger.Failed, ledger.Pending));
        var logs = logger.Collector.GetSnapshot();
        Assert.Single(logs, r => r.Id.Id == 303);
        var abandoned = Assert.Single(logs, r => r.Id.Id == 307);
        Assert.Contains("the 4 usage records still queued", abandoned.Message, StringComparison.Ordinal);
        Assert.Contains(db.FilePath, abandoned.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FlushAsync_TwoWaitingWhileTheWriterIsHeldUp_LeaveTheQueueToRecords()
    {
        using var db = new TempDatabase();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath, QueueCapacity = 2 });
        CreateFile(ledger);
        var taken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ledger.BatchStarting = _ => taken.TrySetResult();
        Task first, second;

        using (db.HoldWriteLock())
        {
            ledger.Add(Record("first"));
            await taken.Task.WaitAsync(Ct);
            first = ledger.FlushAsync(Ct);
            second = ledger.FlushAsync(Ct);
            Assert.False(first.IsCompleted || second.IsCompleted);

            // The queue is empty, and its two slots are the records'.
            ledger.Add(Record("second"));
            ledger.Add(Record("third"));

            Assert.Equal(0, ledger.Dropped);
        }

        await Task.WhenAll(first, second).WaitAsync(Ct);
        await ledger.FlushAsync(Ct);
        Assert.Equal(3, ledger.Written);
        Assert.Equal(["first", "second", "third"], ledger.GetRecords().Select(r => r.ModelRequested));
    }

    [Fact]
    public async Task FlushAsync_NothingAdded_CompletesAtOnceWithoutOpeningTheFile()
    {
        using var db = new TempDatabase();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });

        Assert.True(ledger.FlushAsync(Ct).IsCompletedSuccessfully);
        Assert.False(Directory.Exists(db.DirectoryPath));
    }

    [Fact]
    public async Task GetUsageAsync_Query_RunsOffTheCallersThread()
    {
        using var db = new TempDatabase();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });
        ledger.Add(Record("a"));
        await ledger.FlushAsync(Ct);
        var caller = -1;
        int? queryThread = null;
        ledger.QueryStarting = _ => queryThread = Volatile.Read(ref caller) == Environment.CurrentManagedThreadId ? -1 : Environment.CurrentManagedThreadId;

        // Set only while the call runs synchronously on this thread: a query run here would see it.
        Volatile.Write(ref caller, Environment.CurrentManagedThreadId);
        var pending = ledger.GetUsageAsync(May2026(), Ct);
        Volatile.Write(ref caller, -1);
        var report = await pending;

        Assert.Equal(1, report.Totals.Requests);
        Assert.NotNull(queryThread);
        Assert.NotEqual(-1, queryThread);
    }

    [Fact]
    public async Task GetUsageAsync_CancelledWhileSqliteRunsTheQuery_InterruptsItAndThrowsOperationCanceled()
    {
        using var db = new TempDatabase();
        await using var ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });
        for (var i = 0; i < 500; i++)
        {
            ledger.Add(Record("m" + (i % 50), i % 60));
        }

        await ledger.FlushAsync(Ct);
        using var cancellation = new CancellationTokenSource();
        var steps = 0;
        var stepsAfterCancel = 0;
        ledger.QueryStarting = connection => SQLitePCL.raw.sqlite3_progress_handler(
            connection.Handle,
            1,
            _ =>
            {
                // Cancels from inside SQLite, while the statement runs: only an interrupt can stop it now.
                if (++steps == 1)
                {
                    cancellation.Cancel();
                }
                else
                {
                    stepsAfterCancel++;
                }

                return 0;
            },
            null);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ledger.GetUsageAsync(May2026(UsageGroupKeys.ModelRequested), cancellation.Token));

        // Interrupted, the statement stops within a few steps; run to its end it takes over 13,000.
        Assert.InRange(stepsAfterCancel, 0, 100);
        ledger.QueryStarting = connection => SQLitePCL.raw.sqlite3_progress_handler(connection.Handle, 0, null, null);
        Assert.Equal(500, (await ledger.GetUsageAsync(May2026(UsageGroupKeys.ModelRequested), Ct)).Totals.Requests);
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
