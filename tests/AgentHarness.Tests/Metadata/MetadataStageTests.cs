using System.ClientModel;
using System.Net;
using AgentHarness.Tests.Support;
using OpenAI.Chat;

namespace AgentHarness.Tests.Metadata;

public sealed class MetadataStageTests
{
    [Fact]
    public async Task SendAsync_GatewayWithRetries_EveryAttemptCarriesExactlyOneAgentHeader()
    {
        var mock = new RecordingMock();
        mock.RespondSequence(
            "https://gateway.test/v1/chat/completions",
            _ => Responses.Error(HttpStatusCode.ServiceUnavailable),
            _ => Responses.Error(HttpStatusCode.BadGateway),
            _ => Responses.Json(Responses.ChatJson("gpt-4.1-nano")));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        using (host.Harness.BeginRun("code-review-agent", r => r.Branch = "feat/auth-refactor"))
        {
            await host.Harness.GetChatClient("anthropic/claude-sonnet-4-5").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: TestContext.Current.CancellationToken);
        }

        Assert.Equal(3, mock.Requests.Count);
        Assert.All(mock.Requests, r =>
        {
            Assert.Equal(["code-review-agent"], r.HeaderValues("X-Requesty-Agent"));
            Assert.Equal(["feat/auth-refactor"], r.HeaderValues("X-Requesty-Branch"));
        });
    }

    [Fact]
    public async Task SendAsync_DirectProvider_ReceivesNoMetadataHeaders()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1-nano")));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        using (var run = host.Harness.BeginRun("code-review-agent", r => { r.Branch = "main"; r.Customer = "acme"; }))
        using (run.BeginTask("classify"))
        {
            await host.Harness.GetChatClient("openai/gpt-4.1-nano").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: TestContext.Current.CancellationToken);
        }

        var request = Assert.Single(mock.Requests);
        Assert.DoesNotContain(request.Headers.Keys, k => k.StartsWith("X-Requesty-", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task SendAsync_HeaderSetByCallerForDirectProvider_IsRemoved()
    {
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1-nano")));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));
        var client = host.Harness.GetOpenAIClient().GetChatClient("openai/gpt-4.1-nano");

        var options = new System.ClientModel.Primitives.RequestOptions();
        options.AddHeader("X-Requesty-Agent", "leaked");
        using var content = BinaryContent.Create(BinaryData.FromString("""{"model":"openai/gpt-4.1-nano","messages":[{"role":"user","content":"hi"}]}"""));
        await client.CompleteChatAsync(content, options);

        Assert.Empty(Assert.Single(mock.Requests).HeaderValues("X-Requesty-Agent"));
    }

    [Fact]
    public async Task SendAsync_TaskScopesAndExtras_SentWithPrefixAndRestoredAfterScope()
    {
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("m")));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));
        var client = host.Harness.GetChatClient("google/gemini-2.5-flash");
        var ct = TestContext.Current.CancellationToken;

        using (var run = host.Harness.BeginRun("agent", r => r.SetExtra("Ticket", "T-42").Environment = "staging"))
        {
            using (run.BeginTask("review"))
            {
                await client.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: ct);
                using (run.BeginTask("summarize"))
                {
                    await client.CompleteChatAsync([new UserChatMessage("b")], cancellationToken: ct);
                }

                await client.CompleteChatAsync([new UserChatMessage("c")], cancellationToken: ct);
            }

            await client.CompleteChatAsync([new UserChatMessage("d")], cancellationToken: ct);
        }

        var requests = mock.Requests;
        Assert.Equal(["review"], requests[0].HeaderValues("X-Requesty-Task"));
        Assert.Equal(["summarize"], requests[1].HeaderValues("X-Requesty-Task"));
        Assert.Equal(["review"], requests[2].HeaderValues("X-Requesty-Task"));
        Assert.Empty(requests[3].HeaderValues("X-Requesty-Task"));
        Assert.All(requests, r =>
        {
            Assert.Equal(["T-42"], r.HeaderValues("X-Requesty-Ticket"));
            Assert.Equal(["staging"], r.HeaderValues("X-Requesty-Environment"));
        });
    }

    [Fact]
    public async Task SendAsync_OutsideAnyRun_SendsNoMetadata()
    {
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("m")));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        await host.Harness.GetChatClient("x/y").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: TestContext.Current.CancellationToken);

        Assert.DoesNotContain(Assert.Single(mock.Requests).Headers.Keys, k => k.StartsWith("X-Requesty-", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task SendAsync_ParallelRuns_EachRequestCarriesItsOwnRunsAgent()
    {
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("m")));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));
        var client = host.Harness.GetChatClient("x/y");

        async Task RunAgent(string agent)
        {
            using var run = host.Harness.BeginRun(agent);
            for (var i = 0; i < 20; i++)
            {
                await Task.Yield();
                await client.CompleteChatAsync([new UserChatMessage(agent)]);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => RunAgent($"agent-{i}"), TestContext.Current.CancellationToken)));

        Assert.Equal(160, mock.Requests.Count);
        Assert.All(mock.Requests, r => Assert.Contains(Assert.Single(r.HeaderValues("X-Requesty-Agent")), r.Body, StringComparison.Ordinal));
        Assert.All(host.Ledger.GetRecords(), record => Assert.Equal(record.Agent, record.Metadata["agent"]));
    }
}
