using System.Text.Json;
using Microsoft.Extensions.AI;

namespace AgentHarness.Tests.AI;

public sealed class HarnessUsageExtensionsTests
{
    private static readonly UsageRecord Record = new()
    {
        Timestamp = new DateTimeOffset(2026, 5, 1, 9, 0, 0, TimeSpan.Zero),
        ModelRequested = "policy/review",
        ModelUsed = "gpt-4.1-mini",
        Provider = "openai",
        Operation = "chat/completions",
        CostUsd = 0.0000168m,
        CostBasis = CostBasis.Catalog,
        Outcome = UsageOutcome.Succeeded,
    };

    [Fact]
    public void GetHarnessUsage_ResponseOfAnotherClient_ReturnsNull()
    {
        Assert.Null(new ChatResponse(new ChatMessage(ChatRole.Assistant, "hi")).GetHarnessUsage());
        Assert.Null(new ChatResponseUpdate(ChatRole.Assistant, "hi") { AdditionalProperties = new() { ["other"] = 1 } }.GetHarnessUsage());
        Assert.Null(new GeneratedEmbeddings<Embedding<float>>().GetHarnessUsage());
    }

    [Fact]
    public void GetHarnessUsage_RecordUnderTheKey_ReturnsTheSameInstance()
    {
        var response = new ChatResponse { AdditionalProperties = new() { [HarnessUsageExtensions.UsageKey] = Record } };

        Assert.Same(Record, response.GetHarnessUsage());
        Assert.Same(Record, response.AdditionalProperties.GetHarnessUsage());
    }

    [Fact]
    public void GetHarnessUsage_RecordRestoredFromJson_ReturnsNull()
    {
        // What a cache hands back: the response serialized and read again, its record now a JsonElement.
        var json = JsonSerializer.Serialize(new ChatResponse { AdditionalProperties = new() { [HarnessUsageExtensions.UsageKey] = Record } }, AIJsonUtilities.DefaultOptions);
        var restored = JsonSerializer.Deserialize<ChatResponse>(json, AIJsonUtilities.DefaultOptions)!;

        Assert.True(restored.AdditionalProperties!.ContainsKey(HarnessUsageExtensions.UsageKey));
        Assert.Null(restored.GetHarnessUsage());
    }
}
