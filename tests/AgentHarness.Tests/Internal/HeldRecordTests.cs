using AgentHarness.Internal;

namespace AgentHarness.Tests.Internal;

public sealed class HeldRecordTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ToRecord_EveryPropertyOfTheRecordAndItsAttempts_ComesBackEqual(int attempts)
    {
        var record = FullRecord(attempts);

        var copy = new HeldRecord(record).ToRecord();

        Assert.NotSame(record, copy);
        AssertSameValues(record, copy);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void ToRecord_TheFlags_EachComesBackAsItWas(bool streaming, bool fromCache)
    {
        var record = FullRecord(1) with { Streaming = streaming, FromCache = fromCache };

        var copy = new HeldRecord(record).ToRecord();

        Assert.Equal((streaming, fromCache), (copy.Streaming, copy.FromCache));
    }

    [Fact]
    public void ToRecord_NoAttemptsList_ComesBackWithNone()
    {
        var record = FullRecord(1) with { Attempts = null! };

        var copy = new HeldRecord(record).ToRecord();

        Assert.Empty(copy.Attempts);
        Assert.Equal(record.CostUsd, copy.CostUsd);
    }

    [Fact]
    public void ToRecord_ADefaultRecord_ComesBackEqual()
    {
        var record = new UsageRecord { Timestamp = default, ModelRequested = "m", Operation = "embeddings", Outcome = UsageOutcome.Rejected };

        var copy = new HeldRecord(record).ToRecord();

        Assert.Equal(record with { Attempts = copy.Attempts }, copy);
        Assert.Empty(copy.Attempts);
        Assert.Same(record.Metadata, copy.Metadata);
    }

    private static UsageRecord FullRecord(int attempts)
    {
        // Every property set to a value other than its default, so a property the ledger forgets to keep is caught.
        var attempt = new UsageAttempt("prov", "model-a", AttemptOutcome.Failed, 503, "overloaded", TimeSpan.FromMilliseconds(12)) { OutputTokenLimit = 77 };
        return new UsageRecord
        {
            Timestamp = new DateTimeOffset(2026, 5, 1, 2, 3, 4, TimeSpan.FromHours(2)),
            RunId = "run-1",
            Agent = "agent",
            Task = "task",
            Metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["agent"] = "agent", ["branch"] = "main" },
            ModelRequested = "policy/p",
            ModelUsed = "model-b-2026",
            Provider = "prov2",
            Operation = "chat/completions",
            Streaming = true,
            InputTokens = 11,
            OutputTokens = 12,
            CachedInputTokens = 3,
            CacheWriteInputTokens = 2,
            CostUsd = 0.000123456789012m,
            CostBasis = CostBasis.Estimated,
            Latency = TimeSpan.FromMilliseconds(345),
            Outcome = UsageOutcome.Incomplete,
            StatusCode = 200,
            Error = "cut",
            Attempts = attempts switch
            {
                0 => [],
                1 => [attempt],
                2 => [attempt, attempt with { Outcome = AttemptOutcome.Succeeded, StatusCode = 200, Error = null }],
                _ => [attempt, attempt with { Model = "model-c" }, attempt with { Outcome = AttemptOutcome.Succeeded, StatusCode = 200, Error = null }],
            },
            FromCache = true,
            SavedUsd = 0.5m,
            CacheKey = "key",
        };
    }

    private static void AssertSameValues(UsageRecord expected, UsageRecord actual)
    {
        foreach (var property in typeof(UsageRecord).GetProperties())
        {
            var (want, got) = (property.GetValue(expected), property.GetValue(actual));
            if (property.Name == nameof(UsageRecord.Attempts))
            {
                Assert.Equal(expected.Attempts, actual.Attempts);
            }
            else
            {
                Assert.True(Equals(want, got), $"{property.Name}: expected {want}, got {got}");
                Assert.NotEqual(property.PropertyType.IsValueType ? Activator.CreateInstance(property.PropertyType) : null, want);
            }
        }

        foreach (var property in typeof(UsageAttempt).GetProperties())
        {
            if (expected.Attempts.Count > 0 && property.Name != "EqualityContract")
            {
                Assert.NotEqual(property.PropertyType.IsValueType ? Activator.CreateInstance(property.PropertyType) : null, property.GetValue(expected.Attempts[0]));
            }
        }
    }
}
