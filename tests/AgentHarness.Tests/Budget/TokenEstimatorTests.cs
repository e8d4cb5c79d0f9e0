using System.Text;
using AgentHarness.Budget.Internal;
using Microsoft.ML.Tokenizers;

namespace AgentHarness.Tests.Budget;

public sealed class TokenEstimatorTests
{
    // An independent instance: the expected values do not go through the estimator's own counting.
    private static readonly TiktokenTokenizer O200k = TiktokenTokenizer.CreateForEncoding("o200k_base");

    private static int Count(string text) => O200k.CountTokens(text);

    private static int Estimate(string json) => TokenEstimator.EstimateInputTokens(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void CountTokens_HelloWorld_ReturnsTwo()
    {
        Assert.Equal(2, TokenEstimator.CountTokens("hello world"));
        Assert.Equal(2, Count("hello world"));
    }

    [Fact]
    public void CountTokens_Empty_ReturnsZero()
    {
        Assert.Equal(0, TokenEstimator.CountTokens(string.Empty));
    }

    [Fact]
    public void EstimateInputTokens_EmptyBody_ReturnsZero()
    {
        Assert.Equal(0, TokenEstimator.EstimateInputTokens(ReadOnlySpan<byte>.Empty));
    }

    [Fact]
    public void EstimateInputTokens_ChatBody_EqualsContentTokensPlusFraming()
    {
        const string SystemPrompt = "You are a terse assistant that answers in one sentence.";
        const string User = "What is the capital of France, and why is it famous?";
        var json = $$"""
            {"model":"gpt-4.1-nano","messages":[
              {"role":"system","content":"{{SystemPrompt}}"},
              {"role":"user","content":"{{User}}"}
            ],"temperature":0.2,"max_completion_tokens":100,"stream":true}
            """;

        var expected = Count(SystemPrompt) + Count(User) + (2 * 3) + 3;

        Assert.Equal(expected, Estimate(json));
    }

    [Fact]
    public void EstimateInputTokens_ChatBodyWithEscapes_CountsUnescapedText()
    {
        const string Text = "line one\nline \"two\"\t\u00e9t\u00e9 \U0001F600 \\ end";
        var json = $$"""{"messages":[{"role":"user","content":{{System.Text.Json.JsonSerializer.Serialize(Text)}}}]}""";

        Assert.Equal(Count(Text) + 3 + 3, Estimate(json));
    }

    [Fact]
    public void EstimateInputTokens_ContentPartsAndNameAndRefusal_AreCounted()
    {
        var json = """
            {"messages":[
              {"role":"user","name":"alice_smith","content":[{"type":"text","text":"First part."},{"type":"text","text":"Second part here."}]},
              {"role":"assistant","content":null,"refusal":"I cannot help with that request."},
              {"role":"assistant","content":[{"type":"refusal","refusal":"No."}]}
            ]}
            """;

        var expected = Count("alice_smith") + Count("First part.") + Count("Second part here.")
            + Count("I cannot help with that request.") + Count("No.") + (3 * 3) + 3;

        Assert.Equal(expected, Estimate(json));
    }

    [Fact]
    public void EstimateInputTokens_RolesIdsUrlsAndData_NotCounted()
    {
        static string Body(string filler) => $$$"""
            {"messages":[
              {"role":"user","content":[
                {"type":"text","text":"Describe these."},
                {"type":"image_url","image_url":{"url":"https://example.com/{{{filler}}}.png","detail":"high"}}
              ]},
              {"role":"assistant","tool_calls":[{"id":"call_{{{filler}}}","type":"function","function":{"name":"lookup","arguments":"{}"}}]},
              {"role":"tool","tool_call_id":"call_{{{filler}}}","content":"done"}
            ]}
            """;

        var small = Estimate(Body("a"));
        var large = Estimate(Body(new string('Q', 50_000)));

        Assert.Equal(small, large);
        Assert.Equal(
            Count("Describe these.") + 765 + Count("lookup") + Count("{}") + Count("done") + (3 * 3) + 3,
            small);
    }

    [Theory]
    [InlineData("""{"type":"input_audio","input_audio":{"data":"#","format":"wav"}}""")]
    [InlineData("""{"type":"file","file":{"file_data":"data:application/pdf;base64,#","filename":"a.pdf"}}""")]
    [InlineData("""{"type":"input_file","file_data":"data:application/pdf;base64,#","filename":"a.pdf"}""")]
    public void EstimateInputTokens_FileOrAudioPart_CountsAToken_Per4BytesOfPayload(string part)
    {
        static string Body(string part) => $$"""{"messages":[{"role":"user","content":[{"type":"text","text":"Read this."},{{part}}]}]}""";
        var small = Estimate(Body(part.Replace("#", "AAAA", StringComparison.Ordinal)));
        var large = Estimate(Body(part.Replace("#", new string('A', 4_000_000), StringComparison.Ordinal)));

        // A 4 MB document is a million tokens of worst case, never nearly free.
        Assert.Equal(999_999, large - small);
    }

    [Theory]
    [InlineData("""{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}""")]
    [InlineData("""{"image_url":{"url":"https://example.com/cat.png"},"type":"image_url"}""")]
    [InlineData("""{"type":"input_image","image_url":"https://example.com/cat.png","detail":"auto"}""")]
    public void EstimateInputTokens_ImagePart_Adds765(string imagePart)
    {
        var without = Estimate("""{"messages":[{"role":"user","content":[{"type":"text","text":"What is in this picture?"}]}]}""");
        var with = Estimate($$"""{"messages":[{"role":"user","content":[{"type":"text","text":"What is in this picture?"},{{imagePart}}]}]}""");

        Assert.Equal(765, with - without);
    }

    [Fact]
    public void EstimateInputTokens_ToolCalls_CountNameAndArguments()
    {
        const string Arguments = """{"city":"Paris","unit":"celsius","days":3}""";
        var json = $$"""
            {"messages":[
              {"role":"user","content":"Weather in Paris?"},
              {"role":"assistant","content":null,"tool_calls":[
                {"id":"call_abc123","type":"function","function":{"name":"get_weather","arguments":{{System.Text.Json.JsonSerializer.Serialize(Arguments)}} } }
              ]},
              {"role":"tool","tool_call_id":"call_abc123","content":"18C and sunny"}
            ]}
            """;

        var expected = Count("Weather in Paris?") + Count("get_weather") + Count(Arguments) + Count("18C and sunny") + (3 * 3) + 3;

        Assert.Equal(expected, Estimate(json));
    }

    [Theory]
    [InlineData("tools", """[{"type":"function","function":{"name":"get_weather","description":"Current weather for a city.","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]""")]
    [InlineData("functions", """[{"name":"get_weather","parameters":{"type":"object","properties":{}}}]""")]
    [InlineData("response_format", """{"type":"json_schema","json_schema":{"name":"answer","strict":true,"schema":{"type":"object","properties":{"answer":{"type":"string"}}}}}""")]
    [InlineData("tool_choice", """{"type":"function","function":{"name":"get_weather"}}""")]
    [InlineData("text", """{"format":{"type":"json_schema","name":"answer","schema":{"type":"object"}},"verbosity":"low"}""")]
    public void EstimateInputTokens_ToolsAndStructuredOutput_AddRawSliceCount(string property, string rawJson)
    {
        const string Message = """{"role":"user","content":"Weather in Paris?"}""";
        var baseline = Estimate($$"""{"messages":[{{Message}}]}""");

        var estimate = Estimate($$"""{"messages":[{{Message}}], "{{property}}" : {{rawJson}} ,"temperature":1}""");

        Assert.Equal(baseline + Count(rawJson), estimate);
    }

    [Fact]
    public void EstimateInputTokens_ToolChoiceString_NotCounted()
    {
        const string Message = """{"role":"user","content":"Weather in Paris?"}""";

        Assert.Equal(Estimate($$"""{"messages":[{{Message}}]}"""), Estimate($$"""{"messages":[{{Message}}],"tool_choice":"required"}"""));
    }

    [Fact]
    public void EstimateInputTokens_UnknownFields_Ignored()
    {
        const string Message = """{"role":"user","content":"Hi there"}""";

        var plain = Estimate($$"""{"messages":[{{Message}}]}""");
        var decorated = Estimate($$"""{"model":"gpt-4.1","metadata":{"text":"not counted","content":"nope"},"user":"someone","seed":7,"stop":["a","b"],"messages":[{{Message}}],"logit_bias":{"50256":-100} }""");

        Assert.Equal(Count("Hi there") + 3 + 3, plain);
        Assert.Equal(plain, decorated);
    }

    [Fact]
    public void EstimateInputTokens_ResponsesInputString_CountsInstructionsAndInput()
    {
        const string Instructions = "Answer like a pirate.";
        const string Input = "Tell me about the tides.";
        var json = $$"""{"model":"gpt-4.1","instructions":"{{Instructions}}","input":"{{Input}}","store":false}""";

        Assert.Equal(Count(Instructions) + Count(Input), Estimate(json));
    }

    [Fact]
    public void EstimateInputTokens_ResponsesInputItems_CountsEachItemPlusFraming()
    {
        const string Arguments = """{"city":"Paris"}""";
        var json = $$"""
            {"model":"gpt-4.1","input":[
              {"role":"developer","content":"Be brief."},
              {"type":"message","role":"user","content":[{"type":"input_text","text":"Weather in Paris?"},{"type":"input_image","image_url":"data:image/png;base64,AAAA","detail":"high"}]},
              {"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":{{System.Text.Json.JsonSerializer.Serialize(Arguments)}}},
              {"type":"function_call_output","call_id":"call_1","output":"18C and sunny"},
              {"type":"message","role":"assistant","id":"msg_1","status":"completed","content":[{"type":"output_text","text":"It is sunny.","annotations":[]}]}
            ]}
            """;

        var expected = Count("Be brief.") + Count("Weather in Paris?") + 765 + Count("get_weather") + Count(Arguments)
            + Count("18C and sunny") + Count("It is sunny.") + (5 * 3);

        Assert.Equal(expected, Estimate(json));
    }

    [Fact]
    public void EstimateInputTokens_EmbeddingsString_CountsText()
    {
        const string Text = "The quick brown fox jumps over the lazy dog.";

        Assert.Equal(Count(Text), Estimate($$"""{"model":"text-embedding-3-small","input":"{{Text}}","encoding_format":"float"}"""));
    }

    [Fact]
    public void EstimateInputTokens_EmbeddingsStringArray_CountsEachText()
    {
        Assert.Equal(
            Count("first document") + Count("second, longer document text") + Count("third"),
            Estimate("""{"model":"text-embedding-3-small","input":["first document","second, longer document text","third"]}"""));
    }

    [Theory]
    [InlineData("""{"model":"text-embedding-3-small","input":[101,2023,2003,1037,3231]}""", 5)]
    [InlineData("""{"model":"text-embedding-3-small","input":[[101,2023],[2003,1037,3231],[]]}""", 5)]
    [InlineData("""{"model":"gpt-3.5-turbo-instruct","prompt":[1,2,3]}""", 3)]
    public void EstimateInputTokens_TokenArrays_CountOnePerInteger(string json, int expected)
    {
        Assert.Equal(expected, Estimate(json));
    }

    [Fact]
    public void EstimateInputTokens_CompletionsPrompt_CountsStringAndArray()
    {
        Assert.Equal(Count("Once upon a time"), Estimate("""{"model":"gpt-3.5-turbo-instruct","prompt":"Once upon a time","max_tokens":16}"""));
        Assert.Equal(
            Count("Say hello") + Count("Say goodbye"),
            Estimate("""{"model":"gpt-3.5-turbo-instruct","prompt":["Say hello","Say goodbye"]}"""));
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"hi there""")]
    [InlineData("not json at all")]
    [InlineData("[1,2,3]")]
    [InlineData("\"just a string\"")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}]} trailing""")]
    [InlineData("""{"messages":[{"role":"user","content":"hi",}]}""")]
    public void EstimateInputTokens_NotAJsonObject_CountsWholeText(string body)
    {
        Assert.Equal(Count(body), Estimate(body));
    }

    [Fact]
    public void EstimateInputTokens_InvalidUtf8InCountedString_CountsWholeTextWithoutThrowing()
    {
        byte[] body = [.. """{"messages":[{"role":"user","content":"ab"""u8, 0xC3, 0x28, .. "\"}]}"u8];

        Assert.Equal(Count(Encoding.UTF8.GetString(body)), TokenEstimator.EstimateInputTokens(body));
    }

    [Fact]
    public void EstimateInputTokens_BigBody_CountsAllText()
    {
        var builder = new StringBuilder(210_000);
        var sentence = 0;
        while (builder.Length < 200_000)
        {
            builder.Append("Sentence number ").Append(sentence++).Append(" talks about budgets, tokens and prices. ");
        }

        var text = builder.ToString();
        var json = $$"""{"model":"gpt-4.1","messages":[{"role":"user","content":"{{text}}"}]}""";

        Assert.Equal(Count(text) + 3 + 3, Estimate(json));
    }

    public static TheoryData<string> BoundedBodies => new()
    {
        """{"model":"gpt-4.1-nano","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is the capital of France?"}],"max_completion_tokens":100}""",
        """{"messages":[{"role":"user","content":"line one\nline \"two\"\t\u00e9t\u00e9 \ud83d\ude00 \\ end"}]}""",
        """{"messages":[{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}""",
        """{"messages":[{"role":"user","content":[{"type":"image\u005furl","image_url":{"url":"u"}},{"image_url":"u"}]}]}""",
        """{"messages":[{"role":"user","content":[{},{},{"type":"input_image","image_url":"u"},{"type":"input_image"}]}]}""",
        """{"input":[{"role":"user","content":[{"type":"input_image","image_url":"u"}]},{}]}""",
        """{"messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:application/pdf;base64,QUJDRA==","filename":"a.pdf"}}]}]}""",
        """{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","content":"18C"}]}""",
        """{"messages":[],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string"}}}}}],"response_format":{"type":"json_object"}}""",
        """{"instructions":"Answer briefly.","input":[{"role":"user","content":"hi"},{"type":"function_call_output","output":"42"}]}""",
        """{"input":[[1,2,3],[4],[]],"prompt":[5,6]}""",
        """{"messages":[{"content":"<|endoftext|><|endoftext|><|endoftext|>"},{"content":"\u4e2d\u6587\u6587\u672c \u65e5\u672c\u8a9e"}]}""",
        """{"messages":[{"content":"12345678901234567890 00000000 ------ ...... !!!!!!"}]}""",
        """{"messages":[{"role":"user","content":"hi there""",
        """not json at all""",
        """[1,2,3]""",
        """{"messages":[{"role":"user","content":"\ud800 lone"}]}""",
        """{"messages":[{},{},{},{},{},{},{},{}]}""",
    };

    [Theory]
    [MemberData(nameof(BoundedBodies))]
    public void UpperBound_EveryShapeTheEstimatorReads_IsAtLeastTheEstimate(string json)
    {
        var body = Encoding.UTF8.GetBytes(json);

        Assert.True(TokenEstimator.UpperBound(body) >= TokenEstimator.EstimateInputTokens(body), $"{TokenEstimator.UpperBound(body)} < {TokenEstimator.EstimateInputTokens(body)}");
    }

    [Fact]
    public void UpperBound_InvalidUtf8_IsAtLeastTheEstimate()
    {
        byte[] body = [.. """{"messages":[{"role":"user","content":"ab"""u8, 0xC3, 0x28, 0xFF, 0xFE, 0x80, .. "\"}]}"u8];

        Assert.True(TokenEstimator.UpperBound(body) >= TokenEstimator.EstimateInputTokens(body));
    }

    [Fact]
    public void UpperBound_RandomText_IsAtLeastTheEstimate()
    {
        var random = new Random(20260501);
        char[] alphabet = ['a', 'Z', '7', ' ', '\n', '"', '\\', '{', '[', '<', '|', '\u00e9', '\u4e2d', '\u0416', '\u200b'];
        for (var i = 0; i < 200; i++)
        {
            var text = new StringBuilder();
            for (var c = random.Next(1, 400); c > 0; c--)
            {
                text.Append(random.Next(10) == 0 ? char.ConvertFromUtf32(random.Next(0x1F300, 0x1F64F)) : alphabet[random.Next(alphabet.Length)].ToString());
            }

            var body = Encoding.UTF8.GetBytes($$"""{"messages":[{"role":"user","content":{{System.Text.Json.JsonSerializer.Serialize(text.ToString())}}}]}""");
            Assert.True(TokenEstimator.UpperBound(body) >= TokenEstimator.EstimateInputTokens(body), text.ToString());
        }
    }

    [Fact]
    public void UpperBound_EmptyBody_IsZero()
    {
        Assert.Equal(0, TokenEstimator.UpperBound(ReadOnlySpan<byte>.Empty));
    }

    [Fact]
    public void UpperBound_EnglishProse_IsWithinSixTimesTheEstimate()
    {
        var text = string.Concat(Enumerable.Repeat("The reviewer reads the diff, checks the tests and writes a short summary of the change. ", 50));
        var body = Encoding.UTF8.GetBytes($$"""{"messages":[{"role":"user","content":"{{text}}"}]}""");

        Assert.InRange(TokenEstimator.UpperBound(body), TokenEstimator.EstimateInputTokens(body), 6 * TokenEstimator.EstimateInputTokens(body));
    }
}
