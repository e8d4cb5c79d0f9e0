using System.Text;
using AgentHarness.Pipeline.Internal;
using AgentHarness.Routing.Internal;

namespace AgentHarness.Tests.Routing;

public sealed class RecentFailuresTests
{
    private static readonly byte[] Overloaded = Encoding.UTF8.GetBytes("""{"error":{"message":"The server is overloaded","type":"server_error","code":"server_error"}}""");

    private static readonly byte[] RateLimited = Encoding.UTF8.GetBytes("""{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}""");

    private static readonly byte[] QuotaGone = Encoding.UTF8.GetBytes("""{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}""");

    [Fact]
    public void Classify_SameBodyThreeTimes_JudgedOnceKeptFromTheSecondOn()
    {
        var failures = new RecentFailures();

        var first = failures.Classify(503, Overloaded);
        var second = failures.Classify(503, Overloaded);
        var third = failures.Classify(503, Overloaded);

        // Each classification builds its reason anew: the same instance means the judgement was kept, not made again.
        Assert.Equal(FailureClassifier.Classify(503, Overloaded), first);
        Assert.NotSame(first.Reason, second.Reason);
        Assert.Same(second.Reason, third.Reason);
        Assert.Equal(first, third);
    }

    [Fact]
    public void Classify_TwoBodiesOfOneStatusAlternating_EachKeepsItsOwnJudgement()
    {
        var failures = new RecentFailures();

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(FailureKind.Transient, failures.Classify(429, RateLimited).Kind);
            Assert.Equal(FailureKind.QuotaExceeded, failures.Classify(429, QuotaGone).Kind);
        }
    }

    [Fact]
    public void Classify_SameBodyOtherStatus_JudgedForItsStatus()
    {
        var failures = new RecentFailures();
        failures.Classify(503, Overloaded);
        failures.Classify(503, Overloaded);

        Assert.Equal("HTTP 500 server_error", failures.Classify(500, Overloaded).Reason);
        Assert.Equal("HTTP 503 server_error", failures.Classify(503, Overloaded).Reason);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(404)]
    [InlineData(401)]
    public void Classify_RequestErrors_NeverKept(int status)
    {
        // A 4xx body may quote the request: it is judged each time and held nowhere.
        var failures = new RecentFailures();

        var reasons = Enumerable.Range(0, 3).Select(_ => failures.Classify(status, Overloaded).Reason).ToArray();

        Assert.NotSame(reasons[1], reasons[2]);
        Assert.Equal(FailureClassifier.Classify(status, Overloaded), failures.Classify(status, Overloaded));
    }

    [Fact]
    public void Classify_BodyOverTheLimit_NeverKept()
    {
        var failures = new RecentFailures();
        var large = Encoding.UTF8.GetBytes("""{"error":{"code":"server_error","message":" """ + new string('x', RecentFailures.MaxBodyBytes) + "\"}}");

        var reasons = Enumerable.Range(0, 3).Select(_ => failures.Classify(503, large).Reason).ToArray();

        Assert.Equal("HTTP 503 server_error", reasons[2]);
        Assert.NotSame(reasons[1], reasons[2]);
    }

    [Fact]
    public void Classify_ManyDistinctBodies_EachJudgedAsTheClassifierDoes()
    {
        // More bodies than entries, each seen twice in a row: whichever slot they share, none is judged as another.
        var failures = new RecentFailures();
        for (var i = 0; i < 200; i++)
        {
            var body = Encoding.UTF8.GetBytes("{\"error\":{\"code\":\"code_" + i + "\"}}");
            var expected = FailureClassifier.Classify(503, body);
            Assert.Equal(expected, failures.Classify(503, body));
            Assert.Equal(expected, failures.Classify(503, body));
            Assert.Equal(expected, failures.Classify(503, body));
        }
    }
}
