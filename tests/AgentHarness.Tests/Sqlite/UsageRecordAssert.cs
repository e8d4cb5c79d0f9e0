using System.Globalization;

namespace AgentHarness.Tests.Sqlite;

/// <summary>Compares usage records field by field: exact instants and offsets, decimals with their scale, metadata and attempts.</summary>
internal static class UsageRecordAssert
{
    public static void Equal(IReadOnlyList<UsageRecord> expected, IReadOnlyList<UsageRecord> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Equal(expected[i], actual[i], $"record {i}");
        }
    }

    public static void Equal(UsageRecord expected, UsageRecord actual, string at = "record")
    {
        Check(expected.Timestamp.UtcTicks == actual.Timestamp.UtcTicks && expected.Timestamp.Offset == actual.Timestamp.Offset, at, "Timestamp", expected.Timestamp.ToString("O", CultureInfo.InvariantCulture), actual.Timestamp.ToString("O", CultureInfo.InvariantCulture));
        Check(expected.RunId == actual.RunId, at, "RunId", expected.RunId, actual.RunId);
        Check(expected.Agent == actual.Agent, at, "Agent", expected.Agent, actual.Agent);
        Check(expected.Task == actual.Task, at, "Task", expected.Task, actual.Task);
        Check(expected.ModelRequested == actual.ModelRequested, at, "ModelRequested", expected.ModelRequested, actual.ModelRequested);
        Check(expected.ModelUsed == actual.ModelUsed, at, "ModelUsed", expected.ModelUsed, actual.ModelUsed);
        Check(expected.Provider == actual.Provider, at, "Provider", expected.Provider, actual.Provider);
        Check(expected.Operation == actual.Operation, at, "Operation", expected.Operation, actual.Operation);
        Check(expected.Streaming == actual.Streaming, at, "Streaming", expected.Streaming, actual.Streaming);
        Check(expected.InputTokens == actual.InputTokens, at, "InputTokens", expected.InputTokens, actual.InputTokens);
        Check(expected.OutputTokens == actual.OutputTokens, at, "OutputTokens", expected.OutputTokens, actual.OutputTokens);
        Check(expected.CachedInputTokens == actual.CachedInputTokens, at, "CachedInputTokens", expected.CachedInputTokens, actual.CachedInputTokens);
        var expectedCost = expected.CostUsd.ToString(CultureInfo.InvariantCulture);
        var actualCost = actual.CostUsd.ToString(CultureInfo.InvariantCulture);
        Check(expectedCost == actualCost, at, "CostUsd", expectedCost, actualCost);
        Check(expected.CostBasis == actual.CostBasis, at, "CostBasis", expected.CostBasis, actual.CostBasis);
        Check(expected.Latency == actual.Latency, at, "Latency", expected.Latency.Ticks, actual.Latency.Ticks);
        Check(expected.Outcome == actual.Outcome, at, "Outcome", expected.Outcome, actual.Outcome);
        Check(expected.StatusCode == actual.StatusCode, at, "StatusCode", expected.StatusCode, actual.StatusCode);
        Check(expected.Error == actual.Error, at, "Error", expected.Error, actual.Error);
        Check(expected.FromCache == actual.FromCache, at, "FromCache", expected.FromCache, actual.FromCache);
        var expectedSaved = expected.SavedUsd.ToString(CultureInfo.InvariantCulture);
        var actualSaved = actual.SavedUsd.ToString(CultureInfo.InvariantCulture);
        Check(expectedSaved == actualSaved, at, "SavedUsd", expectedSaved, actualSaved);
        Check(expected.CacheKey == actual.CacheKey, at, "CacheKey", expected.CacheKey, actual.CacheKey);
        Check(expected.CacheWriteInputTokens == actual.CacheWriteInputTokens, at, "CacheWriteInputTokens", expected.CacheWriteInputTokens, actual.CacheWriteInputTokens);

        var expectedMetadata = string.Join(", ", expected.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
        var actualMetadata = string.Join(", ", actual.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
        Check(expectedMetadata == actualMetadata, at, "Metadata", expectedMetadata, actualMetadata);
        foreach (var key in expected.Metadata.Keys)
        {
            // Read back keyed without regard to case, as the harness builds it.
            Check(actual.Metadata.ContainsKey(key.ToUpperInvariant()), at, $"Metadata lookup of {key.ToUpperInvariant()}", true, false);
        }

        Check(expected.Attempts.SequenceEqual(actual.Attempts), at, "Attempts", string.Join("; ", expected.Attempts), string.Join("; ", actual.Attempts));
    }

    private static void Check(bool equal, string at, string field, object? expected, object? actual)
    {
        if (!equal)
        {
            Assert.Fail($"{at}: {field} differs.\n  expected {expected}\n  actual   {actual}");
        }
    }
}
