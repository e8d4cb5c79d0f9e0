using AgentHarness.Pipeline.Internal;

namespace AgentHarness.Tests.Pipeline;

public sealed class UsageCaptureTests
{
    private static UsageRecord Record(string model) => new()
    {
        Timestamp = DateTimeOffset.UnixEpoch,
        ModelRequested = model,
        Operation = "chat/completions",
        Outcome = UsageOutcome.Succeeded,
    };

    [Fact]
    public void Add_NestedScopes_ReachesTheScopeAndEveryEnclosingOne()
    {
        using (UsageCapture.Open(out var outer))
        {
            using (UsageCapture.Open(out var inner))
            {
                Assert.Same(inner, UsageCapture.Current);
                inner.Add(Record("a"));
            }

            Assert.Same(outer, UsageCapture.Current);
            outer.Add(Record("b"));
            Assert.Equal(["a", "b"], outer.Records.Select(static r => r.ModelRequested));
            Assert.Equal("b", outer.Last!.ModelRequested);
        }

        Assert.Null(UsageCapture.Current);
    }

    [Fact]
    public async Task Open_ConcurrentFlows_EachSeesItsOwnScope()
    {
        async Task<UsageCapture?> Flow()
        {
            using var scope = UsageCapture.Open(out var capture);
            await Task.Yield();
            return ReferenceEquals(UsageCapture.Current, capture) ? capture : null;
        }

        var scopes = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(Flow, TestContext.Current.CancellationToken)));

        Assert.All(scopes, Assert.NotNull);
        Assert.Equal(8, scopes.Distinct().Count());
    }
}
