using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace AgentHarness.AgentFramework.Tests;

public sealed class AgentHarnessAIAgentBuilderExtensionsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task UseAgentHarnessRun_AgentWithTool_BothRoundTripsAreRecordedInOneRunWithTheAgentsName()
    {
        using var agents = new ReviewAgents();
        var session = await agents.Agent.CreateSessionAsync(Ct);

        var response = await agents.Agent.RunAsync("Review the change.", session, cancellationToken: Ct);

        Assert.Equal("The rename needs an alias.", response.Text);
        Assert.Equal(1, agents.ToolCalls);
        var records = agents.Records;
        Assert.Equal(2, records.Count);
        Assert.All(records, static r => Assert.Equal("code-review-agent", r.Agent));
        Assert.All(records, static r => Assert.Equal(UsageOutcome.Succeeded, r.Outcome));
        Assert.Single(records.Select(static r => r.RunId).Distinct());
        Assert.NotNull(records[0].RunId);
        Assert.True(records[0].Metadata.TryGetValue("session", out var sessionId));
        Assert.Equal(sessionId, records[1].Metadata["session"]);

        var usage = response.GetHarnessUsage();
        Assert.NotNull(usage);
        Assert.Equal(records, usage.Calls);
        Assert.Equal(records[0].RunId, usage.RunId);
        Assert.Equal("code-review-agent", usage.Agent);
        Assert.Equal(records[0].CostUsd + records[1].CostUsd, usage.CostUsd);
        Assert.True(usage.CostUsd > 0m);

        // The run ended with the agent run.
        Assert.Null(AgentRun.Current);
    }

    [Fact]
    public async Task UseAgentHarnessRun_SameSessionTwice_RecordsTheSameSessionIdInTwoRuns()
    {
        using var agents = new ReviewAgents();
        var session = await agents.Agent.CreateSessionAsync(Ct);

        await agents.Agent.RunAsync("Review the change.", session, cancellationToken: Ct);
        await agents.Agent.RunAsync("And again.", session, cancellationToken: Ct);

        var records = agents.Records;
        Assert.Equal(2, records.Select(static r => r.RunId).Distinct().Count());
        Assert.Single(records.Select(static r => r.Metadata["session"]).Distinct());
    }

    [Fact]
    public async Task UseAgentHarnessRun_CapRefusesTheSecondRoundTrip_ThrowsBudgetExceededAndSendsNothing()
    {
        using var agents = new ReviewAgents(static o => o.MaxCostUsd = 0.005m);

        var refusal = await Assert.ThrowsAsync<BudgetExceededException>(() => agents.Agent.RunAsync("Review the change.", cancellationToken: Ct));

        // The first round trip was paid and asked for the tool, which ran; the second was refused unsent.
        Assert.Equal(1, agents.ToolCalls);
        Assert.Single(agents.Sandbox.Requests);
        var records = agents.Records;
        Assert.Equal([UsageOutcome.Succeeded, UsageOutcome.Rejected], records.Select(static r => r.Outcome));
        Assert.Equal(0m, records[1].CostUsd);
        Assert.Equal(0.005m, refusal.LimitUsd);
        Assert.Equal(records[0].CostUsd, refusal.SpentUsd);
        Assert.All(records, static r => Assert.Equal("code-review-agent", r.Agent));
    }

    [Fact]
    public async Task UseAgentHarnessRun_CapRefusesTheFirstRoundTrip_TheToolIsNeverInvoked()
    {
        using var agents = new ReviewAgents(static o => o.MaxCostUsd = 0.0005m);

        await Assert.ThrowsAsync<BudgetExceededException>(() => agents.Agent.RunAsync("Review the change.", cancellationToken: Ct));

        Assert.Equal(0, agents.ToolCalls);
        Assert.Empty(agents.Sandbox.Requests);
        Assert.Equal(UsageOutcome.Rejected, Assert.Single(agents.Records).Outcome);
    }

    [Fact]
    public async Task UseAgentHarnessRun_RunAlreadyOpen_RecordsTheRoundTripsInThatRun()
    {
        using var agents = new ReviewAgents(static o => o.MaxCostUsd = 0.0005m);
        using var outer = agents.Harness.BeginRun("nightly-review", static r => r.Branch = "main");

        var response = await agents.Agent.RunAsync("Review the change.", cancellationToken: Ct);

        // The outer run has no cap, so the middleware's is not used.
        Assert.Equal(2, outer.Calls.Count);
        Assert.All(agents.Records, r => Assert.Equal(outer.RunId, r.RunId));
        Assert.All(agents.Records, static r => Assert.Equal("nightly-review", r.Agent));
        Assert.Equal(outer.RunId, response.GetHarnessUsage()!.RunId);
        Assert.Same(outer, AgentRun.Current);
    }

    [Fact]
    public async Task UseAgentHarnessRun_Streaming_BothRoundTripsInOneRunAndTheLastUpdateCarriesTheUsage()
    {
        using var agents = new ReviewAgents();

        var updates = new List<AgentResponseUpdate>();
        await foreach (var update in agents.Agent.RunStreamingAsync("Review the change.", cancellationToken: Ct))
        {
            // The consumer's own flow has no run: the middleware's is current only inside the stream's moves.
            Assert.Null(AgentRun.Current);
            updates.Add(update);
        }

        var records = agents.Records;
        Assert.Equal(2, records.Count);
        Assert.Single(records.Select(static r => r.RunId).Distinct());
        Assert.NotNull(records[0].RunId);
        Assert.All(records, static r => Assert.True(r.Streaming));
        var usage = updates[^1].GetHarnessUsage();
        Assert.NotNull(usage);
        Assert.Equal(records, usage.Calls);
        Assert.All(updates[..^1], static u => Assert.Null(u.GetHarnessUsage()));

        var response = updates.ToAgentResponse();
        Assert.Equal("The rename needs an alias.", response.Text);
        Assert.Equal(usage, response.GetHarnessUsage());
    }

    [Fact]
    public async Task UseAgentHarnessRun_StreamingCapRefusesTheSecondRoundTrip_ThrowsBudgetExceeded()
    {
        using var agents = new ReviewAgents(static o => o.MaxCostUsd = 0.005m);

        await Assert.ThrowsAsync<BudgetExceededException>(async () =>
        {
            await foreach (var update in agents.Agent.RunStreamingAsync("Review the change.", cancellationToken: Ct))
            {
                _ = update;
            }
        });

        Assert.Equal(1, agents.ToolCalls);
        Assert.Single(agents.Sandbox.Requests);
    }

    [Fact]
    public void UseAgentHarnessRun_NoHarnessInTheServiceProvider_BuildThrows()
    {
        var agent = new ChatClientAgent(new NoChatClient(), name: "a");

        var error = Assert.Throws<InvalidOperationException>(() => agent.AsBuilder().UseAgentHarnessRun().Build());

        Assert.Contains("IAgentHarness", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UseAgentHarnessRun_NegativeCap_ThrowsNamingTheSettingAndValue()
    {
        var builder = new ChatClientAgent(new NoChatClient(), name: "a").AsBuilder();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => builder.UseAgentHarnessRun(static o => o.MaxCostUsd = -1m));

        Assert.Contains("AgentHarnessRunOptions.MaxCostUsd", error.Message, StringComparison.Ordinal);
        Assert.Contains("-1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UseAgentHarnessRun_CheckpointCallbackAsksAModel_ItsCallIsNotInTheAgentsUsage()
    {
        ReviewAgents? agents = null;
        using var created = new ReviewAgents(o => o.ConfigureRun = r => r.AddSpendCheckpoint(0.005m, async (_, ct) =>
        {
            // An approver asked by a model, as the README allows: its call is made outside the run.
            await agents!.Harness.GetChatClient(ReviewAgents.Model).CompleteChatAsync([new OpenAI.Chat.UserChatMessage("Approve more spend?")], cancellationToken: ct);
            return SpendCheckpointDecision.Continue;
        }));
        agents = created;

        var response = await agents.Agent.RunAsync("Review the change.", cancellationToken: Ct);

        var records = agents.Records;
        Assert.Equal(3, records.Count);
        var approver = Assert.Single(records, static r => r.RunId is null);
        var round = records.Where(static r => r.RunId is not null).ToList();
        Assert.Equal(2, round.Count);
        var usage = response.GetHarnessUsage();
        Assert.NotNull(usage);
        Assert.Equal(round, usage.Calls);
        Assert.DoesNotContain(approver, usage.Calls);
        Assert.Equal(round.Sum(static r => r.CostUsd), usage.CostUsd);
    }

    [Fact]
    public async Task UseAgentHarnessRun_ConfigureRun_SetsTheOpenedRunsMetadata()
    {
        using var agents = new ReviewAgents(static o => { o.Agent = "reviewer-bot"; o.ConfigureRun = static r => r.Branch = "feat/auth"; });

        await agents.Agent.RunAsync("Review the change.", cancellationToken: Ct);

        Assert.All(agents.Records, static r => Assert.Equal("reviewer-bot", r.Agent));
        Assert.All(agents.Records, static r => Assert.Equal("feat/auth", r.Metadata["branch"]));
    }

    private sealed class NoChatClient : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
