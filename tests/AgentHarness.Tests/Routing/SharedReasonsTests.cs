using AgentHarness.Routing.Internal;

namespace AgentHarness.Tests.Routing;

public sealed class SharedReasonsTests
{
    // Built at run time, so that each is a string of its own, as a classifier's reason is.
    private static string Built(int status, string code) => $"HTTP {status} {code}";

    [Fact]
    public void Share_SameTextBuiltTwice_ReturnsTheFirstInstance()
    {
        var reasons = new SharedReasons();
        var first = reasons.Share(Built(503, "shared_reasons_test_a"));
        var second = Built(503, "shared_reasons_test_a");

        Assert.NotSame(first, second);
        Assert.Same(first, reasons.Share(second));
    }

    [Fact]
    public void Share_OtherText_ReturnsItsOwnText()
    {
        var reasons = new SharedReasons();
        var first = reasons.Share(Built(503, "shared_reasons_test_b"));
        var other = reasons.Share(Built(429, "shared_reasons_test_b"));

        Assert.Equal("HTTP 503 shared_reasons_test_b", first);
        Assert.Equal("HTTP 429 shared_reasons_test_b", other);
    }

    [Fact]
    public void Share_ManyDistinctReasons_EveryResultEqualsItsInput()
    {
        var reasons = new SharedReasons();
        // More reasons than the table has slots: each still comes back as its own text, whichever slot it lands in.
        for (var i = 0; i < 1_000; i++)
        {
            var reason = Built(500, "code_" + i);
            Assert.Equal(reason, reasons.Share(reason));
        }
    }
}
