using System.ClientModel;
using System.Net;
using AgentHarness.Catalog.Internal;
using AgentHarness.DependencyInjection.Internal;
using AgentHarness.Internal;
using AgentHarness.Pipeline.Internal;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using OpenAI.Chat;

namespace AgentHarness.Tests.DependencyInjection;

/// <summary>
/// The innermost handler of the harness's clients: keys set below the factory's logging handlers, and keys echoed by
/// a provider removed from error bodies before anything quotes them.
/// </summary>
public sealed partial class CredentialsHandlerTests
{
    private const string GatewayKey = "key-gateway-secret-1";
    private const string OpenAIKey = "key-openai+secret/2";
    private const string GoogleKey = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q";
    private const string RequestyKey = "key-requesty-manage-3";
    private const string UnconfiguredKey = "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c";

    private static readonly string[] Keys = [GatewayKey, OpenAIKey, GoogleKey, RequestyKey, UnconfiguredKey];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Providers(IAgentHarnessBuilder builder) => builder
        .AddProvider("requesty", p =>
        {
            p.BaseUrl = new Uri("https://gateway.test/v1");
            p.ApiKey = GatewayKey;
            p.IsGateway = true;
            p.MaxRetries = 0;
        })
        .AddProvider("openai", p =>
        {
            p.BaseUrl = new Uri("https://openai.test/v1");
            p.ApiKey = OpenAIKey;
            p.MaxRetries = 0;
        })
        .AddProvider("google", p =>
        {
            p.BaseUrl = new Uri("https://google.test/v1");
            p.ApiKey = GoogleKey;
            p.MaxRetries = 0;
        })
        .Configure(static o =>
        {
            var policy = new PolicyOptions { AttemptsPerModel = 1 };
            policy.Models.Add(new PolicyMemberOptions { Model = "openai/gpt-4.1" });
            policy.Models.Add(new PolicyMemberOptions { Model = "google/gemini-2.5-pro" });
            o.Policies["review"] = policy;
        });

