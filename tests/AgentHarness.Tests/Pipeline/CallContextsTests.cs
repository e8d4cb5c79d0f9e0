using System.Net;
using AgentHarness.Pipeline.Internal;
using Microsoft.Extensions.Time.Testing;

namespace AgentHarness.Tests.Pipeline;

public sealed class CallContextsTests
{
    private static readonly CallPipeline Pipeline = new(new CallStages([], []), new TransportStage(new NoTransport(), AgentHarness.Http.Internal.BodyLimits.Default));

    [Fact]
    public void Rent_AfterAWholeAnswerReleased_GetsTheSameContextClearedOfTheCallBefore()
    {
        var contexts = new CallContexts();
        var first = Start(contexts, out var request);
        first.CostUsd = 0.5m;
        first.Answer = new byte[] { 1, 2, 3 };
        first.Attempts.Add(new UsageAttempt("p", "m", AttemptOutcome.Succeeded, 200, null, TimeSpan.FromMilliseconds(5)));
        first.Complete(new HttpResponseMessage(HttpStatusCode.OK));
        first.Release();

        var second = contexts.Rent();

        Assert.Same(first, second);
        Assert.False(second.Finished);
        Assert.Equal(0m, second.CostUsd);
        Assert.Null(second.Answer);
        Assert.Equal(0, second.Attempts.Count);
        Assert.Null(second.Request);
        Assert.Null(second.Run);
        Assert.Empty(second.Runs);
        Assert.Null(second.OwnRequest.Model);
        Assert.Null(second.OwnRequest.Message);
        Assert.Null(second.Attempt.Request);
        request.Dispose();
    }

    [Fact]
    public void Release_OfACallThatHasNotEnded_DoesNotGiveItBack()
    {
        var contexts = new CallContexts();
        var first = Start(contexts, out var request);
        first.Release();

        var second = contexts.Rent();

        Assert.NotSame(first, second);
        request.Dispose();
    }

    [Fact]
    public void Release_ByTheHandlerWhileItsStreamIsRead_KeepsTheContextUntilTheStreamEnds()
    {
        var contexts = new CallContexts();
        var call = Start(contexts, out var request);
        call.HoldForStream();
        call.Streamed = true;
        call.Complete(new HttpResponseMessage(HttpStatusCode.OK));
        call.Release();

        var whileStreaming = contexts.Rent();
        ((AgentHarness.Http.Internal.IStreamCompletion)call).OnStreamCompleted(new AgentHarness.Http.Internal.SseUsageObserver(1024), endedNormally: true, canceled: false, error: null);
        var afterTheEnd = contexts.Rent();

        Assert.NotSame(call, whileStreaming);
        Assert.Same(call, afterTheEnd);
        Assert.False(afterTheEnd.Streamed);
        request.Dispose();
    }

    [Fact]
    public void Release_OfAStreamThatEndedBeforeTheHandlerReturned_GivesItBackWhenTheHandlerLetsGo()
    {
        var contexts = new CallContexts();
        var call = Start(contexts, out var request);
        call.HoldForStream();
        call.Streamed = true;
        ((AgentHarness.Http.Internal.IStreamCompletion)call).OnStreamCompleted(new AgentHarness.Http.Internal.SseUsageObserver(1024), endedNormally: true, canceled: false, error: null);

        var beforeTheHandler = contexts.Rent();
        call.Release();
        var afterTheHandler = contexts.Rent();

        Assert.NotSame(call, beforeTheHandler);
        Assert.Same(call, afterTheHandler);
        request.Dispose();
    }

    [Fact]
    public void Release_OfACallTheResponseCacheTookPartIn_DoesNotGiveItBack()
    {
        var contexts = new CallContexts();
        var call = Start(contexts, out var request);
        call.CacheState = new object();
        call.Complete(new HttpResponseMessage(HttpStatusCode.OK));
        call.Release();

        Assert.NotSame(call, contexts.Rent());
        request.Dispose();
    }

    [Fact]
    public void Release_OfAContextNotTakenFromContexts_KeepsItOutOfEveryPool()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://agentharness.invalid/v1/chat/completions");
        var call = new CallContext(Pipeline, AgentHarness.Pipeline.Internal.CallRequest.FromClient(request, "/chat/completions", "chat/completions", "m", "m", stream: false), 0, new FakeTimeProvider(), CancellationToken.None, synchronous: false);
        call.Complete(new HttpResponseMessage(HttpStatusCode.OK));

