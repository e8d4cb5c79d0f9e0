namespace AgentHarness.Sqlite;

/// <summary>Options of the <see cref="SqliteUsageLedger"/>, conventionally bound from the <c>AgentHarness:Sqlite</c> section.</summary>
public sealed class SqliteUsageLedgerOptions
{
    /// <summary>
    /// Gets or sets the path of the database file, absolute or relative to the current directory.
    /// The file and its directory are created when missing, when the first records are written (or a
    /// report is asked for); a file that cannot be opened then is logged and its records counted in
    /// <see cref="SqliteUsageLedger.Failed"/>, and never fails the harness. Required.
    /// </summary>
    /// <value>The default value is empty, which is not valid: a path must be set.</value>
    public string Path { get; set; } = string.Empty;

    /// <summary>
    /// Gets or sets how many records may wait to be written. When the queue is full (the disk cannot
    /// keep up, or the database is locked by another process), further records are dropped and counted
    /// in <see cref="SqliteUsageLedger.Dropped"/>, so a model call never waits for the ledger.
    /// </summary>
    /// <value>The default value is 10,000.</value>
    public int QueueCapacity { get; set; } = 10_000;

    /// <summary>Gets or sets the most records written in one transaction.</summary>
    /// <value>The default value is 256.</value>
    public int BatchSize { get; set; } = 256;
}
