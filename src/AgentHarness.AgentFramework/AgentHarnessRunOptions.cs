namespace AgentHarness.AgentFramework;

/// <summary>How <c>UseAgentHarnessRun</c> opens an <see cref="AgentRun"/> for an agent run.</summary>
/// <remarks>
/// These options apply only to a run the middleware opens. When an <see cref="AgentRun"/> is already open in the
/// caller's flow, the agent run's calls belong to that run, with its metadata and its cap, and these options are not
/// used.
/// </remarks>
public sealed class AgentHarnessRunOptions
{
    /// <summary>
    /// Gets or sets the agent name the run records, or <see langword="null"/> (the default) for the agent's own
    /// <c>Name</c>, else its <c>Id</c>.
    /// </summary>
    public string? Agent { get; set; }

    /// <summary>
    /// Gets or sets the most each agent run may spend, in US dollars, or <see langword="null"/> (the default) for no
    /// cap (<see cref="AgentRun.MaxCostUsd"/>). A model round trip whose worst case does not fit is refused before it
    /// is sent, and the agent run ends with a <see cref="BudgetExceededException"/>.
    /// </summary>
    public decimal? MaxCostUsd { get; set; }

    /// <summary>
    /// Gets or sets a delegate that sets more of the run's metadata (branch, environment, extra keys) when it opens,
    /// or <see langword="null"/>.
    /// </summary>
    public Action<AgentRun>? ConfigureRun { get; set; }
}
