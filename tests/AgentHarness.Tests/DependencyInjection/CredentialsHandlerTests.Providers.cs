using System.Net;
using AgentHarness.Tests.Support;
using OpenAI.Chat;

namespace AgentHarness.Tests.DependencyInjection;

/// <summary>How each provider is sent its own credential (bearer key, key header, access token) and its own fixed headers, and nothing of another's.</summary>
public sealed partial class CredentialsHandlerTests
{
    private const string AzureKey = "azure-key-0123456789";
    private const string OpenAIOwnKey = "sk-openai-own-key-9876";

    private static void AzureAndOpenAI(IAgentHarnessBuilder builder, Action<ProviderOptions>? azure = null) => builder
        .AddProvider("azure", p =>
        {
            p.BaseUrl = new Uri("https://contoso.openai.azure.com/openai/v1/");
            p.Authentication = ProviderAuthentication.ApiKeyHeader;
            p.ApiKey = AzureKey;
            p.MaxRetries = 0;
            azure?.Invoke(p);
        })
        .AddProvider("openai", p =>
        {
            p.BaseUrl = new Uri("https://openai.test/v1");
            p.ApiKey = OpenAIOwnKey;
            p.MaxRetries = 0;
        })
        .Configure(static o =>
        {
            var policy = new PolicyOptions { AttemptsPerModel = 1 };
            policy.Models.Add(new PolicyMemberOptions { Model = "azure/gpt-4.1" });
            policy.Models.Add(new PolicyMemberOptions { Model = "openai/gpt-4.1" });
            o.Policies["chat"] = policy;
        });

    [Fact]
    public async Task SendAsync_ApiKeyHeaderProvider_SendsApiKeyAndNoAuthorization()
    {
        var mock = new RecordingMock();
        mock.Respond("https://contoso.openai.azure.com/openai/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = TestHarness.Create(mock.Handler, b => AzureAndOpenAI(b));

        await host.Harness.GetChatClient("azure/gpt-4.1").CompleteChatAsync([new UserChatMessage("Hi.")], cancellationToken: Ct);

        var request = Assert.Single(mock.Requests);
        Assert.Equal([AzureKey], request.HeaderValues("api-key"));
        Assert.Empty(request.HeaderValues("Authorization"));
    }

    [Fact]
    public async Task SendAsync_NamedKeyHeader_SendsTheKeyInThatHeaderOnly()
    {
        var mock = new RecordingMock();
        mock.Respond("https://contoso.openai.azure.com/openai/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = TestHarness.Create(mock.Handler, b => AzureAndOpenAI(b, static p => p.ApiKeyHeader = "x-api-key"));

        await host.Harness.GetChatClient("azure/gpt-4.1").CompleteChatAsync([new UserChatMessage("Hi.")], cancellationToken: Ct);

        var request = Assert.Single(mock.Requests);
        Assert.Equal([AzureKey], request.HeaderValues("x-api-key"));
        Assert.Empty(request.HeaderValues("api-key"));
        Assert.Empty(request.HeaderValues("Authorization"));
    }

    [Fact]
    public async Task SendAsync_PolicyAzureThenOpenAI_EachAttemptCarriesOnlyItsOwnCredential()
    {
        var mock = new RecordingMock();
        mock.Respond("https://contoso.openai.azure.com/openai/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = TestHarness.Create(mock.Handler, b => AzureAndOpenAI(b));
        var client = host.Harness.GetChatClient("policy/chat");

        await client.CompleteChatAsync([new UserChatMessage("Hi.")], cancellationToken: Ct);

        Assert.Equal(2, mock.Requests.Count);
        var azure = mock.Requests[0];
        Assert.Equal("contoso.openai.azure.com", azure.Uri.Host);
        Assert.Equal([AzureKey], azure.HeaderValues("api-key"));
        Assert.Empty(azure.HeaderValues("Authorization"));
        var openai = mock.Requests[1];
        Assert.Equal("openai.test", openai.Uri.Host);
        Assert.Equal([$"Bearer {OpenAIOwnKey}"], openai.HeaderValues("Authorization"));
        Assert.Empty(openai.HeaderValues("api-key"));
    }

    [Fact]
    public async Task SendAsync_ProviderHeaders_ReachOnlyTheirProvider()
    {
        var mock = new RecordingMock();
        mock.Respond("https://contoso.openai.azure.com/openai/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = TestHarness.Create(mock.Handler, b => AzureAndOpenAI(b, static p =>
        {
            p.Headers["HTTP-Referer"] = "https://app.example";
            p.Headers["X-Title"] = "Code Review Agent";
        }));

        await host.Harness.GetChatClient("policy/chat").CompleteChatAsync([new UserChatMessage("Hi.")], cancellationToken: Ct);
        await host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("Hi.")], cancellationToken: Ct);

        Assert.Equal(3, mock.Requests.Count);
        Assert.Equal(["https://app.example"], mock.Requests[0].HeaderValues("HTTP-Referer"));
        Assert.Equal(["Code Review Agent"], mock.Requests[0].HeaderValues("X-Title"));
        Assert.All(mock.Requests.Skip(1), r =>
        {
            Assert.Empty(r.HeaderValues("HTTP-Referer"));
            Assert.Empty(r.HeaderValues("X-Title"));
        });
    }

