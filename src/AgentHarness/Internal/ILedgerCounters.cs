namespace AgentHarness.Internal;

/// <summary>A usage ledger that counts the records it lost, for the harness's metrics: the SQLite ledger's write queue.</summary>
internal interface ILedgerCounters
{
    /// <summary>Gets how many records were dropped before being written (a full queue, a disposed ledger).</summary>
    long Dropped { get; }

    /// <summary>Gets how many records could not be written.</summary>
    long Failed { get; }
}
