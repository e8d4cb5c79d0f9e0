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

    /// <summary>The JSON with every § replaced by the byte 0xE9, which is Latin-1 for é and not UTF-8.</summary>
    private static byte[] Latin1(string text) =>
        [.. Encoding.UTF8.GetBytes(text.Replace('\u00a7', '\u0001')).Select(static b => b == 1 ? (byte)0xE9 : b)];

    [Fact]
    public void Observe_ContentNotUtf8_MalformedWithoutThrowingAndUsageKept()
    {
        using var observer = new SseUsageObserver();

        observer.Observe(Latin1("data: {\"model\":\"m\",\"choices\":[{\"delta\":{\"content\":\"caf§\"}}],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2000}}\n\n"));

        Assert.True(observer.Malformed);
        Assert.Equal(StreamSignal.Malformed, observer.FirstSignal);
        Assert.Equal(("m", 7, 2000), (observer.Reading.Model, observer.Reading.InputTokens, observer.Reading.OutputTokens));
    }

    [Fact]
    public void Observe_NegativeTokenCounts_TreatedAsAbsent()
    {
        using var observer = new SseUsageObserver();

        observer.Observe(Encoding.UTF8.GetBytes(
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3}}\n\n" +
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":-1000000,\"completion_tokens\":-5,\"prompt_tokens_details\":{\"cached_tokens\":-7}}}\n\n"));

        Assert.Equal((12, 3, 0), (observer.Reading.InputTokens, observer.Reading.OutputTokens, observer.Reading.CachedInputTokens));
    }

    [Theory]
    [InlineData("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n", nameof(StreamSignal.None))]
    [InlineData("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":null,\"refusal\":null}}]}\n\n", nameof(StreamSignal.None))]
    [InlineData("data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n", nameof(StreamSignal.None))]
    [InlineData("data: {\"choices\":[],\"usage\":null}\n\n: keep-alive\n\nevent: ping\n\n", nameof(StreamSignal.None))]
    [InlineData("data: {\"type\":\"response.created\",\"response\":{\"output\":[]}}\n\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"\"}\n\n", nameof(StreamSignal.None))]
    [InlineData("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n", nameof(StreamSignal.Output))]
    [InlineData("data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\"}]}}]}\n\n", nameof(StreamSignal.Output))]
    [InlineData("data: {\"choices\":[{\"delta\":{\"audio\":{\"id\":\"a1\",\"data\":\"AAAA\"}}}]}\n\n", nameof(StreamSignal.Output))]
    [InlineData("data: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n", nameof(StreamSignal.Output))]
    [InlineData("data: {\"type\":\"speech.audio.delta\",\"audio\":\"AAAA\"}\n\n", nameof(StreamSignal.Output))]
    [InlineData("data: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"boom\"}\n\n", nameof(StreamSignal.Error))]
    [InlineData("data: [DONE]\n\n", nameof(StreamSignal.Done))]
    [InlineData("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"x\"}}\n\n", nameof(StreamSignal.Output))]
    [InlineData("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\ndata: {\"error\":{\"message\":\"x\"}}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n", nameof(StreamSignal.Error))]
    public void Observe_Events_FirstSignalIsTheFirstEventThatDecides(string stream, string expected)
    {
        using var observer = new SseUsageObserver();

        observer.Observe(Encoding.UTF8.GetBytes(stream));

        Assert.Equal(Enum.Parse<StreamSignal>(expected), observer.FirstSignal);
    }

    [Fact]
    public void Observe_LineLongerThanTheEventLimit_StopsHoldingBytesAndReportsTooLarge()
    {
        const int Limit = 64 * 1024;
        var chunk = Encoding.UTF8.GetBytes(new string('x', 64 * 1024));
        using var observer = new SseUsageObserver(Limit);
        observer.Observe("data: {\"choices\":[{\"delta\":{\"content\":\""u8);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 160; i++)
        {
            observer.Observe(chunk);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(observer.EventTooLarge);
        Assert.Equal(StreamSignal.TooLarge, observer.FirstSignal);
        Assert.True(allocated < 4 * Limit, $"allocated {allocated} bytes for a 10 MiB line");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Observe_OneLineEventAtTheLimitInOneRead_ReadOrTooLargeAsWhenSplit(bool fits)
    {
        // An event whose line and blank line arrive in one read is read where it lies: held to the same limit as one
        // whose bytes arrive apart.
        var data = "{\"model\":\"m\",\"usage\":{\"prompt_tokens\":5}}";
        var line = "data: " + data;
        var limit = line.Length - (fits ? 0 : 1);
        var bytes = Encoding.UTF8.GetBytes(line + "\n\n");
        using var whole = new SseUsageObserver(limit);
        using var split = new SseUsageObserver(limit);

        whole.Observe(bytes);
        split.Observe(bytes.AsSpan(0, bytes.Length - 1));
        split.Observe(bytes.AsSpan(bytes.Length - 1));

        Assert.Equal((split.EventTooLarge, split.Events, split.Reading.InputTokens), (whole.EventTooLarge, whole.Events, whole.Reading.InputTokens));
        Assert.Equal(fits ? 1 : 0, whole.Events);
    }

    [Fact]
    public void Observe_EventOfManyDataLinesAboveTheLimit_TooLarge()
    {
        using var observer = new SseUsageObserver(1024);
        var line = "data: " + new string('y', 100) + "\n";

        observer.Observe(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(line, 11))));

        Assert.True(observer.EventTooLarge);
        Assert.Equal(0, observer.Events);
    }

    [Theory]
    [InlineData("data: [DONE]\n\n")]
    [InlineData("data: {\"type\":\"response.completed\",\"response\":{\"model\":\"m\",\"usage\":{\"input_tokens\":5,\"output_tokens\":2}}}\n\n")]
    public void Observe_EventsAfterTheEndMarker_AreNotJudgedWhereverTheReadsFall(string end)
    {
        // What follows the marker: a chunk with usage, an error event, a malformed event, an event larger than the limit.
        var after = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":900,\"completion_tokens\":900}}\n\n"
            + "data: {\"error\":{\"code\":\"server_error\"}}\n\n"
            + "data: {garbage\n\n"
            + "data: " + new string('x', 2048) + "\n\n"
            + "data: {unterminated";
        var bytes = Encoding.UTF8.GetBytes("data: {\"choices\":[{\"delta\":{\"content\":\"hello \"}}]}\n\n" + end + after);
        for (var split = 0; split <= bytes.Length; split++)
        {
            using var observer = new SseUsageObserver(1024);
            observer.Observe(bytes.AsSpan(0, split));
            observer.Observe(bytes.AsSpan(split));
            observer.FlushCompleteLines();
            observer.Complete();

            Assert.True(observer.SawDone, $"split at {split}");
            Assert.False(observer.Malformed, $"split at {split}");
            Assert.False(observer.EventTooLarge, $"split at {split}");
            Assert.Null(observer.ErrorEvent);
            Assert.Equal(2, observer.Events);
            Assert.NotEqual(900, observer.Reading.InputTokens);
            Assert.Equal(StreamSignal.Output, observer.FirstSignal);
        }
    }
}
