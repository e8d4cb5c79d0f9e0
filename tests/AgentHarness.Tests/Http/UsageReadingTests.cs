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
}
