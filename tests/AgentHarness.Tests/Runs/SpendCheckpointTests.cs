using AgentHarness.Tests.Budget;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using OpenAI.Chat;

namespace AgentHarness.Tests.Runs;

/// <summary>A run's spend checkpoints, as the budget stage asks them before a call reserves.</summary>
public sealed class SpendCheckpointTests
{
    // Free input and $0.01 per output token: with at most 10 output tokens every call's worst case is exactly $0.10,
    // whatever the input's bound or count, and each answer (3 output tokens) costs $0.03.
    private const decimal WorstCase = 0.10m;
    private const decimal AnswerCost = 0.03m;

    private static readonly ChatCompletionOptions Max10 = new() { MaxOutputTokenCount = 10 };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Priced(IAgentHarnessBuilder builder)
    {
        TestHarness.ThreeProviders(builder, maxRetries: 0);
        builder.Configure(static o =>
        {
            o.Catalog.UnpricedModels = UnpricedModelHandling.Refuse;
            o.Catalog.Models["openai/priced"] = new ModelPriceOptions { InputPerToken = 0m, OutputPerToken = 0.01m, MaxOutputTokens = 4000 };
            o.Providers["openai"].AttemptTimeout = TimeSpan.FromSeconds(30);
            o.Providers["openai"].TotalTimeout = TimeSpan.FromSeconds(30);
        });
    }

    private static DelegateHandler Answers() =>
        new((_, _) => Task.FromResult(Responses.Json(Responses.ChatJson("priced", promptTokens: 5, completionTokens: 3))));

    private static Task<System.ClientModel.ClientResult<ChatCompletion>> Call(TestHarness host) => CallWith(host, Ct);

    // A guard only, on the real clock: without the code under test a wait would never end, and the test must fail rather than hang.
    private static Task Guard(Task task) => task.WaitAsync(TimeSpan.FromMinutes(1), TimeProvider.System, Ct);

    private static Task<T> Guard<T>(Task<T> task) => task.WaitAsync(TimeSpan.FromMinutes(1), TimeProvider.System, Ct);

    private static Task<System.ClientModel.ClientResult<ChatCompletion>> CallWith(TestHarness host, CancellationToken cancellationToken) =>
        host.Harness.GetChatClient("openai/priced").CompleteChatAsync([new UserChatMessage("review this")], Max10, cancellationToken);

    [Fact]
    public async Task AddSpendCheckpoint_CallWouldCrossAndTheDecisionIsStop_RefusedBeforeSending()
    {
        var transport = Answers();
        var logs = new FakeLogCollector();
        using var host = TestHarness.Create(transport, Priced, s => s.AddLogging(l => l.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(logs))));
        var asked = new List<SpendCheckpointContext>();
        using var run = host.Harness.BeginRun("agent");
        run.AddSpendCheckpoint(0.15m, (context, _) =>
        {
            asked.Add(context);
            return ValueTask.FromResult(SpendCheckpointDecision.Stop("over the review budget"));
        });

        // $0.10 and then $0.03 + $0.10 stay at or below $0.15; $0.06 + $0.10 would go past it.
        await Call(host);
        await Call(host);
        using (run.BeginTask("summarize"))
        {
            var ex = await Assert.ThrowsAsync<SpendCheckpointException>(() => Call(host));

            Assert.Equal(2, transport.Calls);
            Assert.Equal(SpendCheckpointException.RuleName, ex.Rule);
            Assert.Equal(0.15m, ex.CheckpointUsd);
            Assert.Equal(0.15m, ex.LimitUsd);
            Assert.Equal(2 * AnswerCost, ex.SpentUsd);
            Assert.Equal(WorstCase, ex.EstimateUsd);
            Assert.Equal(run.RunId, ex.RunId);
            Assert.Equal(SpendCheckpointAction.Stop, ex.Decision!.Action);
            Assert.Contains("over the review budget", ex.Message, StringComparison.Ordinal);
            Assert.StartsWith("stopped: spend checkpoint $0.15", Assert.Single(ex.Attempts).Error, StringComparison.Ordinal);
        }

