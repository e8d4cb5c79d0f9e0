using System.Text;
using AgentHarness.Testing;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace AgentHarness.Tests.Testing;

public sealed class SandboxRequestTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Messages_ArrayContentAndDeveloperRole_AreReadAsText()
    {
        const string body = """
            {
              "model": "m",
              "max_tokens": 7,
              "messages": [
                { "role": "developer", "content": "Rule one." },
                { "role": "system", "content": [{ "type": "text", "text": "Rule two." }] },
                { "role": "user", "content": [{ "type": "text", "text": "Look:" }, { "type": "image_url", "image_url": { "url": "x" } }, { "type": "text", "text": "a cat" }] },
                { "role": "assistant", "content": null, "tool_calls": [] },
                { "role": "tool", "content": "42" }
              ]
            }
            """;

        var request = await SendAsync("/v1/chat/completions", body);

        Assert.Equal(
            [new SandboxMessage("developer", "Rule one."), new SandboxMessage("system", "Rule two."), new SandboxMessage("user", "Look:\na cat"), new SandboxMessage("assistant", ""), new SandboxMessage("tool", "42")],
            request.Messages);
        Assert.Equal("Rule one.\nRule two.", request.SystemPrompt);
        Assert.Equal("Look:\na cat", request.LastUserMessage);
        Assert.Equal(7, request.MaxTokens);
        Assert.False(request.Stream);

        // Content tokens (9, 9, 11, 0 and 2 characters) plus 3 per message.
        Assert.Equal((3 + 3) + (3 + 3) + (3 + 3) + (0 + 3) + (1 + 3), request.InputTokens);
    }

    [Fact]
    public async Task MaxTokens_BothFields_PrefersMaxCompletionTokens()
    {
        var request = await SendAsync("/v1/chat/completions", """{"model":"m","max_tokens":5,"max_completion_tokens":9,"stream":true,"messages":[]}""");

        Assert.Equal(9, request.MaxTokens);
        Assert.True(request.Stream);
        Assert.Null(request.SystemPrompt);
        Assert.Null(request.LastUserMessage);
    }

    [Fact]
    public async Task Recorded_ChatRequest_KeepsMethodPathBodyAndArrivalTime()
    {
        var start = new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);
        const string body = """{"model":"m","messages":[{"role":"user","content":"hi"}]}""";

        var request = await SendAsync("/openai/v1/chat/completions?api-version=1", body, new FakeTimeProvider(start));

        Assert.Equal("POST", request.Method);
        Assert.Equal("/openai/v1/chat/completions", request.Path);
        Assert.Equal(body, request.Body);
        Assert.Equal("m", request.Model);
        Assert.Equal(start, request.ReceivedAt);
        Assert.Empty(request.Inputs);
    }

    [Fact]
    public async Task Inputs_EmbeddingsStringInput_IsSingleInput()
    {
        var request = await SendAsync("/v1/embeddings", """{"model":"e","input":"hello there"}""");

        Assert.Equal(["hello there"], request.Inputs);
        Assert.Equal(SandboxTokens.Count("hello there"), request.InputTokens);
        Assert.Empty(request.Messages);
    }

    [Fact]
    public async Task RequestedModel_HarnessAttempt_IsTheCallersIdAndProviderTheCandidates()
    {
        var request = await SendAsync(
            "/v1/chat/completions",
            """{"model":"claude-sonnet-4-5","messages":[]}""",
            target: new AttemptTarget("anthropic", "policy/claude-4", "claude-sonnet-4-5"));

        Assert.Equal("policy/claude-4", request.RequestedModel);
        Assert.Equal("anthropic", request.Provider);
        Assert.Equal("claude-sonnet-4-5", request.Model);
    }

    [Fact]
    public async Task RequestedModel_RequestNotSentByAHarness_IsNull()
    {
        var request = await SendAsync("/v1/chat/completions", """{"model":"m","messages":[]}""");

        Assert.Null(request.RequestedModel);
        Assert.Null(request.Provider);
    }

    private static async Task<SandboxRequest> SendAsync(string path, string body, TimeProvider? clock = null, AttemptTarget? target = null)
    {
        var sandbox = new SandboxProvider(clock);
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(SandboxClients.Endpoint, path))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        if (target is not null)
        {
            message.Options.Set(AttemptTarget.OptionsKey, target);
        }

        using var response = await sandbox.HandleAsync(message, Ct);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Ct));
        return Assert.Single(sandbox.Requests);
    }
}
