namespace AgentHarness.AgentFramework;

/// <summary>
/// What one agent run (one <c>RunAsync</c> or <c>RunStreamingAsync</c> of an agent with <c>UseAgentHarnessRun</c>)
/// spent through the harness: each model round trip's <see cref="UsageRecord"/>, and their cost together.
/// </summary>
/// <param name="RunId">The <see cref="AgentRun.RunId"/> the round trips were recorded in: the run the middleware opened, or the one already open.</param>
/// <param name="Agent">The agent the run records.</param>
/// <param name="Calls">The records of the agent run's calls through the harness, in the order they ended.</param>
public sealed record AgentRunUsage(string RunId, string Agent, IReadOnlyList<UsageRecord> Calls)
{
    /// <summary>Gets what the calls cost together, in US dollars: the exact sum of their <see cref="UsageRecord.CostUsd"/>.</summary>
    public decimal CostUsd => Calls.Sum(static c => c.CostUsd);
}
