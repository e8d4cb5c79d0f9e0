using System.Runtime.CompilerServices;
using AgentHarness.Pipeline.Internal;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;

namespace AgentHarness.AgentFramework.Internal;

/// <summary>
/// The agent run middleware: each agent run is made in an <see cref="AgentRun"/> (the one open in the caller's flow, or
/// one it opens for the run), and its calls through the harness are collected for the response
/// (<see cref="AgentRunUsage"/>).
/// </summary>
/// <remarks>
/// Nothing here decides about a round trip: the harness's budget stage refuses a model call whose worst case does not
/// fit the run's cap before it is sent, and the refusal (<see cref="BudgetExceededException"/>) ends the agent run as
/// it comes up through the chat client's function invocation, before the tool calls that the refused answer would have
/// asked for.
/// </remarks>
internal sealed class HarnessRunAgent(AIAgent innerAgent, IAgentHarness harness, AgentHarnessRunOptions runOptions) : DelegatingAIAgent(innerAgent)
{
    /// <summary>The key of the harness's own session id in an Agent Framework session's state.</summary>
    internal const string SessionStateKey = "agentharness.session";

    /// <summary>The run metadata key of the session id.</summary>
    internal const string SessionMetadata = "session";

    /// <summary>The run metadata key of a chat client session's service conversation id.</summary>
    internal const string ConversationMetadata = "conversation";

    protected override async Task<AgentResponse> RunCoreAsync(
        IEnumerable<ChatMessage> messages,
        AgentSession? session = null,
        AgentRunOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        using var opened = Open(session, out var run);
        AgentResponse response;
        UsageCapture capture;
        using (UsageCapture.Open(out capture))
        {
            response = await base.RunCoreAsync(messages, session, options, cancellationToken).ConfigureAwait(false);
        }

        response.AdditionalProperties = AgentResponseUsageExtensions.With(response.AdditionalProperties, Usage(run, capture));
        return response;
    }

    protected override async IAsyncEnumerable<AgentResponseUpdate> RunCoreStreamingAsync(
        IEnumerable<ChatMessage> messages,
        AgentSession? session = null,
        AgentRunOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var opened = Open(session, out var run);
        UsageCapture capture;
        ExecutionContext? flow;
        using (UsageCapture.Open(out capture))
        {
            flow = ExecutionContext.Capture();
        }

        AgentResponseUpdate? last = null;
        await using (var updates = new FlowEnumerator<AgentResponseUpdate>(flow, base.RunCoreStreamingAsync(messages, session, options, cancellationToken).GetAsyncEnumerator(cancellationToken)))
        {
            while (await updates.MoveNextAsync().ConfigureAwait(false))
            {
                last = updates.Current;
                yield return last;
            }
        }

        // Its own update, naming no message, so that ToAgentResponse keeps it on the response.
        yield return new AgentResponseUpdate
        {
            AgentId = last?.AgentId,
            ResponseId = last?.ResponseId,
            CreatedAt = last?.CreatedAt,
            AdditionalProperties = AgentResponseUsageExtensions.With(null, Usage(run, capture)),
        };
    }

    private static AgentRunUsage Usage(AgentRun run, UsageCapture capture) => new(run.RunId, run.Agent, capture.Records);

    private static string? SessionId(AgentSession? session)
    {
        if (session is null)
        {
            return null;
        }

        // Agent Framework sessions have no id of their own: the harness keeps one in the session's state, which is
        // serialized with the session, so a conversation resumed later is recorded under the same id.
        if (session.StateBag.TryGetValue<string>(SessionStateKey, out var id) && !string.IsNullOrEmpty(id))
        {
            return id;
        }

        id = Guid.NewGuid().ToString("N");
        session.StateBag.SetValue(SessionStateKey, id);
        return id;
    }

    /// <summary>Opens a run for the agent run, unless one is open in the caller's flow; <paramref name="run"/> is the run in effect.</summary>
    private AgentRun? Open(AgentSession? session, out AgentRun run)
    {
        if (AgentRun.Current is { } open)
        {
            run = open;
            return null;
        }

        var sessionId = SessionId(session);
        var conversation = (session as ChatClientAgentSession)?.ConversationId;
        run = harness.BeginRun(runOptions.Agent ?? Name ?? Id, r =>
        {
            r.MaxCostUsd = runOptions.MaxCostUsd;
            if (sessionId is not null)
            {
                r.SetExtra(SessionMetadata, sessionId);
            }

            if (conversation is not null)
            {
                r.SetExtra(ConversationMetadata, conversation);
            }

            runOptions.ConfigureRun?.Invoke(r);
        });
        return run;
    }
}