    private static TestHarness Create(RecordingMock mock, FakeLogCollector logs) => TestHarness.Create(
        mock.Handler,
        b =>
        {
            Providers(b);
            b.AddRequestyUsageClient(static o => o.ApiKey = RequestyKey).ConfigurePrimaryHttpMessageHandler(() => mock.Handler);
        },
        s =>
        {
            s.AddLogging(l => l.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(logs)));
            s.AddHttpClient(ModelListClient.ManagementClientName).ConfigurePrimaryHttpMessageHandler(() => mock.Handler);
            s.Configure<HttpStandardResilienceOptions>(ModelListClient.ManagementClientName + "-standard", static o => o.Retry.ShouldHandle = static _ => ValueTask.FromResult(false));
        });

    private static void AssertNoKey(string? text)
    {
        foreach (var key in Keys)
        {
            Assert.DoesNotContain(key, text ?? string.Empty, StringComparison.OrdinalIgnoreCase);
        }
    }

    private static void AssertNoKeyInLogs(FakeLogCollector logs)
    {
        var texts = LogState.Texts(logs).ToList();
        Assert.NotEmpty(texts);
        Assert.All(texts, AssertNoKey);
    }

    [Fact]
    public async Task SendAsync_TraceLoggingForEveryCategory_KeysSentButInNoLogState()
    {
        var logs = new FakeLogCollector();
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("anthropic/claude")));
        mock.Respond("https://gateway.test/v1/models", _ => Responses.Json("""{"object":"list","data":[{"id":"openai/gpt-4.1","object":"model"}]}"""));
        mock.Respond("https://api-v2.requesty.ai/v1/manage/apikey/self", _ => Responses.Json("""{"id":"k-1","name":"ci","logging":false,"monthly_spend":"1","monthly_limit":"2"}"""));
        using var host = Create(mock, logs);

        await host.Harness.GetChatClient("anthropic/claude").CompleteChatAsync([new UserChatMessage("Review.")], cancellationToken: Ct);
        await host.Services.GetRequiredService<IModelDiscovery>().ListModelsAsync("requesty", Ct);
        await host.Services.GetRequiredService<RequestyUsageClient>().GetApiKeyInfoAsync(cancellationToken: Ct);

        // The keys did leave, each on its own request...
        Assert.Equal(
            [$"Bearer {GatewayKey}", $"Bearer {GatewayKey}", $"Bearer {RequestyKey}"],
            mock.Requests.Select(r => Assert.Single(r.HeaderValues("Authorization"))));

        // ...and the factory's handlers logged every request's headers at Trace, without them.
        var headerLogs = logs.GetSnapshot().Where(r => r.Level == LogLevel.Trace && r.Category!.StartsWith("System.Net.Http.HttpClient.", StringComparison.Ordinal)).ToList();
        Assert.Contains(headerLogs, r => r.Category!.StartsWith("System.Net.Http.HttpClient.AgentHarness.Management.", StringComparison.Ordinal));
        Assert.Contains(headerLogs, r => r.Category!.StartsWith("System.Net.Http.HttpClient.AgentHarness.Requesty.", StringComparison.Ordinal));
        Assert.Contains(headerLogs, r => r.Category!.StartsWith("System.Net.Http.HttpClient.AgentHarness.ClientHandler", StringComparison.Ordinal));
        AssertNoKeyInLogs(logs);
    }

    [Fact]
    public async Task SendAsync_PolicyMembersEchoKeys_ReasonsRecordExceptionAndWarningHaveNoKey()
    {
        var logs = new FakeLogCollector();
        var mock = new RecordingMock();

        // Every form: another provider's key raw, this one's JSON-escaped and URL-encoded, a Google key as code and
        // param, and a key that looks like one without being configured.
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(
            $$$"""{"error":{"message":"Incorrect API key provided: {{{OpenAIKey.Replace("+", "\\u002b", StringComparison.Ordinal)}}} (also {{{GatewayKey}}}, {{{UnconfiguredKey}}}, {{{Uri.EscapeDataString(OpenAIKey)}}})","type":"invalid_request_error","param":"{{{GoogleKey}}}","code":"{{{GoogleKey}}}"}}""",
            HttpStatusCode.Unauthorized));
        mock.Respond("https://google.test/v1/chat/completions", _ => Responses.Json(
            $$$"""{"error":{"code":400,"message":"API key not valid: {{{GoogleKey}}}","status":"{{{GoogleKey}}}","details":[{"reason":"API_KEY_INVALID"}]}}""",
            HttpStatusCode.BadRequest));
        using var host = Create(mock, logs);

        var failed = await Assert.ThrowsAsync<AllCandidatesFailedException>(
            () => host.Harness.GetChatClient("policy/review").CompleteChatAsync([new UserChatMessage("Review.")], cancellationToken: Ct));

        Assert.Equal(2, mock.Requests.Count);
        AssertNoKey(failed.Message);
        var record = Assert.Single(host.Ledger.GetRecords());
        AssertNoKey(record.Error);
        Assert.All(record.Attempts, a => AssertNoKey(a.Error));
        Assert.Equal(["HTTP 401 invalid_request_error", "HTTP 400 API_KEY_INVALID"], record.Attempts.Select(a => a.Error));
        Assert.Contains(logs.GetSnapshot(), r => r.Id.Id == 3);
        AssertNoKeyInLogs(logs);
    }

    [Fact]
    public async Task SendAsync_DirectCallEchoesKey_ErrorBodyAndClientExceptionHaveNoKey()
    {
        var logs = new FakeLogCollector();
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(
            $$$"""{"error":{"message":"Incorrect API key provided: {{{OpenAIKey}}}. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}""",
            HttpStatusCode.Unauthorized));
        using var host = Create(mock, logs);

        var failed = await Assert.ThrowsAsync<ClientResultException>(
            () => host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("Review.")], cancellationToken: Ct));

        Assert.Equal(401, failed.Status);
        AssertNoKey(failed.Message);
        var body = failed.GetRawResponse()!.Content.ToString();
        AssertNoKey(body);
        Assert.Contains("Incorrect API key provided: [key removed].", body, StringComparison.Ordinal);
        Assert.Contains("Incorrect API key provided: [key removed].", failed.Message, StringComparison.Ordinal);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Failed, record.Outcome);
        AssertNoKeyInLogs(logs);
    }

    [Fact]
    public async Task SendAsync_DirectCallAnswerHeadersEchoTheKey_ClientExceptionAndLogStateHaveNoKey()
    {
        var logs = new FakeLogCollector();
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", request =>
        {
            var response = Responses.Json("""{"error":{"message":"no","type":"invalid_request_error","code":"invalid_api_key"}}""", HttpStatusCode.Unauthorized);
            response.Headers.TryAddWithoutValidation("WWW-Authenticate", $"Bearer realm=\"api\", key=\"{OpenAIKey}\"");
            response.Headers.TryAddWithoutValidation("X-Echo-Auth", request.HeaderValues("Authorization").Single());
            response.Headers.TryAddWithoutValidation("X-Request-Id", "req-1");
            return response;
        });
        using var host = Create(mock, logs);

        var failed = await Assert.ThrowsAsync<ClientResultException>(
            () => host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("Review.")], cancellationToken: Ct));

        var headers = failed.GetRawResponse()!.Headers.ToDictionary(static h => h.Key, static h => h.Value, StringComparer.OrdinalIgnoreCase);
        Assert.Equal("Bearer [key removed]", headers["X-Echo-Auth"]);
        Assert.Equal("Bearer realm=\"api\", key=\"[key removed]\"", headers["WWW-Authenticate"]);
        Assert.Equal("req-1", headers["X-Request-Id"]);
        AssertNoKeyInLogs(logs);
    }

    [Fact]
    public async Task SendAsync_SuccessfulAnswerHeaderEchoesTheKey_NoLogStateHoldsIt()
    {
        var logs = new FakeLogCollector();
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/chat/completions", request =>
        {
            var response = Responses.Json(Responses.ChatJson("anthropic/claude"));
            response.Headers.TryAddWithoutValidation("X-Debug-Credential", [request.HeaderValues("Authorization").Single(), "plain"]);
            response.Content.Headers.TryAddWithoutValidation("X-Content-Note", $"sent with {GatewayKey}");
            return response;
        });
        using var host = Create(mock, logs);

        await host.Harness.GetChatClient("anthropic/claude").CompleteChatAsync([new UserChatMessage("Review.")], cancellationToken: Ct);

        Assert.Contains(logs.GetSnapshot(), static r => r.Category!.StartsWith("System.Net.Http.HttpClient.AgentHarness.ClientHandler", StringComparison.Ordinal) && r.Level == LogLevel.Trace);
        AssertNoKeyInLogs(logs);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task SendAttemptAsync_AnswerHeadersEchoTheKey_Redacted(bool later, bool error)
    {
        var provider = new ProviderEndpoint("openai", new ProviderOptions { BaseUrl = new Uri("https://openai.test/v1"), ApiKey = OpenAIKey });
        var inner = new EchoesInHeaders(later, error ? HttpStatusCode.Unauthorized : HttpStatusCode.OK);
        using var handler = new CredentialsHandler(new KeyRedactor([OpenAIKey]), 1 << 20) { InnerHandler = inner };
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://openai.test/v1/chat/completions");
        provider.Authorize(request);

        using var response = await handler.SendAttemptAsync(request, Ct);

        Assert.Equal(["Bearer [key removed]", "short"], response.Headers.GetValues("X-Echo"));
        Assert.Equal("[key removed]", Assert.Single(response.Content.Headers.GetValues("X-Content-Echo")));
    }

    [Fact]
    public void Send_AnswerHeadersEchoTheKey_Redacted()
    {
        var provider = new ProviderEndpoint("openai", new ProviderOptions { BaseUrl = new Uri("https://openai.test/v1"), ApiKey = OpenAIKey });
        using var invoker = new HttpMessageInvoker(new CredentialsHandler(new KeyRedactor([OpenAIKey]), 1 << 20) { InnerHandler = new EchoesInHeaders(later: false, HttpStatusCode.OK) });
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://openai.test/v1/chat/completions");
        provider.Authorize(request);

        using var response = invoker.Send(request, Ct);

        Assert.Equal(["Bearer [key removed]", "short"], response.Headers.GetValues("X-Echo"));
    }

    [Fact]
    public async Task SendAsync_ErrorBodyWithoutKey_KeptByteForByte()
    {
        var mock = new RecordingMock();
        const string Body = """{"error":{"message":"Rate limited \u00e9t\u00e9.","type":"rate_limit","param":null,"code":"rate_limit_exceeded"}}""";
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Body, HttpStatusCode.TooManyRequests));
        using var host = Create(mock, new FakeLogCollector());

        var failed = await Assert.ThrowsAsync<ClientResultException>(
            () => host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("Review.")], cancellationToken: Ct));

        Assert.Equal(Body, failed.GetRawResponse()!.Content.ToString());
    }

    [Fact]
    public async Task SendAttemptAsync_AnswerArrivesLater_KeySentThenTakenOffTheRequest()
    {
        var provider = new ProviderEndpoint("openai", new ProviderOptions { BaseUrl = new Uri("https://openai.test/v1"), ApiKey = OpenAIKey });
        var inner = new AnswersLater(HttpStatusCode.OK, """{"id":"c"}""");
        using var handler = new CredentialsHandler(new KeyRedactor([OpenAIKey]), 1 << 20) { InnerHandler = inner };
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://openai.test/v1/chat/completions");
        provider.Authorize(request);

        var sending = handler.SendAttemptAsync(request, Ct);
        Assert.False(sending.IsCompleted);
        using var response = await sending;

        Assert.Equal($"Bearer {OpenAIKey}", inner.SentAuthorization);
        Assert.Null(request.Headers.Authorization);
        Assert.Equal("""{"id":"c"}""", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task SendAttemptAsync_ErrorEchoingTheKeyArrivesLater_BodyRedactedAndKeyTakenOff()
    {
        var provider = new ProviderEndpoint("openai", new ProviderOptions { BaseUrl = new Uri("https://openai.test/v1"), ApiKey = OpenAIKey });
        var inner = new AnswersLater(HttpStatusCode.Unauthorized, $$$"""{"error":{"message":"Incorrect API key provided: {{{OpenAIKey}}}."}}""");
        using var handler = new CredentialsHandler(new KeyRedactor([OpenAIKey]), 1 << 20) { InnerHandler = inner };
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://openai.test/v1/chat/completions");
        provider.Authorize(request);

        using var response = await handler.SendAttemptAsync(request, Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("""{"error":{"message":"Incorrect API key provided: [key removed]."}}""", await response.Content.ReadAsStringAsync(Ct));
        Assert.Null(request.Headers.Authorization);
    }

    [Fact]
    public async Task SendAttemptAsync_TransportThrowsBeforeReturningATask_KeyTakenOff()
    {
        var provider = new ProviderEndpoint("openai", new ProviderOptions { BaseUrl = new Uri("https://openai.test/v1"), ApiKey = OpenAIKey });
        using var handler = new CredentialsHandler(new KeyRedactor([OpenAIKey]), 1 << 20) { InnerHandler = new ThrowsAtOnce() };
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://openai.test/v1/chat/completions");
        provider.Authorize(request);

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await handler.SendAttemptAsync(request, Ct));

        Assert.Null(request.Headers.Authorization);
    }

    [Fact]
    public async Task SendAsync_TransportThrowsBeforeReturningATask_KeyTakenOff()
    {
        var provider = new ProviderEndpoint("openai", new ProviderOptions { BaseUrl = new Uri("https://openai.test/v1"), ApiKey = OpenAIKey });
        using var invoker = new HttpMessageInvoker(new CredentialsHandler(new KeyRedactor([OpenAIKey]), 1 << 20) { InnerHandler = new ThrowsAtOnce() });
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://openai.test/v1/chat/completions");
        provider.Authorize(request);

        await Assert.ThrowsAsync<ObjectDisposedException>(() => invoker.SendAsync(request, Ct));

        Assert.Null(request.Headers.Authorization);
    }

    /// <summary>A transport whose answer echoes the credential it was sent in a response header and a content header.</summary>
    private sealed class EchoesInHeaders(bool later, HttpStatusCode status) : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = Answer(request);
            if (later)
            {
                await Task.Yield();
            }

            return response;
        }

        protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) => Answer(request);

        private HttpResponseMessage Answer(HttpRequestMessage request)
        {
            var response = new HttpResponseMessage(status) { Content = new StringContent("{}") };
            response.Headers.TryAddWithoutValidation("X-Echo", [request.Headers.Authorization!.ToString(), "short"]);
            response.Content.Headers.TryAddWithoutValidation("X-Content-Echo", OpenAIKey);
            return response;
        }
    }

    /// <summary>A transport that throws on the caller's thread, before it has a task to return, as a disposed one does.</summary>
    private sealed class ThrowsAtOnce : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            throw new ObjectDisposedException(nameof(SocketsHttpHandler));
    }

    /// <summary>A transport whose answer comes after a hop to the thread pool, as a socket's does; it notes the credential sent.</summary>
    private sealed class AnswersLater(HttpStatusCode status, string body) : HttpMessageHandler
    {
        public string? SentAuthorization { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            SentAuthorization = request.Headers.Authorization?.ToString();
            await Task.Yield();
            return new HttpResponseMessage(status) { Content = new StringContent(body) };
        }
    }
}