        // A later call that would cross it is refused without asking again.
        await Assert.ThrowsAsync<SpendCheckpointException>(() => Call(host));
        Assert.Equal(2, transport.Calls);
        var context = Assert.Single(asked);
        Assert.Equal((2 * AnswerCost, 0m, WorstCase, "openai/priced", "openai/priced", "summarize"), (context.SpentUsd, context.ReservedUsd, context.EstimateUsd, context.Model, context.ModelRequested, context.Task));
        Assert.Equal(0m, run.ReservedUsd);
        var checkpoint = Assert.Single(run.SpendCheckpoints);
        Assert.Equal(SpendCheckpointAction.Stop, checkpoint.Decision!.Action);
        Assert.Equal(host.Time.GetUtcNow(), checkpoint.DecidedAt);
        Assert.Same(context, checkpoint.AskedWith);
        Assert.Equal([UsageOutcome.Succeeded, UsageOutcome.Succeeded, UsageOutcome.Rejected, UsageOutcome.Rejected], host.Ledger.GetRecords().Select(static r => r.Outcome));
        var budgetLogs = logs.GetSnapshot().Where(static r => r.Category == AgentHarnessLogCategories.Budget).ToList();
        Assert.Contains(budgetLogs, static r => r.Id.Id == 22 && r.Message.Contains("asking for a decision", StringComparison.Ordinal));
        Assert.Contains(budgetLogs, static r => r.Id.Id == 23 && r.Message.Contains("decided: stop (over the review budget)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AddSpendCheckpoint_DecisionRaisesTheCap_CallIsReservedAgainstTheNewCap()
    {
        var transport = Answers();
        using var host = TestHarness.Create(transport, Priced);
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 0.12m);
        run.AddSpendCheckpoint(0.10m, static (_, _) => ValueTask.FromResult(SpendCheckpointDecision.ContinueWithCap(1m)));
        await Call(host);

        // $0.03 + $0.10 goes past the checkpoint and does not fit the $0.12 cap: only the raised cap lets it through.
        await Call(host);

        Assert.Equal(2, transport.Calls);
        Assert.Equal(1m, run.MaxCostUsd);
        Assert.Equal(2 * AnswerCost, run.SpentUsd);
        Assert.Equal(0m, run.ReservedUsd);
        Assert.Equal(SpendCheckpointAction.ContinueWithCap, Assert.Single(run.SpendCheckpoints).Decision!.Action);
    }

    [Fact]
    public async Task AddSpendCheckpoint_ConcurrentCallsCrossIt_AsksOnceAndAllWaitForTheOneDecision()
    {
        var transport = Answers();
        var waiting = new WaitingCalls();
        using var host = TestHarness.Create(transport, Priced, s => s.AddLogging(l => l.SetMinimumLevel(LogLevel.Debug).AddProvider(waiting)));
        var asks = 0;
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var approve = new TaskCompletionSource<SpendCheckpointDecision>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var run = host.Harness.BeginRun("agent");
        run.AddSpendCheckpoint(0.05m, (_, _) =>
        {
            Interlocked.Increment(ref asks);
            entered.TrySetResult();
            return new ValueTask<SpendCheckpointDecision>(approve.Task);
        });

        var first = Call(host);
        await Guard(entered.Task);
        var others = Enumerable.Range(0, 3).Select(_ => Task.Run(() => Call(host), Ct)).ToArray();
        for (var i = 0; i < others.Length; i++)
        {
            Assert.True(await waiting.Arrived.WaitAsync(TimeSpan.FromMinutes(1), Ct));
        }

        Assert.Equal(0, transport.Calls);
        approve.SetResult(SpendCheckpointDecision.Continue);
        await first;
        await Task.WhenAll(others);

        Assert.Equal(1, asks);
        Assert.Equal(4, transport.Calls);
        Assert.Equal(4 * AnswerCost, run.SpentUsd);
        Assert.Equal(0m, run.ReservedUsd);
    }

    [Fact]
    public async Task AddSpendCheckpoint_CallbackWaitsPastTheTotalTimeout_CallSucceedsWhenApproved()
    {
        var transport = Answers();
        using var host = TestHarness.Create(transport, Priced);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var approve = new TaskCompletionSource<SpendCheckpointDecision>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var run = host.Harness.BeginRun("agent");
        run.AddSpendCheckpoint(0m, (_, _) =>
        {
            entered.TrySetResult();
            return new ValueTask<SpendCheckpointDecision>(approve.Task);
        });

        var call = Call(host);
        await Guard(entered.Task);

        // A human takes ten minutes over it; the call's total timeout is 30 seconds.
        host.Time.Advance(TimeSpan.FromMinutes(10));
        approve.SetResult(SpendCheckpointDecision.Continue);
        await call;

        Assert.Equal(1, transport.Calls);
        Assert.Equal(UsageOutcome.Succeeded, Assert.Single(host.Ledger.GetRecords()).Outcome);
    }

    [Fact]
    public async Task AddSpendCheckpoint_CallerCancelsDuringTheWait_CallEndsCancelledWithNothingSentOrHeld()
    {
        var transport = Answers();
        using var host = TestHarness.Create(transport, Priced);
        var entered = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
        var human = new TaskCompletionSource<SpendCheckpointDecision>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 1m);

        // A callback that does not listen to its token: the caller's cancellation alone must end the call's wait.
        run.AddSpendCheckpoint(0m, (_, token) =>
        {
            entered.TrySetResult(token);
            return new ValueTask<SpendCheckpointDecision>(human.Task);
        });
        using var caller = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var call = CallWith(host, caller.Token);
        var given = await Guard(entered.Task);
        await caller.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Guard(call));
        Assert.True(given.IsCancellationRequested);
        Assert.Equal(0, transport.Calls);
        Assert.Equal(0m, run.ReservedUsd);
        Assert.Equal(UsageOutcome.Canceled, Assert.Single(host.Ledger.GetRecords()).Outcome);
        Assert.Null(Assert.Single(run.SpendCheckpoints).Decision);
        human.SetResult(SpendCheckpointDecision.Stop());
    }

    [Fact]
    public async Task AddSpendCheckpoint_CallbackEndsByTheAskingCallersCancellation_AWaitingCallAsksAgain()
    {
        var transport = Answers();
        var waiting = new WaitingCalls();
        using var host = TestHarness.Create(transport, Priced, s => s.AddLogging(l => l.SetMinimumLevel(LogLevel.Debug).AddProvider(waiting)));
        var asks = 0;
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var run = host.Harness.BeginRun("agent");
        run.AddSpendCheckpoint(0m, async (_, token) =>
        {
            if (Interlocked.Increment(ref asks) > 1)
            {
                return SpendCheckpointDecision.Continue;
            }

            entered.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, token);
            return SpendCheckpointDecision.Stop();
        });
        using var caller = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var asking = CallWith(host, caller.Token);
        await Guard(entered.Task);
        var waitingCall = Task.Run(() => Call(host), Ct);
        Assert.True(await waiting.Arrived.WaitAsync(TimeSpan.FromMinutes(1), Ct));

        // The call that asked goes away, and its callback with it: no decision was made, so the waiting call asks.
        await caller.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Guard(asking));
        await Guard(waitingCall);

        Assert.Equal(2, asks);
        Assert.Equal(1, transport.Calls);
        Assert.Equal(SpendCheckpointAction.Continue, Assert.Single(run.SpendCheckpoints).Decision!.Action);
        Assert.Equal([UsageOutcome.Canceled, UsageOutcome.Succeeded], host.Ledger.GetRecords().Select(static r => r.Outcome));
    }

    [Fact]
    public async Task AddSpendCheckpoint_CallbackThrows_CallFailsWithTheTypedExceptionAndTheNextCallAsksAgain()
    {
        var transport = Answers();
        using var host = TestHarness.Create(transport, Priced);
        var asks = 0;
        using var run = host.Harness.BeginRun("agent");
        run.AddSpendCheckpoint(0m, (_, _) => Interlocked.Increment(ref asks) == 1
            ? throw new InvalidOperationException("approval service is down")
            : ValueTask.FromResult(SpendCheckpointDecision.Continue));

        var ex = await Assert.ThrowsAsync<SpendCheckpointException>(() => Call(host));

        Assert.IsType<InvalidOperationException>(ex.InnerException);
        Assert.Null(ex.Decision);
        Assert.Contains("approval service is down", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, transport.Calls);
        Assert.Equal(0m, run.ReservedUsd);
        await Call(host);
        Assert.Equal(2, asks);
        Assert.Equal(1, transport.Calls);
    }

    [Fact]
    public async Task AddSpendCheckpoint_CallInANestedRun_TheEnclosingRunsCheckpointStopsIt()
    {
        var transport = Answers();
        using var host = TestHarness.Create(transport, Priced);
        using var outer = host.Harness.BeginRun("orchestrator");
        outer.AddSpendCheckpoint(0.05m, static (_, _) => ValueTask.FromResult(SpendCheckpointDecision.Stop()));
        using var inner = host.Harness.BeginRun("reviewer");

        var ex = await Assert.ThrowsAsync<SpendCheckpointException>(() => Call(host));

        Assert.Equal(outer.RunId, ex.RunId);
        Assert.Equal(0, transport.Calls);
        Assert.Equal((0m, 0m), (inner.ReservedUsd, outer.ReservedUsd));
    }

    [Fact]
    public async Task AddSpendCheckpoint_UncappedRunWithACallInFlight_CountsWhatThatCallHolds()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var transport = new DelegateHandler(async (_, ct) =>
        {
            entered.TrySetResult();
            await release.Task.WaitAsync(ct);
            return Responses.Json(Responses.ChatJson("priced", promptTokens: 5, completionTokens: 3));
        });
        using var host = TestHarness.Create(transport, Priced);
        SpendCheckpointContext? asked = null;
        using var run = host.Harness.BeginRun("agent");
        run.AddSpendCheckpoint(0.15m, (context, _) =>
        {
            asked = context;
            return ValueTask.FromResult(SpendCheckpointDecision.Stop());
        });

        var first = Call(host);
        await Guard(entered.Task);

        // Alone, each call's $0.10 stays below $0.15; with the first one's reservation the second would go past it.
        Assert.Equal(WorstCase, run.ReservedUsd);
        await Assert.ThrowsAsync<SpendCheckpointException>(() => Call(host));
        release.SetResult();
        await first;

        Assert.Equal(WorstCase, asked!.ReservedUsd);
        Assert.Equal(1, transport.Calls);
        Assert.Equal(0m, run.ReservedUsd);
    }

    [Fact]
    public void AddSpendCheckpoint_NegativeAmount_Throws()
    {
        using var host = TestHarness.Create(Answers(), Priced);
        using var run = host.Harness.BeginRun("agent");

        Assert.Throws<ArgumentOutOfRangeException>(() => run.AddSpendCheckpoint(-0.01m, static (_, _) => ValueTask.FromResult(SpendCheckpointDecision.Continue)));
        Assert.Empty(run.SpendCheckpoints);
    }

    /// <summary>Counts the calls that log that they wait for a decision another call asked for.</summary>
    private sealed class WaitingCalls : ILoggerProvider, ILogger
    {
        public SemaphoreSlim Arrived { get; } = new(0);

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == 26 && formatter(state, exception).Contains("waits for the decision", StringComparison.Ordinal))
            {
                Arrived.Release();
            }
        }

        public void Dispose() => Arrived.Dispose();
    }
}
