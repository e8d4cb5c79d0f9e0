namespace AgentHarness;

/// <summary>The period a budget rule's limit applies to. Hours, days and months are UTC calendar periods.</summary>
public enum BudgetWindow
{
    /// <summary>Each agent run, from <see cref="IAgentHarness.BeginRun"/> to its end.</summary>
    Run,

    /// <summary>Each UTC clock hour.</summary>
    Hour,

    /// <summary>Each UTC calendar day.</summary>
    Day,

    /// <summary>Each UTC calendar month.</summary>
    Month,
}

/// <summary>
/// A spending limit on the calls that share one value of a dimension (an agent, a customer, a
/// team, ...) over a window. Before each attempt the harness reserves the attempt's worst-case cost
/// against every rule that applies, and refuses the call with a <see cref="BudgetExceededException"/>
/// when one has no room left.
/// </summary>
public sealed class BudgetRuleOptions
{
    /// <summary>
    /// Gets or sets what the limit is per: <c>global</c> (every call), <c>agent</c>, <c>task</c>,
    /// <c>branch</c>, <c>environment</c>, <c>customer</c>, <c>team</c>, <c>repo</c>, <c>user</c>, or
    /// <c>extra.&lt;name&gt;</c> for an extra run key. A call without that metadata is not limited by the rule.
    /// </summary>
    /// <value>The default value is <c>global</c>.</value>
    public string Dimension { get; set; } = "global";

    /// <summary>
    /// Gets or sets the one value the rule limits, for example the customer <c>acme</c>; when
    /// <see langword="null"/>, every value has a limit of its own.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? Value { get; set; }

    /// <summary>Gets or sets the period the limit applies to.</summary>
    /// <value>The default value is <see cref="BudgetWindow.Day"/>.</value>
    public BudgetWindow Window { get; set; } = BudgetWindow.Day;

    /// <summary>Gets or sets the most that may be spent in one window, in US dollars; greater than zero.</summary>
    /// <value>The default value is 0, which is refused when the options are validated: a rule needs a limit.</value>
    public decimal LimitUsd { get; set; }
}
