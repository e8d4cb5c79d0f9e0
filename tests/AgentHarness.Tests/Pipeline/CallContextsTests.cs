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
