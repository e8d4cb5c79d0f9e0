using System.Text;
using AgentHarness.Http.Internal;

namespace AgentHarness.Tests.Http;

public sealed class UsageReadingTests
{
    private static UsageReading Read(string json)
    {
        var reading = default(UsageReading);
        reading.Read(Encoding.UTF8.GetBytes(json));
        return reading;
    }

    [Fact]
    public void Read_EscapedPropertyNames_ReadLikeTheirUnescapedText()
    {
        using var text = new OutputText();
        var reading = new UsageReading { Deltas = text };

        reading.Read(Encoding.UTF8.GetBytes("""{"mod\u0065l":"gpt-4.1","choices":[{"d\u0065lta":{"cont\u0065nt":"hi"},"finish_\u0072eason":"stop"}],"\u0075sage":{"prompt_tokens":7,"completion_tokens":1}}"""));

        Assert.Equal(("gpt-4.1", 7, 1, true, "stop", "hi"), (reading.Model, reading.InputTokens, reading.OutputTokens, reading.HasOutput, reading.FinishReason, text.Text));
    }

    [Fact]
    public void Read_ModelChangesBetweenDocuments_EachReadsItsOwnModel()
    {
        // The last model's bytes are kept to skip decoding the same name again; another name must still be read.
        Assert.Equal("gpt-4.1-mini", Read("""{"model":"gpt-4.1-mini"}""").Model);
        Assert.Equal("gpt-4.1-mini", Read("""{"model":"gpt-4.1-mini"}""").Model);
        Assert.Equal("gpt-4.1-nano", Read("""{"model":"gpt-4.1-nano"}""").Model);
        Assert.Equal("gpt-4.1-mini", Read("""{"model":"gpt-4.1-mini"}""").Model);
    }

    [Fact]
    public void Read_PropertyNamesOfEveryLengthTheReadingKnows_OthersIgnored()
    {
        using var text = new OutputText();
        var reading = new UsageReading { Deltas = text };

        // Names as long as known ones but different ("usagf", "choicez") are skipped like any other.
        reading.Read(Encoding.UTF8.GetBytes("""{"usagf":{"prompt_tokens":99},"choicez":[{"delta":{"content":"no"}}],"choices":[{"delta":{"role":"assistant","reasoning_content":"r","tool_calls":[{"function":{"name":"f","arguments":"{}"}}]}}],"usage":{"prompt_tokens":3}}"""));

        Assert.Equal((3, true, "rf{}"), (reading.InputTokens, reading.HasOutput, text.Text));
    }

    [Fact]
    public void Read_RequestyCachingTokens_ReadsCacheWriteTokens()
    {
        var reading = Read("""{"model":"claude","usage":{"prompt_tokens":1000,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":0,"caching_tokens":900}}}""");

        Assert.Equal((1000, 0, 900), (reading.InputTokens, reading.CachedInputTokens, reading.CacheWriteInputTokens));
    }

    [Fact]
    public void Read_CacheCreationInputTokens_ReadsCacheWriteTokens()
    {
        var reading = Read("""{"model":"claude","usage":{"prompt_tokens":1000,"completion_tokens":20,"cache_creation_input_tokens":700}}""");

        Assert.Equal(700, reading.CacheWriteInputTokens);
    }

    [Fact]
    public void Read_ChatCompletion_ReadsModelTokensAndCachedTokens()
    {
        var reading = Read("""{"model":"gpt-4.1","choices":[{"message":{"content":"{\"usage\":1}"}}],"usage":{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120,"prompt_tokens_details":{"cached_tokens":64,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":5}}}""");

        Assert.Equal(("gpt-4.1", 100, 20, 64), (reading.Model, reading.InputTokens, reading.OutputTokens, reading.CachedInputTokens));
    }

    [Fact]
    public void Read_ResponsesCompletedEvent_ReadsNestedResponse()
    {
        var reading = Read("""{"type":"response.completed","response":{"id":"r1","model":"gpt-5-mini","usage":{"input_tokens":50,"input_tokens_details":{"cached_tokens":10},"output_tokens":7}}}""");

        Assert.Equal(("gpt-5-mini", 50, 7, 10), (reading.Model, reading.InputTokens, reading.OutputTokens, reading.CachedInputTokens));
    }

