using System.Text.Json;
using AgentHarness.Tests.Support;
using OpenAI.Chat;

namespace AgentHarness.Tests.Pipeline;

public sealed class PromptHintsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static TestHarness Create(RecordingMock mock) => TestHarness.Create(mock.Handler, b =>
    {
        TestHarness.ThreeProviders(b);
        b.Configure(o =>
        {
            o.Providers["requesty"].AutoCache = true;
            o.Providers["openai"].SendPromptCacheKey = true;
        });
    });

    private static RecordingMock Mock()
    {
        var mock = new RecordingMock();
        foreach (var host in new[] { "gateway", "openai", "mistral" })
        {
            mock.Respond($"https://{host}.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("m")));
        }

        return mock;
    }

    private static JsonElement Body(CapturedRequest request) => JsonDocument.Parse(request.Body).RootElement;

    [Fact]
    public async Task Insert_ConfiguredProviders_GetTheirHintsAndOnlyThey()
    {
        var mock = Mock();
        using var host = Create(mock);

        using (var run = host.Harness.BeginRun("code-review-agent"))
        using (run.BeginTask("classify"))
        {
            foreach (var model in new[] { "anthropic/claude-sonnet-4-5", "openai/gpt-4.1", "mistral/mistral-large" })
            {
                await host.Harness.GetChatClient(model).CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);
            }
        }

        var (gateway, openai, mistral) = (Body(mock.Requests[0]), Body(mock.Requests[1]), Body(mock.Requests[2]));
        Assert.True(gateway.GetProperty("requesty").GetProperty("auto_cache").GetBoolean());
        Assert.False(gateway.TryGetProperty("prompt_cache_key", out _));
        Assert.Equal("code-review-agent/classify", openai.GetProperty("prompt_cache_key").GetString());
        Assert.False(openai.TryGetProperty("requesty", out _));
        Assert.False(mistral.TryGetProperty("requesty", out _));
        Assert.False(mistral.TryGetProperty("prompt_cache_key", out _));
        Assert.Equal("hi", openai.GetProperty("messages")[0].GetProperty("content").GetString());
    }

    [Fact]
    public async Task Insert_OutsideAnyRun_SendsNoPromptCacheKey()
    {
        var mock = Mock();
        using var host = Create(mock);

        await host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.False(Body(Assert.Single(mock.Requests)).TryGetProperty("prompt_cache_key", out _));
    }

    [Fact]
    public async Task Insert_NoProviderConfigured_BodyIsTheClientsOwn()
    {
        var mock = Mock();
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));

        using (host.Harness.BeginRun("code-review-agent"))
        {
            await host.Harness.GetChatClient("anthropic/claude-sonnet-4-5").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);
            await host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);
        }

        Assert.All(mock.Requests, r => Assert.DoesNotContain("requesty", r.Body, StringComparison.Ordinal));
        Assert.All(mock.Requests, r => Assert.DoesNotContain("prompt_cache_key", r.Body, StringComparison.Ordinal));
    }
}
