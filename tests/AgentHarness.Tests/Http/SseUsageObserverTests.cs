using System.Text;
using AgentHarness.Http.Internal;

namespace AgentHarness.Tests.Http;

public sealed class SseUsageObserverTests
{
    private const string Stream =
        "data: {\"model\":\"gpt-4.1-mini\",\"choices\":[{\"delta\":{\"content\":\"data: [DONE]\"}}],\"usage\":null}\r\n\r\n" +
        ": keep-alive comment\n\n" +
        "event: message\n" +
        "data: {\"model\":\"gpt-4.1-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4}}\n\n" +
        "data: [DONE]\n\n";

    [Fact]
    public void Observe_StreamSplitAtEveryPossibleByte_SameReading()
    {
        var bytes = Encoding.UTF8.GetBytes(Stream);
        for (var split = 0; split <= bytes.Length; split++)
        {
            using var observer = new SseUsageObserver();
            observer.Observe(bytes.AsSpan(0, split));
            observer.Observe(bytes.AsSpan(split));
            observer.Complete();

            Assert.True(observer.SawDone, $"split at {split}");
            Assert.Equal(("gpt-4.1-mini", 9, 4), (observer.Reading.Model, observer.Reading.InputTokens, observer.Reading.OutputTokens));
            Assert.Equal(3, observer.Events);
        }
    }

    [Fact]
    public void Observe_OneByteAtATime_SameReading()
    {
        using var observer = new SseUsageObserver();
        foreach (var b in Encoding.UTF8.GetBytes(Stream))
        {
            observer.Observe([b]);
        }

        Assert.True(observer.SawDone);
        Assert.Equal(9, observer.Reading.InputTokens);
    }

    [Fact]
    public void Observe_DoneInsideContent_IsNotTheEndMarker()
    {
        using var observer = new SseUsageObserver();

        observer.Observe(Encoding.UTF8.GetBytes("data: {\"choices\":[{\"delta\":{\"content\":\"[DONE]\"}}]}\n\n"));

        Assert.False(observer.SawDone);
    }

    [Fact]
    public void Observe_EventLargerThanTheInitialBuffer_IsRead()
    {
        using var observer = new SseUsageObserver();
        var content = new string('x', 10_000);

        observer.Observe(Encoding.UTF8.GetBytes($"data: {{\"model\":\"m\",\"choices\":[{{\"delta\":{{\"content\":\"{content}\"}}}}],\"usage\":{{\"prompt_tokens\":1,\"completion_tokens\":2500}}}}\n\n"));

        Assert.Equal(2500, observer.Reading.OutputTokens);
    }

    [Fact]
    public void FlushCompleteLines_DoneLineWithoutBlankLine_CountsAsDone()
    {
        using var observer = new SseUsageObserver();
        observer.Observe(Encoding.UTF8.GetBytes("data: [DONE]\n"));

        observer.FlushCompleteLines();

        Assert.True(observer.SawDone);
    }

    [Fact]
    public void FlushCompleteLines_PartialDoneLine_IsNotDone()
    {
        using var observer = new SseUsageObserver();
        observer.Observe(Encoding.UTF8.GetBytes("data: [DONE]"));

        observer.FlushCompleteLines();

        Assert.False(observer.SawDone);
    }

    [Fact]
    public void Observe_ResponsesCompletedEvent_IsTheEndMarker()
    {
        using var observer = new SseUsageObserver();

        observer.Observe(Encoding.UTF8.GetBytes(
            "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n" +
            "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-5-mini\",\"usage\":{\"input_tokens\":5,\"output_tokens\":2}}}\n\n"));

        Assert.True(observer.SawDone);
        Assert.Equal(("gpt-5-mini", 5, 2), (observer.Reading.Model, observer.Reading.InputTokens, observer.Reading.OutputTokens));
    }
}
