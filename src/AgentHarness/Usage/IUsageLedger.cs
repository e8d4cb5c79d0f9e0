namespace AgentHarness;

/// <summary>
/// Where every logical call's <see cref="UsageRecord"/> ends. The default ledger keeps the most
/// recent records in memory (see <see cref="AgentHarnessOptions.UsageLedgerCapacity"/>); register
/// another implementation before <c>AddAgentHarness</c> to keep them elsewhere.
/// </summary>
/// <remarks>
/// Implementations must be thread safe, and <see cref="Add"/> must neither block nor throw: it runs at
/// the end of every model call. A ledger answers usage queries
/// (<see cref="IUsageSource.GetUsageAsync"/>); one that holds its records in memory can answer with
/// <see cref="UsageReport.FromRecords"/>.
/// </remarks>
public interface IUsageLedger : IUsageSource
{
    /// <summary>Adds the record of a completed call.</summary>
    /// <param name="record">The record.</param>
    void Add(UsageRecord record);

    /// <summary>Returns a snapshot of the records held, oldest first.</summary>
    /// <returns>The records.</returns>
    IReadOnlyList<UsageRecord> GetRecords();
}
