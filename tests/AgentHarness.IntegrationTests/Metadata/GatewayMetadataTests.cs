using AgentHarness.IntegrationTests.Support;
using OpenAI.Chat;

namespace AgentHarness.IntegrationTests.Metadata;

/// <summary>Run metadata and provider keys as they arrive on the wire, across retries and providers.</summary>
public sealed class GatewayMetadataTests
{
    private const string DirectKey = "key-openai";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CompleteChatAsync_GatewayRetriesAndDirectProvider_MetadataAndKeysOnlyWhereTheyBelong()
    {
        await using var gateway = await SandboxServer.StartAsync(cancellationToken: Ct);
        await using var direct = await SandboxServer.StartAsync(cancellationToken: Ct);
        gateway.Sandbox.Model("anthropic/claude-sonnet-4-5").FailWith(503, retryAfter: null, times: 1);
        using var host = HarnessHost.Create(builder =>
        {
            HarnessHost.AddGateway(builder, gateway);
            builder.AddProvider("openai", p =>
            {
                p.BaseUrl = direct.BaseUrl;
                p.ApiKey = DirectKey;
                p.RetryBaseDelay = TimeSpan.Zero;
            });
        });

        using var run = host.Harness.BeginRun("code-review-agent", r => r.Branch = "feat/auth-refactor");
        using (run.BeginTask("review"))
        {
            await host.Harness.GetChatClient("anthropic/claude-sonnet-4-5").CompleteChatAsync([new UserChatMessage("Review.")], cancellationToken: Ct);
            await host.Harness.GetChatClient("openai/gpt-4.1-nano").CompleteChatAsync([new UserChatMessage("Classify.")], cancellationToken: Ct);
        }

        // The 503 and its retry: each attempt carries the metadata once and the gateway's key only.
        var gatewayRequests = gateway.Sandbox.Requests;
        Assert.Equal(2, gatewayRequests.Count);
        Assert.All(gatewayRequests, request =>
        {
            Assert.Equal("anthropic/claude-sonnet-4-5", request.Model);
            Assert.Equal(["code-review-agent"], request.Headers["X-Requesty-Agent"]);
            Assert.Equal(["feat/auth-refactor"], request.Headers["X-Requesty-Branch"]);
            Assert.Equal(["review"], request.Headers["X-Requesty-Task"]);
            Assert.Equal(["Bearer " + HarnessHost.GatewayKey], request.Headers["Authorization"]);
        });

        var directRequest = Assert.Single(direct.Sandbox.Requests);
        Assert.Equal("gpt-4.1-nano", directRequest.Model);
        Assert.DoesNotContain(directRequest.Headers.Keys, name => name.StartsWith("X-Requesty-", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(["Bearer " + DirectKey], directRequest.Headers["Authorization"]);

        var records = host.Ledger.GetRecords();
        Assert.Equal(2, records.Count);
        Assert.Equal([503, 200], records[0].Attempts.Select(a => a.StatusCode));
        Assert.Equal(UsageOutcome.Succeeded, records[0].Outcome);
        Assert.Equal("requesty", records[0].Provider);
        Assert.Equal("openai", records[1].Provider);
        Assert.All(records, record => Assert.Equal("review", record.Task));
    }
}
