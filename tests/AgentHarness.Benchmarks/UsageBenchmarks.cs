using AgentHarness.Sqlite;
using AgentHarness.Usage.Internal;
using BenchmarkDotNet.Attributes;

namespace AgentHarness.Benchmarks;

/// <summary>
/// What the usage ledgers cost: adding a record on the call path (the in-memory ring, and the SQLite
/// ledger's queue plus its background write, flushed every 1,000 records), and answering a week-long
/// daily report grouped by agent and task over 10,000 records, in memory and in SQL.
/// <see cref="SqliteAddBenchmarks"/> measures what a model call itself pays to the SQLite ledger.
/// </summary>
[MemoryDiagnoser]
public class UsageBenchmarks
{
    private const int Batch = 1000;
    private static readonly DateTimeOffset From = new(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly UsageQuery Week = new()
    {
        Start = From,
        End = From.AddDays(7).AddSeconds(-1),
        Resolution = UsageResolution.Day,
        GroupBy = ["extra.agent", "extra.task"],
    };

    private UsageRecord[] _records = null!;
    private InMemoryUsageLedger _memory = null!;
    private SqliteUsageLedger _sqlite = null!;
    private SqliteUsageLedger _sqliteReport = null!;
    private string _directory = null!;

    [GlobalSetup]
    public void Setup()
    {
        _records = CreateRecords(10_000);
        _memory = new InMemoryUsageLedger(10_000);
        foreach (var record in _records)
        {
            _memory.Add(record);
        }

        _directory = Directory.CreateTempSubdirectory("agentharness-bench-").FullName;
        _sqlite = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = System.IO.Path.Combine(_directory, "add.db") });
        _sqliteReport = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = System.IO.Path.Combine(_directory, "report.db") });
        foreach (var record in _records)
        {
            _sqliteReport.Add(record);
        }

        _sqliteReport.FlushAsync().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _sqlite.Dispose();
        _sqliteReport.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void Add_InMemory()
    {
        for (var i = 0; i < Batch; i++)
        {
            _memory.Add(_records[i]);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void AddAndWrite_Sqlite()
    {
        // The durable write per record: 1,000 queued, then flushed (background transactions of 256).
        for (var i = 0; i < Batch; i++)
        {
            _sqlite.Add(_records[i]);
        }

        _sqlite.FlushAsync().GetAwaiter().GetResult();
    }

    [Benchmark]
    public UsageReport Report_InMemory_10k() => _memory.GetUsageAsync(Week).GetAwaiter().GetResult();

    [Benchmark]
    public UsageReport Report_Sqlite_10k() => _sqliteReport.GetUsageAsync(Week).GetAwaiter().GetResult();

    private static UsageRecord[] CreateRecords(int count)
    {
        string[] agents = ["code-review-agent", "triage-agent", "docs-agent"];
        string[] tasks = ["classify", "review", "summarize"];
        var random = new Random(42);
        var records = new UsageRecord[count];
        for (var i = 0; i < count; i++)
        {
            records[i] = new UsageRecord
            {
                Timestamp = From.AddSeconds(random.Next(0, 7 * 86_400)),
                RunId = "run-" + (i / 10),
                Metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
                {
                    ["agent"] = agents[random.Next(agents.Length)],
                    ["task"] = tasks[random.Next(tasks.Length)],
                    ["branch"] = "main",
                },
                ModelRequested = "openai/gpt-4.1-nano",
                ModelUsed = "gpt-4.1-nano-2025-04-14",
                Provider = "requesty",
                Operation = "chat/completions",
                InputTokens = random.Next(10, 4000),
                OutputTokens = random.Next(1, 500),
                CostUsd = random.Next(1, 100_000) / 100_000_000m,
                CostBasis = CostBasis.Catalog,
                Latency = TimeSpan.FromMilliseconds(random.Next(50, 900)),
                Outcome = UsageOutcome.Succeeded,
                StatusCode = 200,
                Attempts = [new UsageAttempt("requesty", "openai/gpt-4.1-nano", AttemptOutcome.Succeeded, 200, null, TimeSpan.FromMilliseconds(200))],
            };
        }

        return records;
    }
}

/// <summary>
/// What a model call pays to the SQLite ledger: one <c>Add</c>, which only queues the record (the
/// queue is flushed between iterations, outside the measurement, so nothing is dropped).
/// </summary>
[MemoryDiagnoser]
[InvocationCount(2000, 1)]
public class SqliteAddBenchmarks
{
    private readonly UsageRecord _record = new()
    {
        Timestamp = new DateTimeOffset(2026, 5, 1, 9, 0, 0, TimeSpan.Zero),
        Metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["agent"] = "code-review-agent", ["task"] = "classify" },
        ModelRequested = "openai/gpt-4.1-nano",
        Operation = "chat/completions",
        InputTokens = 42,
        OutputTokens = 3,
        CostUsd = 0.0000054m,
        Outcome = UsageOutcome.Succeeded,
    };

    private SqliteUsageLedger _ledger = null!;
    private string _directory = null!;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Directory.CreateTempSubdirectory("agentharness-bench-").FullName;
        _ledger = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = System.IO.Path.Combine(_directory, "add.db") });
    }

    [IterationCleanup]
    public void Flush() => _ledger.FlushAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_ledger.Dropped != 0)
        {
            throw new InvalidOperationException($"{_ledger.Dropped} records were dropped: the measurement would not be of the queued path.");
        }

        _ledger.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark]
    public void Add_Sqlite() => _ledger.Add(_record);
}
