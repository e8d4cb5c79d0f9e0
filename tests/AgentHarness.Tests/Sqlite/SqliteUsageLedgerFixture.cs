using AgentHarness.Sqlite;
using AgentHarness.Tests.Usage;

namespace AgentHarness.Tests.Sqlite;

/// <summary>
/// The sample records written once to two files: one ledger kept open since it wrote them, and one
/// opened anew on a file another ledger wrote and disposed (records that survived a restart).
/// </summary>
public sealed class SqliteUsageLedgerFixture : IAsyncLifetime
{
    private readonly TempDatabase _liveFile = new();
    private readonly TempDatabase _reopenedFile = new();

    internal List<UsageRecord> Samples { get; } = UsageSamples.Create();

    internal SqliteUsageLedger Live { get; private set; } = null!;

    internal SqliteUsageLedger Reopened { get; private set; } = null!;

    internal SqliteUsageLedger Ledger(bool reopened) => reopened ? Reopened : Live;

    public async ValueTask InitializeAsync()
    {
        Live = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = _liveFile.FilePath });
        foreach (var record in Samples)
        {
            Live.Add(record);
        }

        await Live.FlushAsync();

        // Disposing drains the queue: no flush before it.
        await using (var first = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = _reopenedFile.FilePath, BatchSize = 50 }))
        {
            foreach (var record in Samples)
            {
                first.Add(record);
            }
        }

        Reopened = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = _reopenedFile.FilePath });
    }

    public async ValueTask DisposeAsync()
    {
        if (Live is not null)
        {
            await Live.DisposeAsync();
        }

        if (Reopened is not null)
        {
            await Reopened.DisposeAsync();
        }

        _liveFile.Dispose();
        _reopenedFile.Dispose();
    }
}
