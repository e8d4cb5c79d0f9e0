using System.Text;
using AgentHarness.Http.Internal;

namespace AgentHarness.Tests.Http;

/// <summary>What <see cref="UsageReading"/> reads for cost control: the reported cost, whether usage came, and the text of stream deltas.</summary>
public sealed class UsageReadingCostTests
{
    private static UsageReading Read(string json)
    {
        var reading = default(UsageReading);
        reading.Read(Encoding.UTF8.GetBytes(json));
        return reading;
    }

    private static long Collected(params string[] documents)
    {
        using var deltas = new OutputText();
        var reading = new UsageReading { Deltas = deltas };
        foreach (var document in documents)
        {
            Assert.True(reading.Read(Encoding.UTF8.GetBytes(document)), document);
        }

        return deltas.CountTokens(static s => s.Length);
    }

    private static string CollectedText(params string[] documents)
    {
        using var deltas = new OutputText();
        var reading = new UsageReading { Deltas = deltas };
        foreach (var document in documents)
        {
            reading.Read(Encoding.UTF8.GetBytes(document));
        }

        string? text = null;
        deltas.CountTokens(s =>
        {
            text = s;
            return s.Length;
        });
        return text ?? string.Empty;
    }

    [Theory]
    [InlineData("0.0000123", "0.0000123")]
    [InlineData("0.000123456789012345678", "0.000123456789012345678")]
    [InlineData("0", "0")]
    [InlineData("1.5E-5", "0.000015")]
    [InlineData("12", "12")]
    public void Read_CostNumber_ReadExactlyAsDecimal(string json, string expected)
    {
        var reading = Read($$$"""{"model":"m","usage":{"prompt_tokens":10,"completion_tokens":2,"cost":{{{json}}}}}""");

        Assert.Equal(decimal.Parse(expected, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture), reading.ReportedCost);
        Assert.Equal((10, 2), (reading.InputTokens, reading.OutputTokens));
    }

    [Theory]
    [InlineData("0.00042", "0.00042")]
    [InlineData("0.000123456789012345678", "0.000123456789012345678")]
    [InlineData("1.5E-5", "0.000015")]
    [InlineData("3", "3")]
    public void Read_CostString_ReadExactlyAsDecimal(string text, string expected)
    {
        var reading = Read($$$"""{"usage":{"cost":"{{{text}}}","prompt_tokens":10}}""");

        Assert.Equal(decimal.Parse(expected, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture), reading.ReportedCost);
        Assert.Equal(10, reading.InputTokens);
    }

