using System.Text;
using AgentHarness.Http.Internal;
using AgentHarness.Tests.Support;

namespace AgentHarness.Tests.Http;

public sealed class StreamPeekTests
{
    private const string RoleOnly = """data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}""" + "\n\n";
    private const string Text = """data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}""" + "\n\n";
    private const string ErrorEvent = """data: {"error":{"message":"overloaded","type":"server_error","code":"server_error"}}""" + "\n\n";
    private const string Done = "data: [DONE]\n\n";

    private static readonly BodyLimits Limits = new(64 * 1024, 16 * 1024);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Streams and what the peek must make of them, whatever the reads.</summary>
    public static TheoryData<string, string?> Streams => new()
    {
        { RoleOnly + ErrorEvent, "the stream sent an error event before any output" },
        { RoleOnly + ": keep-alive\n\n" + "event: ping\n\n" + Text + ErrorEvent, null },
        { Text + ErrorEvent, null },
        { RoleOnly + """data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""" + "\n\n" + Done, null },
        { RoleOnly, "the stream ended without output or its end marker" },
        { ": keep-alive\n\n", "the stream ended before its first event" },
        { RoleOnly + "data: {not json\n\n" + Text, "the stream sent a malformed event before any output" },
        { RoleOnly + """data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}""" + "\n\n" + ErrorEvent, null },
        { RoleOnly + """data: {"choices":[{"index":0,"delta":{"refusal":"No."}}]}""" + "\n\n" + ErrorEvent, null },
        { RoleOnly + """data: {"choices":[{"index":0,"delta":{"reasoning_content":"hm"}}]}""" + "\n\n" + ErrorEvent, null },
        { """data: {"type":"response.created","response":{"id":"r","status":"in_progress","output":[]}}""" + "\n\n"
            + """data: {"type":"response.output_item.added","item":{"type":"message","content":[]}}""" + "\n\n"
            + """data: {"type":"response.output_text.delta","delta":""}""" + "\n\n"
            + """data: {"type":"error","code":"server_error","message":"boom"}""" + "\n\n", "the stream sent an error event before any output" },
        { """data: {"type":"response.created","response":{"id":"r","status":"in_progress","output":[]}}""" + "\n\n"
            + """data: {"type":"response.output_text.delta","delta":"Hi"}""" + "\n\n"
            + """data: {"type":"error","code":"server_error","message":"boom"}""" + "\n\n", null },
        { """data: {"choices":[{"text":"","index":0}]}""" + "\n\n" + """data: {"choices":[{"text":"Once","index":0}]}""" + "\n\n" + ErrorEvent, null },
    };

    private static async Task<PeekResult> PeekAsync(byte[][] reads) =>
        await StreamPeek.ReadUntilOutputAsync(new StallingStream(reads, end: true), Limits, synchronous: false, Ct);

    [Theory]
    [MemberData(nameof(Streams))]
    public async Task ReadUntilOutputAsync_SameBytesSplitAtEveryOffset_SameOutcome(string stream, string? failure)
    {
        var bytes = Encoding.UTF8.GetBytes(stream);
        for (var split = 0; split <= bytes.Length; split++)
        {
            var peek = await PeekAsync([bytes[..split], bytes[split..]]);

            Assert.True(failure == peek.Failure, $"split at {split}: {peek.Failure}");
            Assert.Equal(failure?.Contains("error event", StringComparison.Ordinal) == true, peek.ErrorEvent is not null);
            Assert.Equal(bytes.AsSpan(0, peek.Length).ToArray(), peek.Buffered.AsSpan(0, peek.Length).ToArray());
        }
    }

    [Theory]
    [MemberData(nameof(Streams))]
    public async Task ReadUntilOutputAsync_SameBytesInRandomReads_SameOutcome(string stream, string? failure)
    {
        var bytes = Encoding.UTF8.GetBytes(stream);
        var random = new Random(20260501);
        for (var round = 0; round < 200; round++)
        {
            var reads = new List<byte[]>();
            for (var at = 0; at < bytes.Length;)
            {
                var size = Math.Min(bytes.Length - at, random.Next(1, 40));
                reads.Add(bytes[at..(at + size)]);
                at += size;
            }

            var peek = await PeekAsync([.. reads]);

            Assert.True(failure == peek.Failure, $"round {round}: {peek.Failure}");
        }
    }

    [Fact]
    public async Task ReadUntilOutputAsync_RoleOnlyChunkThenError_KeepsTheErrorEventForClassification()
    {
        var peek = await PeekAsync([Encoding.UTF8.GetBytes(RoleOnly + ErrorEvent)]);

        Assert.Equal("the stream sent an error event before any output", peek.Failure);
        Assert.Contains("overloaded", Encoding.UTF8.GetString(peek.ErrorEvent!), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadUntilOutputAsync_NoOutputThenDone_CommitsTheEmptyAnswerWithEverythingBuffered()
    {
        var bytes = Encoding.UTF8.GetBytes(RoleOnly + Done);

        var peek = await PeekAsync([bytes]);

        Assert.Null(peek.Failure);
        Assert.Equal(bytes.Length, peek.Length);
    }

    [Fact]
    public async Task ReadUntilOutputAsync_EventLargerThanTheEventLimit_FailsNamingItAndStopsReadingNearIt()
    {
        var body = new EndlessStream(Encoding.UTF8.GetBytes(RoleOnly + "data: {\"choices\":[{\"delta\":{\"content\":\""), "x"u8.ToArray());

        var peek = await StreamPeek.ReadUntilOutputAsync(body, Limits, synchronous: false, Ct);

        Assert.Equal("the stream sent an event larger than MaxStreamEventBytes (16384 bytes) before any output", peek.Failure);
        Assert.True(body.Pulled <= 2 * Limits.MaxStreamEventBytes, $"pulled {body.Pulled} bytes");
    }

    [Fact]
    public async Task ReadUntilOutputAsync_EndlessKeepAlives_StopsAtTheAnswerLimit()
    {
        var body = new EndlessStream(Encoding.UTF8.GetBytes(RoleOnly), ": keep-alive\n\n"u8.ToArray());

        var peek = await StreamPeek.ReadUntilOutputAsync(body, Limits, synchronous: false, Ct);

        Assert.Equal("no output within the first 65536 bytes of the stream (MaxResponseBytes)", peek.Failure);
        Assert.Equal(Limits.MaxResponseBytes, body.Pulled);
    }
}
