using System.ClientModel;
using System.Net;
using AgentHarness.IntegrationTests.Support;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace AgentHarness.IntegrationTests.Routing;

/// <summary>
/// A provider that answers with a redirect over real sockets: the harness follows no redirect, on model calls or on
/// management calls, so the redirect's target receives nothing, and the redirect is the candidate's failure.
/// </summary>
public sealed class RedirectTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(302)]
    [InlineData(307)]
    [InlineData(308)]
    public async Task CompleteChatAsync_GatewayRedirects_TargetReceivesNothingAndTheCallFails(int status)
    {
        await using var target = await SandboxServer.StartAsync(cancellationToken: Ct);
        target.Sandbox.Model("openai/gpt-4.1").Reply("Answered by the redirect's target.");
        await using var gateway = await RedirectServer.StartAsync(status, target.Address, Ct);
        using var host = HarnessHost.Create(builder => builder.AddProvider("requesty", p =>
        {
            p.BaseUrl = gateway.BaseUrl;
            p.ApiKey = HarnessHost.GatewayKey;
            p.IsGateway = true;
            p.MetadataHeaderPrefix = "X-Requesty-";
            p.MaxRetries = 2;
            p.RetryBaseDelay = TimeSpan.Zero;
        }));

        var failed = await Assert.ThrowsAsync<ClientResultException>(
            () => host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("Review the change.")], cancellationToken: Ct));

        Assert.Equal(status, failed.Status);
        Assert.Empty(target.Sandbox.Requests);
        Assert.Equal(1, gateway.Requests);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Failed, record.Outcome);
        var attempt = Assert.Single(record.Attempts);
        Assert.Equal((AttemptOutcome.Failed, status, $"HTTP {status} (redirect not followed)"), (attempt.Outcome, attempt.StatusCode, attempt.Error));
    }

    [Fact]
    public async Task CompleteChatAsync_PolicyMemberRedirects_NoRetryAndTheNextMemberAnswers()
    {
        await using var target = await SandboxServer.StartAsync(cancellationToken: Ct);
        target.Sandbox.Model("claude-sonnet-4-5").Reply("Answered by the redirect's target.");
        await using var primary = await RedirectServer.StartAsync(307, target.Address, Ct);
        await using var fallback = await SandboxServer.StartAsync(cancellationToken: Ct);
        fallback.Sandbox.Model("gpt-4.1").Reply("The fallback reviewed the change.");
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
                var policy = new PolicyOptions { AttemptsPerModel = 3, RetryBaseDelay = TimeSpan.Zero };
                policy.Models.Add(new PolicyMemberOptions { Model = "primary/claude-sonnet-4-5" });
                policy.Models.Add(new PolicyMemberOptions { Model = "fallback/gpt-4.1" });
                o.Policies["claude-4"] = policy;
            }));

        var completion = await host.Harness.GetChatClient("policy/claude-4").CompleteChatAsync([new UserChatMessage("Review.")], cancellationToken: Ct);

        Assert.Equal("The fallback reviewed the change.", completion.Value.Content[0].Text);
        Assert.Empty(target.Sandbox.Requests);
        Assert.Equal(1, primary.Requests);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(("fallback", UsageOutcome.Succeeded), (record.Provider, record.Outcome));
        Assert.Equal([307, 200], record.Attempts.Select(a => a.StatusCode));
    }

    [Fact]
    public async Task ListModelsAsync_ProviderRedirects_TargetReceivesNothingAndTheStatusIsReported()
    {
        await using var target = await SandboxServer.StartAsync(cancellationToken: Ct);
        await using var provider = await RedirectServer.StartAsync(307, target.Address, Ct);
        using var host = HarnessHost.Create(builder => builder.AddProvider("openai", p =>
        {
            p.BaseUrl = provider.BaseUrl;
            p.ApiKey = "key-openai";
        }));

        var failed = await Assert.ThrowsAsync<HttpRequestException>(
            () => host.Services.GetRequiredService<IModelDiscovery>().ListModelsAsync("openai", Ct));

        Assert.Equal(HttpStatusCode.TemporaryRedirect, failed.StatusCode);
        Assert.Empty(target.Sandbox.Requests);
    }

    [Fact]
    public async Task GetApiKeyInfoAsync_RequestyRedirects_TargetReceivesNothingAndTheStatusIsReported()
    {
        await using var target = await SandboxServer.StartAsync(cancellationToken: Ct);
        await using var requesty = await RedirectServer.StartAsync(308, target.Address, Ct);
        var services = new ServiceCollection();
        services.AddAgentHarness().AddRequestyUsageClient(o =>
        {
            o.BaseAddress = requesty.Address;
            o.ApiKey = "key-management";
        });
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

        var failed = await Assert.ThrowsAsync<HttpRequestException>(
            () => provider.GetRequiredService<RequestyUsageClient>().GetApiKeyInfoAsync(cancellationToken: Ct));

        Assert.Equal(HttpStatusCode.PermanentRedirect, failed.StatusCode);
        Assert.Empty(target.Sandbox.Requests);
        Assert.Equal(1, requesty.Requests);
    }
}
