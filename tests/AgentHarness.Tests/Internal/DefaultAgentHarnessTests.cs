using AgentHarness.Internal;
using AgentHarness.Tests.Support;
using RichardSzalay.MockHttp;

namespace AgentHarness.Tests.Internal;

public sealed class DefaultAgentHarnessTests
{
    private static TestHarness Gateway() => TestHarness.Create(new MockHttpMessageHandler(), static b => TestHarness.ThreeProviders(b));

    [Fact]
    public void GetChatClient_TenThousandDistinctGatewayIds_CachesAtMostTheBound()
    {
        using var host = Gateway();
        var harness = (DefaultAgentHarness)host.Harness;

        for (var i = 0; i < 10_000; i++)
        {
            Assert.NotNull(harness.GetChatClient($"acme/model-{i}"));
        }

        Assert.Equal(DefaultAgentHarness.MaxCachedClients, harness.CachedClientCount);
        Assert.Same(harness.GetChatClient("acme/model-0"), harness.GetChatClient("acme/model-0"));
    }

    [Fact]
    public void GetEmbeddingClient_TenThousandDistinctGatewayIds_CachesAtMostTheBound()
    {
        using var host = Gateway();
        var harness = (DefaultAgentHarness)host.Harness;

        for (var i = 0; i < 10_000; i++)
        {
            harness.GetEmbeddingClient($"acme/embed-{i}");
        }

        Assert.Equal(DefaultAgentHarness.MaxCachedClients, harness.CachedClientCount);
    }

    [Fact]
    public void GetChatClient_IdOverTheLimit_RefusedAndNotCached()
    {
        using var host = Gateway();
        var harness = (DefaultAgentHarness)host.Harness;

        var refused = Assert.Throws<UnroutableModelException>(() => harness.GetChatClient("acme/" + new string('x', 4_000_000)));

        Assert.Contains("the longest model id the harness accepts is 256 characters", refused.Message, StringComparison.Ordinal);
        Assert.True(refused.Model!.Length < 100);
        Assert.Equal(0, harness.CachedClientCount);
    }

    [Fact]
    public void GetChatClient_IdWithLineBreak_RefusedWithTheIdEscaped()
    {
        using var host = Gateway();

        var refused = Assert.Throws<UnroutableModelException>(() => host.Harness.GetChatClient("acme/model\r\nINFO forged"));

        Assert.Contains("'acme/model\\r\\nINFO forged'", refused.Message, StringComparison.Ordinal);
        Assert.Equal("acme/model\\r\\nINFO forged", refused.Model);
        Assert.DoesNotContain(refused.Message, c => c is '\r' or '\n');
    }

    [Theory]
    [InlineData("openai/gpt-4.1-nano", "gpt-4.1-nano")]
    [InlineData("anthropic/claude-sonnet-4-5", "anthropic/claude-sonnet-4-5")]
    [InlineData("mistral/mistral-small", "mistral-small")]
    public void GetChatClient_DirectRoute_ClientWritesTheModelItsProviderExpects(string id, string sent)
    {
        using var host = Gateway();

#pragma warning disable OPENAI001 // ChatClient.Model is marked for evaluation; it is what the client writes into its bodies.
        Assert.Equal(sent, host.Harness.GetChatClient(id).Model);
#pragma warning restore OPENAI001
    }
}
