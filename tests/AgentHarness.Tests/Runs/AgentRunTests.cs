using AgentHarness.Tests.Support;
using RichardSzalay.MockHttp;

namespace AgentHarness.Tests.Runs;

public sealed class AgentRunTests
{
    private static TestHarness Host() => TestHarness.Create(new MockHttpMessageHandler(), b => TestHarness.ThreeProviders(b));

    [Theory]
    [InlineData("feat/x\r\nX-Evil: 1", "a carriage return (CR) at position 6")]
    [InlineData("feat/x\nmore", "a line feed (LF) at position 6")]
    [InlineData("a\0b", "a NUL character at position 1")]
    [InlineData("café", "the non-ASCII character U+00E9 at position 3")]
    public void Branch_InvalidValue_ThrowsNamingTheField(string value, string problem)
    {
        using var host = Host();
        using var run = host.Harness.BeginRun("agent");

        var ex = Assert.Throws<ArgumentException>(() => run.Branch = value);

        Assert.Equal("Branch", ex.ParamName);
        Assert.Contains(problem, ex.Message, StringComparison.Ordinal);
        Assert.Null(run.Branch);
    }

    [Fact]
    public void SetValue_Over1024Characters_Refused()
    {
        using var host = Host();
        using var run = host.Harness.BeginRun("agent");
        run.Customer = new string('c', 1024);

        var ex = Assert.Throws<ArgumentException>(() => run.Customer = new string('c', 1025));

        Assert.Equal("Customer", ex.ParamName);
        Assert.Contains("1025 characters", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Ticket Id")]
    [InlineData("Ticket:")]
    [InlineData("Tické")]
    [InlineData("")]
    public void SetExtra_InvalidName_Refused(string name)
    {
        using var host = Host();
        using var run = host.Harness.BeginRun("agent");

        var ex = Assert.Throws<ArgumentException>(() => run.SetExtra(name, "v"));

        Assert.Equal("name", ex.ParamName);
    }

    [Fact]
    public void SetExtra_InvalidValue_ThrowsNamingTheKey()
    {
        using var host = Host();
        using var run = host.Harness.BeginRun("agent");

        var ex = Assert.Throws<ArgumentException>(() => run.SetExtra("Ticket", "T-1\r\n"));

        Assert.Equal("Ticket", ex.ParamName);
    }

    [Theory]
    [InlineData("agent")]
    [InlineData("Task")]
    [InlineData("BRANCH")]
    public void SetExtra_BuiltInName_Refused(string name)
    {
        using var host = Host();
        using var run = host.Harness.BeginRun("agent");

        Assert.Throws<ArgumentException>(() => run.SetExtra(name, "v"));
    }

    [Fact]
    public void BeginRun_InvalidAgent_ThrowsAndLeavesNoRun()
    {
        using var host = Host();

        var ex = Assert.Throws<ArgumentException>(() => host.Harness.BeginRun("agent\n"));

        Assert.Equal("Agent", ex.ParamName);
        Assert.Null(AgentRun.Current);
    }

    [Fact]
    public void BeginRun_ConfigureThrows_RunIsNotLeftCurrent()
    {
        using var host = Host();

        Assert.Throws<ArgumentException>(() => host.Harness.BeginRun("agent", r => r.Team = "t\r"));

        Assert.Null(AgentRun.Current);
    }

    [Fact]
    public void Dispose_NestedRuns_RestoresTheOuterRun()
    {
        using var host = Host();
        using var outer = host.Harness.BeginRun("outer");

        using (var inner = host.Harness.BeginRun("inner"))
        {
            Assert.Same(inner, AgentRun.Current);
        }

        Assert.Same(outer, AgentRun.Current);
    }

    [Fact]
    public void Dispose_OutOfOrder_NeverLeavesADisposedRunCurrent()
    {
        using var host = Host();
        var a = host.Harness.BeginRun("a");
        var b = host.Harness.BeginRun("b");

        a.Dispose();
        Assert.Same(b, AgentRun.Current);
        b.Dispose();

        Assert.Null(AgentRun.Current);
    }

    [Fact]
    public void BeginTask_NestedScopes_RestorePreviousTask()
    {
        using var host = Host();
        using var run = host.Harness.BeginRun("agent");

        using (run.BeginTask("review"))
        {
            using (run.BeginTask("summarize"))
            {
                Assert.Equal("summarize", run.CurrentTask);
            }

            Assert.Equal("review", run.CurrentTask);
        }

        Assert.Null(run.CurrentTask);
    }

    [Fact]
    public async Task BeginRun_ParallelFlows_NeverSeeEachOthersRunOrTask()
    {
        using var host = Host();
        using var gate = new Barrier(4);

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => Task.Run(
            async () =>
            {
                using var run = host.Harness.BeginRun($"agent-{i}", r => r.Branch = $"branch-{i}");
                using var task = run.BeginTask($"task-{i}");
                gate.SignalAndWait(TestContext.Current.CancellationToken);
                await Task.Yield();
                var current = AgentRun.Current!;
                return (current.Agent, current.Branch, current.CurrentTask, current.RunId);
            },
            TestContext.Current.CancellationToken)));

        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(($"agent-{i}", $"branch-{i}", $"task-{i}"), (results[i].Agent, results[i].Branch, results[i].CurrentTask));
        }

        Assert.Equal(4, results.Select(r => r.RunId).Distinct().Count());
        Assert.Null(AgentRun.Current);
    }

    [Fact]
    public void Metadata_ReflectsBuiltInsAndExtras()
    {
        using var host = Host();
        using var run = host.Harness.BeginRun("agent", r =>
        {
            r.Branch = "main";
            r.Environment = "prod";
            r.Customer = "acme";
            r.Team = "platform";
            r.Repo = "acme/api";
            r.User = "dev1";
            r.SetExtra("Ticket", "T-9").SetExtra("Gone", "x").SetExtra("Gone", null);
        });

        Assert.Equal(
            new Dictionary<string, string>
            {
                ["agent"] = "agent", ["branch"] = "main", ["environment"] = "prod", ["customer"] = "acme",
                ["team"] = "platform", ["repo"] = "acme/api", ["user"] = "dev1", ["Ticket"] = "T-9",
            },
            run.Metadata.ToDictionary(p => p.Key, p => p.Value));
        Assert.Equal(host.Time.GetUtcNow(), run.StartedAt);
    }

    [Fact]
    public async Task Calls_ManyCalls_KeepsTheMostRecentAndCountsAll()
    {
        var mock = new RecordingMock();
        mock.Respond("https://gateway.test/v1/chat/completions", r => Responses.Json(Responses.ChatJson("m", content: "ok")));
        using var host = TestHarness.Create(mock.Handler, b => TestHarness.ThreeProviders(b));
        var client = host.Harness.GetChatClient("x/m");
        using var run = host.Harness.BeginRun("agent");

        for (var i = 0; i < AgentRun.MaxCallsKept + 5; i++)
        {
            host.Time.Advance(TimeSpan.FromSeconds(1));
            await client.CompleteChatAsync([new OpenAI.Chat.UserChatMessage("a")], cancellationToken: TestContext.Current.CancellationToken);
        }

        Assert.Equal(AgentRun.MaxCallsKept + 5, run.CallCount);
        var calls = run.Calls;
        Assert.Equal(AgentRun.MaxCallsKept, calls.Count);
        Assert.Equal(host.Time.GetUtcNow(), calls[^1].Timestamp);
    }
}
