using System.Net;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace AgentHarness.Tests.Pipeline;

public sealed partial class RequestStageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>An application's handler that signs each request it sends, as a request-signing or correlation handler does.</summary>
    private sealed class SigningHandler : DelegatingHandler
    {
        private int _sent;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Add("X-Signature", "sig-" + Interlocked.Increment(ref _sent));
            return base.SendAsync(request, cancellationToken);
        }
    }

    private static string[] Signatures(RecordingMock mock) =>
        [.. mock.Requests.Select(r => string.Join(", ", r.Headers.TryGetValue("X-Signature", out var values) ? values : []))];

    /// <summary>A harness whose direct OpenAI route answers 503 <paramref name="failures"/> times, then answers, under the signing handler.</summary>
    private static TestHarness SigningHostFailing(RecordingMock mock, int failures)
    {
        var calls = 0;
        mock.Respond("https://openai.test/v1/chat/completions", _ => ++calls <= failures
            ? Responses.Error(HttpStatusCode.ServiceUnavailable)
            : Responses.Json(Responses.ChatJson("gpt-4.1", content: "ok")));
        return TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            b.ConfigureHttpClient(c => c.AddHttpMessageHandler(() => new SigningHandler()));
        });
    }

    [Fact]
    public async Task Retry_DirectRoute_CarriesOnlyTheHeadersAddedForItself()
    {
        // The first attempt is the official client's own request; the application's handler adds its header to that
        // request, and the retry must not start from it.
        var mock = new RecordingMock();
        using var host = SigningHostFailing(mock, failures: 2);

        await host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        Assert.Equal(["sig-1", "sig-2", "sig-3"], Signatures(mock));
    }

    [Fact]
    public async Task Retry_DirectRoute_KeepsTheOfficialClientsHeaders()
    {
        var mock = new RecordingMock();
        using var host = SigningHostFailing(mock, failures: 1);

        await host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        // What the official client wrote goes with every attempt, once, and the provider's key is the only credential.
        Assert.Equal(2, mock.Requests.Count);
        var userAgent = mock.Requests[0].Headers["User-Agent"];
        Assert.StartsWith("OpenAI/", userAgent[0], StringComparison.Ordinal);
        Assert.All(mock.Requests, r =>
        {
            Assert.Equal(userAgent, r.Headers["User-Agent"]);
            Assert.Equal(["application/json"], r.Headers["Accept"]);
            Assert.Equal(["Bearer key-openai"], r.Headers["Authorization"]);
        });
    }

    [Fact]
    public async Task Fallback_Policy_EachMemberGetsOnlyItsOwnAttemptsHeaders()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        mock.Respond("https://mistral.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("mistral-large-2411", content: "from B")));
        using var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b, maxRetries: 0);
            b.ConfigureHttpClient(c => c.AddHttpMessageHandler(() => new SigningHandler()));
            b.Configure(o =>
            {
                var policy = new PolicyOptions { AttemptsPerModel = 1 };
                policy.Models.Add(new PolicyMemberOptions { Model = "openai/gpt-4.1" });
                policy.Models.Add(new PolicyMemberOptions { Model = "mistral/mistral-large" });
                o.Policies["chain"] = policy;
            });
        });

        await host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        Assert.Equal(["sig-1", "sig-2"], Signatures(mock));
    }
}
