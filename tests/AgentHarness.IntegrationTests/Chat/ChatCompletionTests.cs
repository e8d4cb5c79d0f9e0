using System.ClientModel;
using AgentHarness.IntegrationTests.Support;
using AgentHarness.Testing;
using OpenAI.Chat;

namespace AgentHarness.IntegrationTests.Chat;

/// <summary>Whole (not streamed) chat completions through the harness to a sandbox behind a real socket.</summary>
public sealed class ChatCompletionTests
{
    private const string Model = "openai/gpt-4.1-nano";
    private const string Snapshot = "gpt-4.1-nano-2025-04-14";
    private const string Answer = "The change is a bug fix.";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CompleteChatAsync_OverSocket_ReturnsAnswerAndRecordsSandboxUsage()
    {
        await using var server = await SandboxServer.StartAsync(cancellationToken: Ct);
        server.Sandbox.Model(Model).Reply(Answer).AnswerAs(Snapshot);
        using var host = HarnessHost.WithGateway(server);
        using var run = host.Harness.BeginRun("code-review-agent", r => r.Branch = "feat/auth-refactor");

        ChatCompletion completion = await host.Harness.GetChatClient(Model).CompleteChatAsync(
            [new SystemChatMessage("Classify the change."), new UserChatMessage("diff --git a/src/Auth.cs b/src/Auth.cs")],
            cancellationToken: Ct);

        Assert.Equal(Answer, Assert.Single(completion.Content).Text);
        var request = Assert.Single(server.Sandbox.Requests);
        Assert.Equal("/v1/chat/completions", request.Path);
        Assert.Equal(Model, request.Model);

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Succeeded, record.Outcome);
        Assert.Equal(request.InputTokens, record.InputTokens);
        Assert.Equal(SandboxTokens.Count(Answer), record.OutputTokens);
        Assert.Equal(completion.Usage.InputTokenCount, record.InputTokens);
        Assert.Equal(completion.Usage.OutputTokenCount, record.OutputTokens);
        Assert.Equal(Snapshot, record.ModelUsed);
        Assert.Equal(Model, record.ModelRequested);
        Assert.Equal("requesty", record.Provider);
        Assert.Equal("chat/completions", record.Operation);
        Assert.Equal(200, record.StatusCode);
        Assert.False(record.Streaming);
        Assert.Equal(run.RunId, record.RunId);
        Assert.Equal(200, Assert.Single(record.Attempts).StatusCode);
    }

    // A synchronous call goes through the same call path as an asynchronous one (RoutingHandler serves Send):
    // routed, recorded, with the provider's key rather than the SDK's placeholder.
    [Fact]
    public async Task CompleteChat_SynchronousOverSocket_IsRoutedAndRecorded()
    {
        await using var server = await SandboxServer.StartAsync(cancellationToken: Ct);
        server.Sandbox.Model(Model).Reply(Answer);
        using var host = HarnessHost.WithGateway(server);

        ChatCompletion completion = host.Harness.GetChatClient(Model).CompleteChat([new UserChatMessage("Hi")], cancellationToken: Ct);

        Assert.Equal(Answer, Assert.Single(completion.Content).Text);
        var request = Assert.Single(server.Sandbox.Requests);
        Assert.Equal(["Bearer " + HarnessHost.GatewayKey], request.Headers["Authorization"]);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Succeeded, record.Outcome);
        Assert.Equal(request.InputTokens, record.InputTokens);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CompleteChat_AnswerShorterThanItsContentLength_TheClientsErrorNamingTheConnectionFailure(bool synchronous)
    {
        // The server promises 500 bytes more than it sends, then closes the connection.
        await using var server = ShortBodyServer.Start("""{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m1","choices":[""");
        using var host = HarnessHost.Create(builder => builder.AddProvider("a", p =>
        {
            p.BaseUrl = server.BaseUrl;
            p.ApiKey = "key-a";
            p.MaxRetries = 0;
        }).Configure(static o => o.Catalog.UnpricedModels = UnpricedModelHandling.Allow));
        var client = host.Harness.GetChatClient("a/m1");

        var ex = await Assert.ThrowsAsync<ClientResultException>(async () =>
        {
            if (synchronous)
            {
                client.CompleteChat([new UserChatMessage("Review this diff.")], cancellationToken: Ct);
            }
            else
            {
                await client.CompleteChatAsync([new UserChatMessage("Review this diff.")], cancellationToken: Ct);
            }
        });

        const string Message = "Model 'm1' via 'a' did not answer: connection failed (ResponseEnded).";
        Assert.Equal(Message, Assert.IsType<HttpRequestException>(ex.InnerException).Message);
        Assert.Equal(1, server.Requests);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Failed, Message), (record.Outcome, record.Error));
    }
}
