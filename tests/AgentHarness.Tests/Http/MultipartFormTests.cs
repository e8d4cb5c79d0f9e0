using System.Text;
using AgentHarness.Http.Internal;

namespace AgentHarness.Tests.Http;

public sealed class MultipartFormTests
{
    private static byte[] Form(params string[] parts) =>
        Encoding.UTF8.GetBytes(string.Concat(parts.Select(static p => "--b0undary\r\n" + p + "\r\n")) + "--b0undary--\r\n");

    [Fact]
    public void Parse_ModelAndStreamFields_ReadAndModelRewrittenInPlace()
    {
        var bytes = Form(
            "Content-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\nname=model\r\n",
            "Content-Type: text/plain; charset=utf-8\r\nContent-Disposition: form-data; name=model\r\n\r\nopenai/whisper-1",
            "Content-Disposition: form-data; name=\"stream\"\r\n\r\ntrue");

        var body = MultipartForm.Parse(bytes, "b0undary");

        Assert.Equal("openai/whisper-1", body.Model);
        Assert.True(body.Stream);
        Assert.True(body.IsForm);
        var rewritten = Encoding.UTF8.GetString(body.WithModel("whisper-1"));
        Assert.Equal(Encoding.UTF8.GetString(bytes).Replace("openai/whisper-1", "whisper-1", StringComparison.Ordinal), rewritten);
    }

    [Fact]
    public void Parse_FilePartNamedModel_IsNotTheModelField()
    {
        var body = MultipartForm.Parse(Form("Content-Disposition: form-data; name=model; filename=model.bin\r\n\r\nopenai/x"), "b0undary");

        Assert.Null(body.Model);
        Assert.Null(body.ModelError);
    }

    [Fact]
    public void Parse_TwoModelFields_ModelError()
    {
        var body = MultipartForm.Parse(Form("Content-Disposition: form-data; name=model\r\n\r\na/b", "Content-Disposition: form-data; name=model\r\n\r\nc/d"), "b0undary");

        Assert.Null(body.Model);
        Assert.Contains("more than one 'model' field", body.ModelError, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_InvalidUtf8Model_ModelError()
    {
        var bytes = Form("Content-Disposition: form-data; name=model\r\n\r\nX");
        bytes[Array.IndexOf(bytes, (byte)'X')] = 0xFF;

        Assert.NotNull(MultipartForm.Parse(bytes, "b0undary").ModelError);
    }

    [Fact]
    public void Parse_Truncated_RefusedNotSentWithoutAModel()
    {
        var body = MultipartForm.Parse(Encoding.UTF8.GetBytes("--b0undary\r\nContent-Disposition: form-data; name=model\r\n\r\nopenai/whisper-1"), "b0undary");

        Assert.Null(body.Model);
        Assert.Equal(MultipartForm.UnreadableForm, body.ModelError);
    }

    [Fact]
    public void Parse_BoundaryNotInTheBody_Refused()
    {
        Assert.Equal(MultipartForm.UnreadableForm, MultipartForm.Parse(Form("Content-Disposition: form-data; name=model\r\n\r\na/b"), "other").ModelError);
    }

    [Fact]
    public void Parse_FormWithoutModelField_NoModelAndNoError()
    {
        var body = MultipartForm.Parse(Form("Content-Disposition: form-data; name=prompt\r\n\r\nadd a hat"), "b0undary");

        Assert.Null(body.Model);
        Assert.Null(body.ModelError);
    }

    [Fact]
    public void Boundary_QuotedParameter_Unquoted()
    {
        using var content = new ByteArrayContent([]);
        content.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=\"abc def\"");

        Assert.Equal("abc def", MultipartForm.Boundary(content));
    }

    [Fact]
    public void Boundary_JsonContent_Null()
    {
        using var content = new StringContent("{}", Encoding.UTF8, "application/json");

        Assert.Null(MultipartForm.Boundary(content));
    }
}