        call.Release();

        Assert.True(call.Finished);
    }

    [Fact]
    public void Rent_AfterACallThatSetEveryField_GetsAContextLikeANewOneButForWhatItKeeps()
    {
        // A field added to the context and not cleared by Reset would carry one call's facts into another's.
        var kept = new HashSet<string>(StringComparer.Ordinal) { "_attempts", "_ownRequest", "_ownDeadline", "<Attempt>k__BackingField", "<CostState>k__BackingField" };
        var contexts = new CallContexts();
        var used = Start(contexts, out var request);
        foreach (var field in Fields())
        {
            // Not the fields that decide whether it comes back (the stream test covers Streamed).
            if (!kept.Contains(field.Name) && field.Name is not ("_owner" or "_holders" or "_finished" or "<Streamed>k__BackingField" or "<CacheState>k__BackingField"))
            {
                field.SetValue(used, Sample(field.FieldType, used));
            }
        }

        used.Complete(new HttpResponseMessage(HttpStatusCode.OK));
        used.Release();
        var reused = contexts.Rent();
        var fresh = new CallContext();

        Assert.Same(used, reused);
        foreach (var field in Fields())
        {
            if (!kept.Contains(field.Name) && field.Name is not ("_owner" or "_holders"))
            {
                Assert.True(Equals(field.GetValue(fresh), field.GetValue(reused)), $"{field.Name} still holds {field.GetValue(reused)} from the call before.");
            }
        }

        request.Dispose();

        static IEnumerable<System.Reflection.FieldInfo> Fields() =>
            typeof(CallContext).GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public);
    }

    /// <summary>A value of the type that no new context has.</summary>
    private static object? Sample(Type type, CallContext call)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        return underlying switch
        {
            _ when underlying == typeof(bool) => true,
            _ when underlying == typeof(int) => 7,
            _ when underlying == typeof(long) => 7L,
            _ when underlying == typeof(decimal) => 7m,
            _ when underlying == typeof(string) => "from the call before",
            _ when underlying == typeof(TimeSpan) => TimeSpan.FromSeconds(7),
            _ when underlying == typeof(DateTimeOffset) => DateTimeOffset.UnixEpoch.AddDays(7),
            _ when underlying == typeof(CancellationToken) => new CancellationTokenSource().Token,
            _ when underlying.IsEnum => Enum.GetValues(underlying).GetValue(Enum.GetValues(underlying).Length - 1),
            _ when underlying == typeof(ReadOnlyMemory<byte>) => new ReadOnlyMemory<byte>([7]),
            _ when underlying == typeof(AgentHarness.Http.Internal.UsageReading) => new AgentHarness.Http.Internal.UsageReading { InputTokens = 7, Model = "m" },
            _ when underlying == typeof(ValueTuple<BudgetStatus, decimal>) => (new BudgetStatus("r", null, DateTimeOffset.UnixEpoch, 1m, 1m, 0m), 7m),
            _ when underlying == typeof(AgentRun[]) => new AgentRun[1],
            _ when underlying == typeof(List<string>) => new List<string> { "x" },
            _ when underlying == typeof(CallPipeline) => Pipeline,
            _ when underlying == typeof(TimeProvider) => TimeProvider.System,
            _ when underlying == typeof(object) => new object(),
            _ when underlying == typeof(CallRequest) => call.OwnRequest,
            _ when underlying == typeof(CallDeadline) => new CallDeadline(),
            _ when underlying == typeof(CacheHit) => new CacheHit("p", 1m),
            _ when underlying == typeof(IReadOnlyDictionary<string, string>) => new Dictionary<string, string> { ["k"] = "v" },
            _ => System.Runtime.CompilerServices.RuntimeHelpers.GetUninitializedObject(underlying),
        };
    }

    private static CallContext Start(CallContexts contexts, out HttpRequestMessage request)
    {
        request = new HttpRequestMessage(HttpMethod.Post, "https://agentharness.invalid/v1/chat/completions");
        var call = contexts.Rent();
        call.Start(Pipeline, call.OwnRequest.ForClient(request, "/chat/completions", "chat/completions", "openai/gpt-4.1-nano", "gpt-4.1-nano", stream: false), 0, new FakeTimeProvider(), CancellationToken.None, synchronous: false);
        return call;
    }

    private sealed class NoTransport : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("No request is sent by these tests.");
    }
}