    [Fact]
    public void Read_CostTenthsThatDoublesRound_StaysExact()
    {
        var reading = Read("""{"usage":{"cost":0.1}}""");

        Assert.Equal(0.1m, reading.ReportedCost);
        Assert.Equal("0.1", reading.ReportedCost?.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("-0.001")]
    [InlineData("\"-0.001\"")]
    [InlineData("\"abc\"")]
    [InlineData("\"\"")]
    [InlineData("null")]
    [InlineData("true")]
    [InlineData("{\"total\":0.5}")]
    [InlineData("[0.5]")]
    [InlineData("1e400")]
    public void Read_CostNegativeOrNotANumber_Ignored(string json)
    {
        var reading = Read($$$"""{"usage":{"prompt_tokens":10,"cost":{{{json}}},"completion_tokens":4}}""");

        Assert.Null(reading.ReportedCost);
        Assert.Equal((10, 4), (reading.InputTokens, reading.OutputTokens));
        Assert.True(reading.HasUsage);
    }

    [Fact]
    public void Read_NullChoiceBeforeUsage_UsageStillRead()
    {
        using var output = new OutputText();
        var reading = new UsageReading { Deltas = output };

        Assert.True(reading.Read(Encoding.UTF8.GetBytes("""{"choices":[null,{"delta":{"content":"hi"}}],"usage":{"prompt_tokens":7,"completion_tokens":2,"cost":0.5}}""")));

        Assert.Equal((7, 2, 0.5m), (reading.InputTokens, reading.OutputTokens, reading.ReportedCost));
        Assert.Equal(2, output.CountTokens(static s => s.Length));
    }

    [Fact]
    public void Read_NoCost_Null()
    {
        var reading = Read("""{"usage":{"prompt_tokens":10,"completion_tokens":4}}""");

        Assert.Null(reading.ReportedCost);
    }

    [Fact]
    public void Read_CostInNestedResponsesUsage_Read()
    {
        var reading = Read("""{"type":"response.completed","response":{"model":"m","usage":{"input_tokens":5,"output_tokens":1,"cost":"0.0007"}}}""");

        Assert.Equal(0.0007m, reading.ReportedCost);
        Assert.True(reading.HasUsage);
    }

    [Fact]
    public void Read_CostOutsideUsage_Ignored()
    {
        var reading = Read("""{"cost":0.5,"usage":{"prompt_tokens":1}}""");

        Assert.Null(reading.ReportedCost);
    }

    [Theory]
    [InlineData("""{"usage":{}}""", true)]
    [InlineData("""{"usage":{"prompt_tokens":0,"completion_tokens":0}}""", true)]
    [InlineData("""{"model":"m","usage":null}""", false)]
    [InlineData("""{"model":"m"}""", false)]
    [InlineData("""{"usage":5}""", false)]
    [InlineData("""{"usage":[{"prompt_tokens":3}]}""", false)]
    [InlineData("""{"type":"response.completed","response":{"usage":{"input_tokens":1}}}""", true)]
    [InlineData("""{"type":"response.created","response":{"usage":null}}""", false)]
    [InlineData("""{"choices":[{"delta":{"content":"x"}}],"usage":null}""", false)]
    public void Read_HasUsage_OnlyWhenAUsageObjectIsPresent(string json, bool expected)
    {
        Assert.Equal(expected, Read(json).HasUsage);
    }

    [Fact]
    public void Read_ChatChunkContent_Collected()
    {
        var count = Collected("""{"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"},"finish_reason":null}],"usage":null}""");

        Assert.Equal(5, count);
    }

    [Fact]
    public void Read_SeveralChunks_TextAppendedInOrder()
    {
        var text = CollectedText(
            """{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}""",
            """{"choices":[{"index":0,"delta":{"content":"Hel"}}]}""",
            """{"choices":[{"index":0,"delta":{"content":"lo"}}]}""",
            """{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""");

        Assert.Equal("Hello", text);
    }

    [Fact]
    public void Read_EscapedContent_CollectedUnescaped()
    {
        var text = CollectedText("""{"choices":[{"delta":{"content":"caf\u00e9 \"q\"\n"}}]}""");

        Assert.Equal("café \"q\"\n", text);
    }

    [Fact]
    public void Read_Refusal_Collected()
    {
        Assert.Equal(15, Collected("""{"choices":[{"index":0,"delta":{"refusal":"I can't do that"}}]}"""));
    }

    [Fact]
    public void Read_ToolCallArguments_Collected()
    {
        var text = CollectedText(
            """{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]}""",
            """{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}}]}""");

        Assert.Equal("{\"city\":\"Paris\"}", text);
    }

    [Fact]
    public void Read_SeveralToolCallsInOneChunk_AllArgumentsCollected()
    {
        var count = Collected("""{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"abc"}},{"index":1,"function":{"arguments":"defg"}}]}}]}""");

        Assert.Equal(7, count);
    }

    [Fact]
    public void Read_SeveralChoices_AllCollected()
    {
        var count = Collected("""{"choices":[{"index":0,"delta":{"content":"one"}},{"index":1,"delta":{"content":"three"}}]}""");

        Assert.Equal(8, count);
    }

    [Fact]
    public void Read_ReasoningContent_Collected()
    {
        Assert.Equal(5, Collected("""{"choices":[{"index":0,"delta":{"reasoning_content":"think"}}]}"""));
    }

    [Fact]
    public void Read_NullOrNonStringContent_NothingCollected()
    {
        var count = Collected(
            """{"choices":[{"index":0,"delta":{"content":null,"refusal":null}}]}""",
            """{"choices":[{"index":0,"delta":{"content":[1,2]}}]}""",
            """{"choices":[{"index":0,"delta":null}]}""",
            """{"choices":null}""");

        Assert.Equal(0, count);
    }

    [Fact]
    public void Read_ChatCompletionMessage_Collected()
    {
        // A whole answer without usage is charged from the text of its message.
        var count = Collected("""{"choices":[{"index":0,"message":{"role":"assistant","content":"Hello"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}""");

        Assert.Equal(5, count);
    }

    [Fact]
    public void Read_ResponsesWholeOutput_TextAndArgumentsCollected()
    {
        var count = Collected("""{"id":"resp_1","object":"response","output":[{"type":"message","content":[{"type":"output_text","text":"Hello","annotations":[]}]},{"type":"function_call","name":"f","arguments":"{}"}],"usage":{"input_tokens":1,"output_tokens":1}}""");

        Assert.Equal(7, count);
    }

    [Fact]
    public void Read_ResponsesOutputTextDelta_Collected()
    {
        var count = Collected("""{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi there","sequence_number":4}""");

        Assert.Equal(8, count);
    }

    [Fact]
    public void Read_ResponsesFunctionCallArgumentsDelta_Collected()
    {
        var text = CollectedText(
            """{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":0,"delta":"{\"q\":"}""",
            """{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":0,"delta":"1}"}""");

        Assert.Equal("{\"q\":1}", text);
    }

    [Fact]
    public void Read_ResponsesNonStringDeltaOrNestedDelta_NotCollected()
    {
        var count = Collected(
            """{"type":"response.something","delta":{"text":"abc"}}""",
            """{"type":"response.completed","response":{"delta":"abc","usage":{"input_tokens":1}}}""");

        Assert.Equal(0, count);
    }

    [Fact]
    public void Read_ChatChunkAndUsageInOneDocument_BothRead()
    {
        using var deltas = new OutputText();
        var reading = new UsageReading { Deltas = deltas };

        reading.Read(Encoding.UTF8.GetBytes("""{"choices":[{"index":0,"delta":{"content":"done"}}],"usage":{"prompt_tokens":3,"completion_tokens":1,"cost":0.00002}}"""));

        Assert.Equal(4, deltas.CountTokens(static s => s.Length));
        Assert.Equal((3, 1, 0.00002m, true), (reading.InputTokens, reading.OutputTokens, reading.ReportedCost, reading.HasUsage));
    }

    [Fact]
    public void Read_DeltasNull_NothingCollectedAndUsageStillRead()
    {
        using var deltas = new OutputText();
        var reading = default(UsageReading);

        Assert.True(reading.Read(Encoding.UTF8.GetBytes("""{"choices":[{"index":0,"delta":{"content":"ignored","tool_calls":[{"function":{"arguments":"x"}}]}}]}""")));
        Assert.True(reading.Read(Encoding.UTF8.GetBytes("""{"type":"response.output_text.delta","delta":"ignored too"}""")));
        Assert.True(reading.Read(Encoding.UTF8.GetBytes("""{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}""")));
        reading.Deltas = deltas;
        Assert.True(reading.Read(Encoding.UTF8.GetBytes("""{"choices":[{"index":0,"delta":{"content":"kept"}}]}""")));

        Assert.Equal(4, deltas.CountTokens(static s => s.Length));
        Assert.Equal((3, 2), (reading.InputTokens, reading.OutputTokens));
    }

    [Fact]
    public void CountTokens_NothingCollected_CountFunctionNotCalled()
    {
        using var deltas = new OutputText();

        Assert.Equal(0, deltas.CountTokens(static _ => throw new InvalidOperationException("called")));
    }

    [Fact]
    public void Read_MalformedChunk_KeepsTextReadBeforeTheFault()
    {
        using var deltas = new OutputText();
        var reading = new UsageReading { Deltas = deltas };

        Assert.False(reading.Read(Encoding.UTF8.GetBytes("""{"choices":[{"index":0,"delta":{"content":"abc"}}],"usage":{"prompt_tokens":""")));

        Assert.Equal(3, deltas.CountTokens(static s => s.Length));
    }
}