    [Theory]
    [InlineData("\"stop\"", "stop")]
    [InlineData("\"tool_calls\"", "tool_calls")]
    [InlineData("\"provider_reason\"", "provider_reason")]
    [InlineData("null", null)]
    public void Read_StreamChunkWithFinishReason_KeepsTheReason(string value, string? expected)
    {
        using var deltas = new OutputText();
        var reading = new UsageReading { Deltas = deltas };

        reading.Read(Encoding.UTF8.GetBytes("""{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}"""));
        reading.Read(Encoding.UTF8.GetBytes($$$"""{"choices":[{"index":0,"delta":{},"finish_reason":{{{value}}}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"""));

        Assert.Equal(expected, reading.FinishReason);
        Assert.Equal((3, 1), (reading.InputTokens, reading.OutputTokens));
    }

    [Fact]
    public void Read_NullUsage_NoTokens()
    {
        var reading = Read("""{"model":"m","usage":null}""");

        Assert.Equal(("m", 0, 0), (reading.Model, reading.InputTokens, reading.OutputTokens));
    }

    [Fact]
    public void Read_Malformed_KeepsWhatWasReadWithoutThrowing()
    {
        var reading = Read("""{"model":"m","usage":{"prompt_tokens":""");

        Assert.Equal(("m", 0), (reading.Model, reading.InputTokens));
    }

    /// <summary>The JSON with every § replaced by the byte 0xE9, which is Latin-1 for é and not UTF-8.</summary>
    private static byte[] Latin1(string text) =>
        [.. Encoding.UTF8.GetBytes(text.Replace('\u00a7', '\u0001')).Select(static b => b == 1 ? (byte)0xE9 : b)];

    [Fact]
    public void Read_ModelNotUtf8_KeepsTheTokenCountsAndLeavesTheModelOut()
    {
        var reading = default(UsageReading);

        var wellFormed = reading.Read(Latin1("""{"model":"gpt-4.1-caf§","choices":[],"usage":{"prompt_tokens":1500,"completion_tokens":2000,"cost":"0.5"}}"""));

        Assert.False(wellFormed);
        Assert.Equal((null, 1500, 2000, 0.5m, true), (reading.Model, reading.InputTokens, reading.OutputTokens, reading.ReportedCost, reading.HasUsage));
    }

    [Fact]
    public void Read_LoneSurrogateEscapeInModel_KeepsTheTokenCounts()
    {
        var reading = Read("""{"model":"m\ud800","usage":{"prompt_tokens":3,"completion_tokens":4}}""");

        Assert.Equal((null, 3, 4), (reading.Model, reading.InputTokens, reading.OutputTokens));
    }

    [Fact]
    public void Read_ContentNotUtf8_CountsItsBytesAsOutput()
    {
        using var text = new OutputText();
        var reading = new UsageReading { Deltas = text };

        reading.Read(Latin1("""{"choices":[{"message":{"content":"§§§§§§§§"}}]}"""));

        Assert.Equal(8, text.DroppedBytes);
    }

    [Theory]
    [InlineData("""{"usage":{"prompt_tokens":-1000000,"completion_tokens":-1,"prompt_tokens_details":{"cached_tokens":-5}}}""")]
    [InlineData("""{"usage":{"input_tokens":-1000000,"output_tokens":-1,"input_tokens_details":{"cached_tokens":-5}}}""")]
    [InlineData("""{"usage":{"prompt_tokens":1e30,"completion_tokens":2.5,"prompt_tokens_details":{"cached_tokens":"7"}}}""")]
    public void Read_NegativeOrUnreadableTokenCounts_TreatedAsAbsent(string json)
    {
        var reading = Read(json);

        Assert.Equal((0, 0, 0), (reading.InputTokens, reading.OutputTokens, reading.CachedInputTokens));
    }
}
