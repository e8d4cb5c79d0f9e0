using System.ComponentModel;
using System.Text.Json.Serialization;
using AgentHarness.Agents;
using AgentHarness.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace AgentHarness.Tests.Agents;

public sealed class ChatClientTaskExtensionsTests
{
    public enum Change
    {
        [Description("fixes a defect")]
        BugFix,

        [Description("adds new behaviour")]
        Feature,

        Refactor,

        [JsonStringEnumMemberName("docs-only")]
        Docs,
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static (ServiceProvider Services, IAgentHarness Harness, SandboxProvider Sandbox) Create()
    {
        var sandbox = new SandboxProvider(new FakeTimeProvider());
        var services = new ServiceCollection();
        services.AddAgentHarness(static o => o.Catalog.UnpricedModels = UnpricedModelHandling.Allow).AddSandboxGateway(sandbox);
        var provider = services.BuildServiceProvider();
        return (provider, provider.GetRequiredService<IAgentHarness>(), sandbox);
    }

    [Theory]
    [InlineData("refactor", Change.Refactor)]
    [InlineData("  Bug-Fix.\n", Change.BugFix)]
    [InlineData("\"feature\"", Change.Feature)]
    [InlineData("docs-only", Change.Docs)]
    [InlineData("BugFix", Change.BugFix)]
    [InlineData("\"refactor\".", Change.Refactor)]
    [InlineData("'docs-only'.", Change.Docs)]
    [InlineData("\"feature.\"", Change.Feature)]
    public async Task ClassifyAsync_AnswerIsALabel_ReturnsThatValue(string answer, Change expected)
    {
        var (services, harness, sandbox) = Create();
        using var _ = services;
        sandbox.Model("openai/gpt-4.1-nano").Reply(answer);

        var result = await harness.GetChatClient("openai/gpt-4.1-nano").ClassifyAsync<Change>("diff", cancellationToken: Ct);

        Assert.Equal(expected, result);
    }

    [Theory]
    [InlineData("It is a refactor")]
    [InlineData("refactor, maybe feature")]
    [InlineData("")]
    public async Task ClassifyAsync_AnswerIsNotALabel_ThrowsWithTheRawAnswer(string answer)
    {
        var (services, harness, sandbox) = Create();
        using var _ = services;
        sandbox.Model("openai/gpt-4.1-nano").Reply(answer);

        var ex = await Assert.ThrowsAsync<ClassificationException>(() => harness.GetChatClient("openai/gpt-4.1-nano").ClassifyAsync<Change>("diff", cancellationToken: Ct));

        Assert.Equal(answer, ex.RawAnswer);
        Assert.Equal(["bug-fix", "feature", "refactor", "docs-only"], ex.Labels);
    }

    [Fact]
    public async Task ClassifyAsync_Prompt_ListsLabelsWithDescriptionsAndCapsOutput()
    {
        var (services, harness, sandbox) = Create();
        using var _ = services;
        sandbox.Model("openai/gpt-4.1-nano").Reply("feature");

        using (var run = harness.BeginRun("agent"))
        {
            await harness.GetChatClient("openai/gpt-4.1-nano").ClassifyAsync<Change>("the diff", "Prefer refactor when unsure.", Ct);
            Assert.Null(run.CurrentTask);
        }

        var request = Assert.Single(sandbox.Requests);
        Assert.Contains("- bug-fix: fixes a defect\n- feature: adds new behaviour\n- refactor\n- docs-only\n", request.SystemPrompt, StringComparison.Ordinal);
        Assert.Contains("Prefer refactor when unsure.", request.SystemPrompt, StringComparison.Ordinal);
        Assert.Equal("the diff", request.LastUserMessage);
        Assert.Equal(16, request.MaxTokens);
        Assert.Equal(["classify"], request.Headers["X-Requesty-Task"]);
    }

    [Fact]
    public async Task ReviewAndSummarize_SetTheirTasksAndPrompts()
    {
        var (services, harness, sandbox) = Create();
        using var _ = services;

        using (harness.BeginRun("agent"))
        {
            await harness.GetChatClient("policy/claude-4").ReviewAsync("diff", "refactor", cancellationToken: Ct);
            await harness.GetChatClient("google/gemini-2.5-flash").SummarizeAsync("review text", cancellationToken: Ct);
        }

        var requests = sandbox.Requests;
        Assert.Equal(["review"], requests[0].Headers["X-Requesty-Task"]);
        Assert.Contains("This change is a refactor.", requests[0].SystemPrompt, StringComparison.Ordinal);
        Assert.Equal(500, requests[0].MaxTokens);
        Assert.Equal(["summarize"], requests[1].Headers["X-Requesty-Task"]);
        Assert.Equal(("review text", 100), (requests[1].LastUserMessage, requests[1].MaxTokens));
    }

    [Theory]
    [InlineData(Change.BugFix, "bug-fix")]
    [InlineData(Change.Refactor, "refactor")]
    [InlineData(Change.Docs, "docs-only")]
    public void LabelOf_NamedValue_ReturnsTheLabelClassifyAsyncUses(Change value, string expected)
    {
        Assert.Equal(expected, ChatClientTaskExtensions.LabelOf(value));
    }

    [Fact]
    public void LabelOf_UnnamedValue_Throws()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ChatClientTaskExtensions.LabelOf((Change)42));

        Assert.Contains("42 is not a named value of Change", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReviewAsync_ClassifiedLabel_SendsTheLabelNotTheMemberName()
    {
        var (services, harness, sandbox) = Create();
        using var _ = services;
        sandbox.Model("openai/gpt-4.1-nano").Reply("bug-fix");

        var category = await harness.GetChatClient("openai/gpt-4.1-nano").ClassifyAsync<Change>("diff", cancellationToken: Ct);
        await harness.GetChatClient("policy/claude-4").ReviewAsync("diff", ChatClientTaskExtensions.LabelOf(category), cancellationToken: Ct);

        Assert.Contains("This change is a bug-fix.", sandbox.Requests[1].SystemPrompt, StringComparison.Ordinal);
    }
}