    [Fact]
    public async Task SendAsync_ProviderHeaders_ReplaceTheCallersHeaderOfTheSameName()
    {
        var mock = new RecordingMock();
        mock.Respond("https://contoso.openai.azure.com/openai/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = TestHarness.Create(mock.Handler, b => AzureAndOpenAI(b, static p => p.Headers["X-Title"] = "configured"));

        await host.Harness.GetChatClient("azure/gpt-4.1").CompleteChatAsync([new UserChatMessage("Hi.")], cancellationToken: Ct);

        Assert.Equal(["configured"], Assert.Single(mock.Requests).HeaderValues("X-Title"));
    }

    [Fact]
    public async Task SendAsync_KeyHeaderProviderFirstAttemptIsTheClientsRequest_KeyAndHeadersTakenOffOnceSent()
    {
        HttpRequestMessage? sent = null;
        string[]? whileSending = null;
        var transport = new AgentHarness.Tests.Budget.DelegateHandler((request, _) =>
        {
            sent = request;
            whileSending = [.. request.Headers.GetValues("api-key"), .. request.Headers.GetValues("X-Title")];
            return Task.FromResult(Responses.Json(Responses.ChatJson("gpt-4.1")));
        });
        using var host = TestHarness.Create(transport, b => AzureAndOpenAI(b, static p => p.Headers["X-Title"] = "Code Review Agent"));

        await host.Harness.GetChatClient("azure/gpt-4.1").CompleteChatAsync([new UserChatMessage("Hi.")], cancellationToken: Ct);

        // The request the official client keeps as its answer's RequestMessage has neither the key nor the headers after the call.
        Assert.Equal([AzureKey, "Code Review Agent"], whileSending!);
        Assert.NotNull(sent);
        Assert.False(sent.Headers.Contains("api-key"));
        Assert.False(sent.Headers.Contains("X-Title"));
        Assert.DoesNotContain(AzureKey, sent.ToString(), StringComparison.Ordinal);
    }

    private static void TokenProvider(IAgentHarnessBuilder builder, FakeTokenSource source) => builder
        .AddProvider("entra", p =>
        {
            p.BaseUrl = new Uri("https://contoso.openai.azure.com/openai/v1/");
            p.RequiresApiKey = false;
            p.MaxRetries = 2;
            p.RetryBaseDelay = TimeSpan.Zero;
        })
        .AddProvider("openai", p =>
        {
            p.BaseUrl = new Uri("https://openai.test/v1");
            p.ApiKey = OpenAIOwnKey;
            p.MaxRetries = 0;
        })
        .AddProviderTokenSource("entra", source)
        .Configure(static o =>
        {
            var policy = new PolicyOptions { AttemptsPerModel = 1 };
            policy.Models.Add(new PolicyMemberOptions { Model = "entra/gpt-4.1" });
            policy.Models.Add(new PolicyMemberOptions { Model = "openai/gpt-4.1" });
            o.Policies["chat"] = policy;
        });

    [Fact]
    public async Task SendAsync_TokenProvider_SendsTheSourcesTokenAsBearerAndNoKey()
    {
        var mock = new RecordingMock();
        mock.Respond("https://contoso.openai.azure.com/openai/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        FakeTokenSource? source = null;
        using var host = TestHarness.Create(mock.Handler, b => TokenProvider(b, source = new FakeTokenSource(TimeProvider.System)));

        await host.Harness.GetChatClient("entra/gpt-4.1").CompleteChatAsync([new UserChatMessage("Hi.")], cancellationToken: Ct);
        await host.Harness.GetChatClient("entra/gpt-4.1").CompleteChatAsync([new UserChatMessage("Again.")], cancellationToken: Ct);

        Assert.All(mock.Requests, r => Assert.Equal(["Bearer token-1"], r.HeaderValues("Authorization")));
        Assert.Equal(2, mock.Requests.Count);
        Assert.Equal(1, source!.Fetches);
        Assert.Equal(("entra", null), Assert.Single(source.Requests));
    }

    [Fact]
    public async Task SendAsync_TokenSourceFailsOnDirectCall_ProviderCredentialExceptionNothingSentNoRetry()
    {
        var mock = new RecordingMock();
        mock.Respond("https://contoso.openai.azure.com/openai/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        var source = new FakeTokenSource(TimeProvider.System) { Failure = new InvalidOperationException("no managed identity") };
        using var host = TestHarness.Create(mock.Handler, b => TokenProvider(b, source));

        var ex = await Assert.ThrowsAsync<ProviderCredentialException>(() => host.Harness.GetChatClient("entra/gpt-4.1").CompleteChatAsync([new UserChatMessage("Hi.")], cancellationToken: Ct));

        Assert.Equal("entra", ex.Provider);
        Assert.Contains("no managed identity", ex.Message, StringComparison.Ordinal);
        Assert.Empty(mock.Requests);
        Assert.Equal(1, source.Fetches);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Failed, record.Outcome);
        Assert.Contains("no access token", Assert.Single(record.Attempts).Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendAsync_TokenSourceFailsInPolicy_FallsBackToTheNextCandidateWithItsOwnKey()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        var source = new FakeTokenSource(TimeProvider.System) { Failure = new InvalidOperationException("no managed identity") };
        using var host = TestHarness.Create(mock.Handler, b => TokenProvider(b, source));

        await host.Harness.GetChatClient("policy/chat").CompleteChatAsync([new UserChatMessage("Hi.")], cancellationToken: Ct);

        var request = Assert.Single(mock.Requests);
        Assert.Equal("openai.test", request.Uri.Host);
        Assert.Equal([$"Bearer {OpenAIOwnKey}"], request.HeaderValues("Authorization"));
        Assert.Equal(["entra", "openai"], Assert.Single(host.Ledger.GetRecords()).Attempts.Select(a => a.Provider));
    }
}
