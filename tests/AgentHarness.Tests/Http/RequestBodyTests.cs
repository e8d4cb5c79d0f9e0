using System.Text;
using AgentHarness.Http.Internal;

namespace AgentHarness.Tests.Http;

public sealed class RequestBodyTests
{
    [Fact]
    public void Parse_ChatRequest_ReadsModelStreamAndMaxTokens()
    {
        var body = RequestBody.Parse(Encoding.UTF8.GetBytes("""{"messages":[{"role":"user","content":"{\"model\":\"no\"}"}],"model":"openai/gpt-4.1-nano","stream":true,"max_completion_tokens":10}"""));

        Assert.Equal("openai/gpt-4.1-nano", body.Model);
        Assert.True(body.Stream);
        Assert.Equal(10, body.MaxOutputTokens);
    }

    [Theory]
    [InlineData("""{"model":"m","max_tokens":4000,"max_completion_tokens":10}""", 4000)]
    [InlineData("""{"model":"m","max_completion_tokens":4000,"max_tokens":10}""", 4000)]
    [InlineData("""{"model":"m","max_tokens":4000,"max_tokens":10}""", 4000)]
    [InlineData("""{"model":"m","max_completion_tokens":10,"max_tokens":4000.0}""", 4000)]
    [InlineData("""{"model":"m","max_completion_tokens":10,"max_tokens":1e4}""", 10000)]
    [InlineData("""{"model":"m","max_completion_tokens":10,"max_tokens":"4000"}""", 4000)]
    [InlineData("""{"model":"m","max_output_tokens":10.5}""", 11)]
    [InlineData("""{"model":"m","max_tokens":1e300}""", int.MaxValue)]
    public void Parse_OutputLimitRepeatedOrSpelledLeniently_ReadsTheLargest(string json, int expected)
    {
        Assert.Equal(expected, RequestBody.Parse(Encoding.UTF8.GetBytes(json)).MaxOutputTokens);
    }

    [Theory]
    [InlineData("""{"model":"m","n":3}""", 3)]
    [InlineData("""{"model":"m","n":3.0}""", 3)]
    [InlineData("""{"model":"m","n":"3"}""", 3)]
    [InlineData("""{"model":"m","n":3,"n":1}""", 3)]
    [InlineData("""{"model":"m","prompt":"p","best_of":5,"n":2}""", 5)]
    public void Parse_ChoicesAsLenientNumberOrBestOf_CountsEveryAnswerGenerated(string json, int expected)
    {
        Assert.Equal(expected, RequestBody.Parse(Encoding.UTF8.GetBytes(json)).Choices);
    }

    [Fact]
    public void Parse_ObjectValuedFields_NestedModelNotTakenForTheTopLevelOne()
    {
        var body = RequestBody.Parse(Encoding.UTF8.GetBytes("""{"model":"openai/cheap","stream":{"model":"openai/dear"},"n":{"model":"openai/dear"},"max_tokens":{"model":"openai/dear"}}"""));

        Assert.Equal("openai/cheap", body.Model);
        Assert.Null(body.MaxOutputTokens);
    }

    [Fact]
    public void WithModel_SplicesOnlyTheModelValue()
    {
        const string Json = """{ "model" : "openai/gpt-4.1-nano", "messages":[{"role":"user","content":"model: openai/gpt-4.1-nano"}] }""";
        var body = RequestBody.Parse(Encoding.UTF8.GetBytes(Json));

        var rewritten = Encoding.UTF8.GetString(body.WithModel("gpt-4.1-nano"));

        Assert.Equal(Json.Replace("\"openai/gpt-4.1-nano\"", "\"gpt-4.1-nano\"", StringComparison.Ordinal), rewritten);
    }

    [Fact]
    public void WithModel_EscapedOriginalAndSpecialCharacters_ProducesValidJson()
    {
        var body = RequestBody.Parse(Encoding.UTF8.GetBytes("""{"model":"openai\/gpt-4.1","n":1}"""));

        Assert.Equal("openai/gpt-4.1", body.Model);
        var rewritten = body.WithModel("we\"ird");
        using var document = System.Text.Json.JsonDocument.Parse(rewritten);
        Assert.Equal("we\"ird", document.RootElement.GetProperty("model").GetString());
        Assert.Equal(1, document.RootElement.GetProperty("n").GetInt32());
    }

    [Fact]
    public void WithModel_SameModel_ReturnsTheSameBytes()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"model":"gpt-4.1"}""");

        Assert.Same(bytes, RequestBody.Parse(bytes).WithModel("gpt-4.1"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("""{"model":42}""")]
    public void Parse_NoModel_ModelIsNullAndBodyUnchanged(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        var body = RequestBody.Parse(bytes);

        Assert.Null(body.Model);
        Assert.Same(bytes, body.WithModel("x"));
    }

    [Fact]
    public void Parse_ModelNotUtf8_NoModelAndSaysWhyWithoutThrowing()
    {
        byte[] json = [.. "{\"model\":\"openai/gpt"u8, 0xE9, .. "\",\"stream\":true}"u8];

        var body = RequestBody.Parse(json);

        Assert.Null(body.Model);
        Assert.Contains("not valid text", body.ModelError, StringComparison.Ordinal);
        Assert.True(body.Stream);
    }

    [Fact]
    public void Parse_ReadableModel_NoModelError()
    {
        Assert.Null(RequestBody.Parse(Encoding.UTF8.GetBytes("""{"model":"caf\u00e9"}""")).ModelError);
    }

    public static TheoryData<string> OfficialClientBodies => new()
    {
        """{"messages":[{"role":"user","content":"hi"}],"model":"openai/gpt-4.1-nano"}""",
        """{"messages":[{"role":"user","content":"a \"quoted\" ] } [ { \\ back\\\\slash\n"}],"model":"m","max_completion_tokens":5,"n":2,"stream":true}""",
        """{"messages":[{"role":"user","content":[{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"u"}}]}],"model":"m","max_tokens":"7"}""",
        """{"messages":[],"model":"m"}""",
        """{"messages":[{"content":"\u005d\u007d"}]}""",
        """{"input":[{"role":"user","content":"hi"}],"model":"m","max_output_tokens":9}""",
        """{"input":"plain text","model":"e"}""",
        """{"model":"first","messages":[{"content":"x"}],"stream":true}""",
        """ { "messages" : [ {"content":"spaced"} ] , "model" : "m" } """,
        """{"messages":[{"content":"x"}]}""",
        """{"messages":{"not":"an array"},"model":"m"}""",
    };

    [Theory]
    [MemberData(nameof(OfficialClientBodies))]
    public void ParseWellFormed_OfficialClientBody_ReadsWhatParseReads(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);

        var full = RequestBody.Parse(bytes);
        var fast = RequestBody.ParseWellFormed(bytes);

        Assert.Equal((full.Model, full.Stream, full.MaxOutputTokens, full.Choices, full.NamesOutputLimit, full.ModelError), (fast.Model, fast.Stream, fast.MaxOutputTokens, fast.Choices, fast.NamesOutputLimit, fast.ModelError));
        Assert.Equal(Encoding.UTF8.GetString(full.WithModel("other/model")), Encoding.UTF8.GetString(fast.WithModel("other/model")));
        Assert.Same(bytes, fast.Bytes);
    }
}
