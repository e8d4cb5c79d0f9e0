using AgentHarness;
using AgentHarness.AgentFramework;
using AgentHarness.AgentFramework.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Agents.AI;

/// <summary>Adds the AgentHarness agent run middleware to an <see cref="AIAgentBuilder"/>.</summary>
public static class AgentHarnessAIAgentBuilderExtensions
{
    /// <summary>
    /// Makes each run of the agent an AgentHarness run: every model round trip of its tool loop is tagged with the run's
    /// metadata, recorded in it and held to its cap, and the response carries what the agent run spent
    /// (<see cref="AgentResponseUsageExtensions.GetHarnessUsage(AgentResponse)"/>). The harness is resolved from the
    /// builder's service provider.
    /// </summary>
    /// <remarks>
    /// <para>
    /// When an <see cref="AgentRun"/> is already open in the caller's flow, the agent run's calls are made in it (its
    /// metadata, its cap) and the options are not used. Otherwise a run is opened for the agent run and ended with
    /// it: its agent is <see cref="AgentHarnessRunOptions.Agent"/>, else the agent's <c>Name</c>, else its <c>Id</c>;
    /// its cap is <see cref="AgentHarnessRunOptions.MaxCostUsd"/>; the Agent Framework session's id is its
    /// <c>session</c> metadata (the harness keeps an id in the session's state, serialized with it), and a chat
    /// client session's service conversation id its <c>conversation</c> metadata.
    /// </para>
    /// <para>
    /// A model round trip that the cap (or any budget) cannot pay is refused before it is sent, and the agent run
    /// ends with the <see cref="BudgetExceededException"/>. The refusal comes on the model call, before the tool
    /// calls its answer would have asked for: no tool runs for a step that could not be paid.
    /// </para>
    /// </remarks>
    /// <param name="builder">The agent builder.</param>
    /// <param name="configure">Sets the options of the runs the middleware opens, or <see langword="null"/>.</param>
    /// <returns>The builder, to chain calls.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="AgentHarnessRunOptions.MaxCostUsd"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">When the agent is built: its service provider has no <see cref="IAgentHarness"/>.</exception>
    /// <example>
    /// <code>
    /// AIAgent agent = reviewer.AsAIAgent(name: "code-review-agent", tools: [getDiff])
    ///     .AsBuilder()
    ///     .UseAgentHarnessRun(o => o.MaxCostUsd = 0.25m)
    ///     .Build(services);
    /// </code>
    /// </example>
    public static AIAgentBuilder UseAgentHarnessRun(this AIAgentBuilder builder, Action<AgentHarnessRunOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = Options(configure);
        return builder.Use((inner, services) => new HarnessRunAgent(
            inner,
            services.GetService<IAgentHarness>() ?? throw new InvalidOperationException(
                "UseAgentHarnessRun found no IAgentHarness in the agent builder's service provider: pass the application's provider to the agent builder's Build(services)."),
            options));
    }

    private static AgentHarnessRunOptions Options(Action<AgentHarnessRunOptions>? configure)
    {
        var options = new AgentHarnessRunOptions();
        configure?.Invoke(options);
        if (options.MaxCostUsd is < 0m)
        {
            throw new ArgumentOutOfRangeException(
                nameof(configure),
                options.MaxCostUsd,
                $"UseAgentHarnessRun: AgentHarnessRunOptions.MaxCostUsd must be zero or more, or null for no cap; it is {options.MaxCostUsd}.");
        }

        if (options.Agent is { } agent && string.IsNullOrWhiteSpace(agent))
        {
            throw new ArgumentException($"UseAgentHarnessRun: AgentHarnessRunOptions.Agent must not be empty; it is '{agent}'. Leave it null for the agent's own name.", nameof(configure));
        }

        return options;
    }
}
