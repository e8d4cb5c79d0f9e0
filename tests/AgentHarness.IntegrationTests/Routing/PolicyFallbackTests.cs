using System.Text;
using AgentHarness.IntegrationTests.Support;
using OpenAI.Chat;

namespace AgentHarness.IntegrationTests.Routing;

/// <summary>A policy failing over between two real servers: the primary answers 503, the fallback answers.</summary>
public sealed class PolicyFallbackTests
{
    private const string Answer = "The fallback reviewed the change.";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static HarnessHost Create(SandboxServer primary, SandboxServer fallback) => HarnessHost.Create(builder => builder
        .AddProvider("primary", p =>
        {
            p.BaseUrl = primary.BaseUrl;
            p.ApiKey = "key-primary";
        })
        .AddProvider("fallback", p =>
        {
            p.BaseUrl = fallback.BaseUrl;
            p.ApiKey = "key-fallback";
        })
        .Configure(o =>
        {
            var policy = new PolicyOptions { AttemptsPerModel = 1 };
            policy.Models.Add(new PolicyMemberOptions { Model = "primary/claude-sonnet-4-5" });
            policy.Models.Add(new PolicyMemberOptions { Model = "fallback/gpt-4.1" });
            o.Policies["claude-4"] = policy;
        }));

    private static async Task<string> StreamTextAsync(HarnessHost host)
    {
        var text = new StringBuilder();
        await foreach (var update in host.Harness.GetChatClient("policy/claude-4").CompleteChatStreamingAsync([new UserChatMessage("Review.")], cancellationToken: Ct))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        return text.ToString();
    }

    [Fact]
    public async Task CompleteChatAsync_PrimaryReturns503_FallbackAnswersOverTheSocket()
    {
        await using var primary = await SandboxServer.StartAsync(cancellationToken: Ct);
        await using var fallback = await SandboxServer.StartAsync(cancellationToken: Ct);
        primary.Sandbox.Model("claude-sonnet-4-5").FailWith(503);
        fallback.Sandbox.Model("gpt-4.1").AnswerAs("gpt-4.1-2025-04-14").Reply(Answer);
        using var host = Create(primary, fallback);

        var completion = await host.Harness.GetChatClient("policy/claude-4").CompleteChatAsync([new UserChatMessage("Review.")], cancellationToken: Ct);

        Assert.Equal(Answer, completion.Value.Content[0].Text);
        Assert.Equal("gpt-4.1-2025-04-14", completion.Value.Model);
        Assert.Equal(["Bearer key-primary"], Assert.Single(primary.Sandbox.Requests).Headers["Authorization"]);
        Assert.Equal(["Bearer key-fallback"], Assert.Single(fallback.Sandbox.Requests).Headers["Authorization"]);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal([503, 200], record.Attempts.Select(a => a.StatusCode));
        Assert.Equal(("fallback", UsageOutcome.Succeeded), (record.Provider, record.Outcome));
    }

    [Fact]
    public async Task CompleteChatStreamingAsync_PrimaryReturns503_FallbackStreamsTheWholeAnswer()
    {
        await using var primary = await SandboxServer.StartAsync(cancellationToken: Ct);
        await using var fallback = await SandboxServer.StartAsync(cancellationToken: Ct);
        primary.Sandbox.Model("claude-sonnet-4-5").FailWith(503);
        fallback.Sandbox.Model("gpt-4.1").Reply(Answer);
        using var host = Create(primary, fallback);

        Assert.Equal(Answer, await StreamTextAsync(host));
        Assert.Single(primary.Sandbox.Requests);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Succeeded, true), (record.Outcome, record.Streaming));
        Assert.True(record.OutputTokens > 0);
    }

    [Fact]
    public async Task CompleteChatStreamingAsync_PrimaryCutBeforeFirstEvent_FallbackStreams()
    {
        await using var primary = await SandboxServer.StartAsync(cancellationToken: Ct);
        await using var fallback = await SandboxServer.StartAsync(cancellationToken: Ct);
        primary.Sandbox.Model("claude-sonnet-4-5").CutStreamAfter(0);
        fallback.Sandbox.Model("gpt-4.1").Reply(Answer);
        using var host = Create(primary, fallback);

        Assert.Equal(Answer, await StreamTextAsync(host));
        Assert.Contains("before its first event", Assert.Single(host.Ledger.GetRecords()).Attempts[0].Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CompleteChatAsync_PrimaryAnswerShorterThanItsContentLength_FallbackAnswers()
    {
        await using var primary = ShortBodyServer.Start("""{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"claude-sonnet-4-5","choices":[""");
        await using var fallback = await SandboxServer.StartAsync(cancellationToken: Ct);
        fallback.Sandbox.Model("gpt-4.1").Reply(Answer);
        using var host = HarnessHost.Create(builder => builder
            .AddProvider("primary", p =>
            {
                p.BaseUrl = primary.BaseUrl;
                p.ApiKey = "key-primary";
            })
            .AddProvider("fallback", p =>
            {
                p.BaseUrl = fallback.BaseUrl;
                p.ApiKey = "key-fallback";
            })
            .Configure(o =>
            {
                var policy = new PolicyOptions { AttemptsPerModel = 1 };
                policy.Models.Add(new PolicyMemberOptions { Model = "primary/claude-sonnet-4-5" });
                policy.Models.Add(new PolicyMemberOptions { Model = "fallback/gpt-4.1" });
                o.Policies["claude-4"] = policy;
            }));

        var completion = await host.Harness.GetChatClient("policy/claude-4").CompleteChatAsync([new UserChatMessage("Review.")], cancellationToken: Ct);

        Assert.Equal(Answer, completion.Value.Content[0].Text);
        Assert.Equal(1, primary.Requests);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(
            [("primary", AttemptOutcome.Failed, "connection failed (ResponseEnded)"), ("fallback", AttemptOutcome.Succeeded, null)],
            record.Attempts.Select(static a => (a.Provider, a.Outcome, a.Error)));
        Assert.Equal(UsageOutcome.Succeeded, record.Outcome);
    }
}
