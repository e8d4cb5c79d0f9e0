using System.Globalization;
using Microsoft.Data.Sqlite;

namespace AgentHarness.Sqlite.Internal;

/// <summary>The tables of the ledger file, versioned with <c>PRAGMA user_version</c>.</summary>
internal static class LedgerSchema
{
    /// <summary>The schema version this code writes and reads.</summary>
    public const int Version = 2;

    /// <summary>Unix epoch in <see cref="DateTime"/> ticks.</summary>
    public const long UnixEpochTicks = 621_355_968_000_000_000;

    /// <summary>
    /// Version 1. <c>usage_records</c> keeps every field of a <see cref="UsageRecord"/>: the timestamp as
    /// Unix milliseconds (UTC, indexed) plus the 100 ns ticks within the millisecond and the original
    /// offset, so it round-trips exactly; the cost as exact decimal text plus <c>cost_pico</c>, the cost
    /// counted to the picodollar as reports count it, which SQL sums exactly, and <c>cost_scale</c>, the
    /// decimals of that rounded cost, so a sum carries the same decimals as the in-memory report's.
    /// <c>usage_metadata</c> keeps the run metadata, one row per key, keyed by record and lower-case key
    /// so each group-by join is a primary-key lookup.
    /// </summary>
    private const string CreateVersion1 = """
        CREATE TABLE IF NOT EXISTS usage_records (
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
        CREATE INDEX IF NOT EXISTS usage_records_timestamp ON usage_records (timestamp_ms);
        CREATE TABLE IF NOT EXISTS usage_metadata (
            record_id INTEGER NOT NULL,
            key TEXT NOT NULL,
            name TEXT NOT NULL,
            value TEXT,
            PRIMARY KEY (record_id, key)
        ) WITHOUT ROWID;
        """;

    /// <summary>
    /// Version 2 adds the response cache's fields to <c>usage_records</c>: whether the answer came from
    /// the cache, what it saved (exact text, picodollars and decimals, as the cost), its cache key and the
    /// input tokens written to a provider's prompt cache. Each has a default that means "not from the
    /// cache, nothing saved", which is what every version 1 row was.
    /// </summary>
    private static readonly (string Name, string Definition)[] Version2Columns =
    [
        ("from_cache", "INTEGER NOT NULL DEFAULT 0"),
        ("saved_usd", "TEXT NOT NULL DEFAULT '0'"),
        ("saved_pico", "INTEGER NOT NULL DEFAULT 0"),
        ("saved_scale", "INTEGER NOT NULL DEFAULT 0"),
        ("cache_key", "TEXT"),
        ("cache_write_input_tokens", "INTEGER NOT NULL DEFAULT 0"),
    ];

    /// <summary>
    /// Checks the schema and creates it when the file is new, or upgrades it when an older version
    /// wrote it: switches the file to write-ahead logging (queries read while the writer writes) and
    /// creates the tables and adds missing columns in one immediate transaction, so two processes or
    /// connections opening a new or old file at once do not both change it.
    /// A file already at this version is only read, so opening it never waits for another writer.
    /// </summary>
    /// <param name="connection">An open connection to the file.</param>
    /// <param name="setting">The setting that names the file, for the error message.</param>
    /// <param name="path">The file's full path, for the error message.</param>
    /// <param name="writer">Whether the connection is the writer's: it then also gets the durability it writes with.</param>
    /// <exception cref="InvalidOperationException">The file was written by a newer schema version.</exception>
    /// <exception cref="SqliteException">The file is not a database, or cannot be read or written.</exception>
    public static void Initialize(SqliteConnection connection, string setting, string path, bool writer)
    {
        var version = ReadVersion(connection, null);
        ThrowIfNewer(version, setting, path);
        if (writer)
        {
            // With WAL, NORMAL still never corrupts the file; a power loss may lose the last commits only.
            Execute(connection, "PRAGMA synchronous = NORMAL;");
        }

        if (version == Version)
        {
            return;
        }

        Execute(connection, "PRAGMA journal_mode = WAL;");
        using var transaction = connection.BeginTransaction(deferred: false);
        version = ReadVersion(connection, transaction);
        ThrowIfNewer(version, setting, path);
        Execute(connection, CreateVersion1, transaction);
        AddVersion2Columns(connection, transaction);
        if (version < Version)
        {
            Execute(connection, $"PRAGMA user_version = {Version.ToString(CultureInfo.InvariantCulture)};", transaction);
        }

        transaction.Commit();
    }

    /// <summary>
    /// Upgrades a version 1 file (or the version 1 tables just created) in place: adds each version 2
    /// column that <c>PRAGMA table_info</c> does not list, with its default, so old rows read back as
    /// calls not from the cache. It runs inside the caller's immediate transaction, so the columns and
    /// the new <c>user_version</c> commit together (SQLite's ALTER TABLE is transactional), and it is
    /// idempotent: a file whose upgrade was interrupted, or that another connection upgraded meanwhile,
    /// gets only the columns still missing.
    /// </summary>
    private static void AddVersion2Columns(SqliteConnection connection, SqliteTransaction transaction)
    {
        var existing = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "PRAGMA table_info(usage_records);";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                existing.Add(reader.GetString(1));
            }
        }

        foreach (var (name, definition) in Version2Columns)
        {
            if (!existing.Contains(name))
            {
                Execute(connection, $"ALTER TABLE usage_records ADD COLUMN {name} {definition};", transaction);
            }
        }
    }

    private static void ThrowIfNewer(long version, string setting, string path)
    {
        if (version > Version)
        {
            throw new InvalidOperationException(
                $"The usage ledger database '{path}' ({setting}) has schema version {version.ToString(CultureInfo.InvariantCulture)}, "
                + $"written by a newer version of AgentHarness.Sqlite; this version reads schema version {Version.ToString(CultureInfo.InvariantCulture)} at most. "
                + "Upgrade the package, or point the setting to another file.");
        }
    }

    private static long ReadVersion(SqliteConnection connection, SqliteTransaction? transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "PRAGMA user_version;";
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
