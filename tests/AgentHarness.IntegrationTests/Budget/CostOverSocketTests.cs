using AgentHarness.IntegrationTests.Support;
using OpenAI.Chat;

namespace AgentHarness.IntegrationTests.Budget;

/// <summary>Costs and budgets of calls that leave the process through a real socket to a sandbox gateway.</summary>
public sealed class CostOverSocketTests
{
    private const string Model = "openai/gpt-4.1-nano";
    private const string Answer = "The change renames a function and adds error handling.";

    // The embedded catalog's gpt-4.1-nano: $0.10 per million input tokens, $0.40 per million output tokens.
    private const decimal InputPrice = 0.0000001m;
    private const decimal OutputPrice = 0.0000004m;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Cost_StreamedAndWholeAnswersOverSocket_CostTheSameFromTheCatalog()
    {
        await using var server = await SandboxServer.StartAsync(cancellationToken: Ct);
        server.Sandbox.Model(Model).Reply(Answer);
        using var host = HarnessHost.WithGateway(server);
        using var run = host.Harness.BeginRun("code-review-agent", r => r.MaxCostUsd = 1m);
        var client = host.Harness.GetChatClient(Model);

        await client.CompleteChatAsync([new UserChatMessage("Summarize the diff.")], cancellationToken: Ct);
        await foreach (var _ in client.CompleteChatStreamingAsync([new UserChatMessage("Summarize the diff.")], cancellationToken: Ct))
        {
        }

        var records = host.Ledger.GetRecords();
        Assert.Equal([false, true], records.Select(static r => r.Streaming));
        var request = server.Sandbox.Requests[0];
        var expected = (request.InputTokens * InputPrice) + (AgentHarness.Testing.SandboxTokens.Count(Answer) * OutputPrice);
        Assert.All(records, r => Assert.Equal((CostBasis.Catalog, expected), (r.CostBasis, r.CostUsd)));
        Assert.Equal(2 * expected, run.SpentUsd);
        Assert.Equal(0m, run.ReservedUsd);
    }

    [Fact]
    public async Task Cost_GatewayReportsUsageCostOverSocket_ItIsTheRecordedCost()
    {
        await using var server = await SandboxServer.StartAsync(cancellationToken: Ct);
        // A gateway's own rates (here three times the catalog's, well within the 100-fold plausibility bound) win.
        server.Sandbox.Model(Model).Reply(Answer).ReportCost(3 * InputPrice, 3 * OutputPrice);
        using var host = HarnessHost.WithGateway(server);

        await host.Harness.GetChatClient(Model).CompleteChatAsync([new UserChatMessage("Summarize the diff.")], cancellationToken: Ct);

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(CostBasis.Reported, record.CostBasis);
        Assert.Equal((record.InputTokens * 3 * InputPrice) + (record.OutputTokens * 3 * OutputPrice), record.CostUsd);
    }

    [Fact]
    public async Task Budget_WorstCaseOverTheRunCap_NothingReachesTheSocket()
    {
        await using var server = await SandboxServer.StartAsync(cancellationToken: Ct);
        server.Sandbox.Model(Model).Reply(Answer);
        using var host = HarnessHost.WithGateway(server);
        using var run = host.Harness.BeginRun("code-review-agent", r => r.MaxCostUsd = 0.0001m);

        // Without a maximum the worst case is the model's 32,768 output tokens: $0.0131, over the cap.
        var ex = await Assert.ThrowsAsync<BudgetExceededException>(() => host.Harness.GetChatClient(Model).CompleteChatAsync([new UserChatMessage("Summarize the diff.")], cancellationToken: Ct));

        Assert.Empty(server.Sandbox.Requests);
        Assert.Equal("MaxCostUsd", ex.Rule);
        Assert.True(ex.EstimateUsd >= 32_768 * OutputPrice);
    }
}
