using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;

namespace AgentHarness.AgentFramework;

/// <summary>Reads what an agent run spent through the harness off its <see cref="AgentResponse"/>.</summary>
/// <remarks>
/// <para>
/// <c>UseAgentHarnessRun</c> puts an <see cref="AgentRunUsage"/> in the response's <c>AdditionalProperties</c> under
/// <see cref="UsageKey"/>: on the <see cref="AgentResponse"/>, and on the last <see cref="AgentResponseUpdate"/> of a
/// stream (an update of its own, after the last one, without contents). The response's
/// <see cref="AgentResponse.Usage"/> stays the tokens the chat client reported.
/// </para>
/// <para>
/// The accessors return <see langword="null"/> for a response of an agent without the middleware, for the other
/// updates of a stream, and for a stream that was not read to its end. The response's properties may also hold the
/// last round trip's own <see cref="UsageRecord"/> under <see cref="HarnessUsageExtensions.UsageKey"/>, when the agent's
/// chat client was registered with <c>AddChatClient</c>.
/// </para>
/// </remarks>
public static class AgentResponseUsageExtensions
{
    /// <summary>The key of the agent run's <see cref="AgentRunUsage"/> in a response's <c>AdditionalProperties</c>.</summary>
    public const string UsageKey = "agentharness.agent_usage";

    /// <summary>Gets what the agent run behind a response spent through the harness.</summary>
    /// <param name="response">The agent's response.</param>
    /// <returns>The agent run's usage, or <see langword="null"/> when the agent has no <c>UseAgentHarnessRun</c>.</returns>
    public static AgentRunUsage? GetHarnessUsage(this AgentResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        return Read(response.AdditionalProperties);
    }

    /// <summary>Gets what a streamed agent run spent through the harness, which the stream's last update carries.</summary>
    /// <param name="update">An update of the agent's stream.</param>
    /// <returns>The agent run's usage on the stream's last update; <see langword="null"/> on the others.</returns>
    public static AgentRunUsage? GetHarnessUsage(this AgentResponseUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        return Read(update.AdditionalProperties);
    }

    internal static AdditionalPropertiesDictionary With(AdditionalPropertiesDictionary? properties, AgentRunUsage usage)
    {
        // A copy: the response's dictionary may be the last chat response's own.
        var copy = properties is null ? [] : new AdditionalPropertiesDictionary(properties);
        copy[UsageKey] = usage;
        return copy;
    }

    private static AgentRunUsage? Read(AdditionalPropertiesDictionary? properties) =>
        properties is not null && properties.TryGetValue(UsageKey, out var value) ? value as AgentRunUsage : null;
}
