using System.Text;
using AgentHarness.Internal;

namespace AgentHarness.Tests.Internal;

public sealed class KeyRedactorTests
{
    private const string Key = "key-openai+secret/2=";
    private const string OtherKey = "key-mistral-secret-9";

    private static readonly KeyRedactor Redactor = new([Key, OtherKey, null, " ", "short"]);

    [Theory]
    [InlineData("raw: key-openai+secret/2=.")]
    [InlineData("json: key-openai\\u002Bsecret/2\\u003D.")]
    [InlineData("json, lowercase escapes: key-openai\\u002bsecret/2\\u003d.")]
    [InlineData("json, escaped slash: key-openai+secret\\/2=.")]
    [InlineData("url: key-openai%2Bsecret%2F2%3D.")]
    [InlineData("url, lowercase: key-openai%2bsecret%2f2%3d.")]
    [InlineData("form: key-openai%2bsecret%2f2%3d.")]
    public void Redact_KeyInAnyForm_Removed(string text)
    {
        var redacted = Redactor.Redact(text);

        Assert.EndsWith(": [key removed].", redacted, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", redacted, StringComparison.Ordinal);
    }

    [Fact]
    public void Redact_EveryConfiguredKey_RemovedNotOnlyOne()
    {
        Assert.Equal("[key removed] and [key removed]", Redactor.Redact($"{OtherKey} and {Key}"));
    }

    [Theory]
    [InlineData("Incorrect API key provided: sk-proj-AbCdEf0123456789_xyz-QRS.", "Incorrect API key provided: [key removed].")]
    [InlineData("key=sk-ant-api03-0123456789abcdefABCDEF", "key=[key removed]")]
    [InlineData("\"AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q\"", "\"[key removed]\"")]
    public void Redact_WellKnownKeyShapeNotConfigured_Masked(string text, string expected)
    {
        Assert.Equal(expected, Redactor.Redact(text));
    }

    [Theory]
    [InlineData("Incorrect API key provided: sk-live-****abcd.")]
    [InlineData("task-sk-1 is short; ask-me-anything-about-it")]
    [InlineData("short and shorter")]
    public void Redact_NoKey_TextUnchanged(string text)
    {
        Assert.Same(text, Redactor.Redact(text));
    }

    [Fact]
    public void RedactUtf8_NoKey_NullSoTheBytesStay()
    {
        Assert.Null(Redactor.RedactUtf8([0xFF, 0xFE, (byte)'{', (byte)'}']));
        Assert.Null(Redactor.RedactUtf8([]));
    }

    [Fact]
    public void RedactUtf8_Key_ReturnsRedactedBytes()
    {
        var redacted = Redactor.RedactUtf8(Encoding.UTF8.GetBytes($$$"""{"error":{"message":"bad key {{{Key}}}"}}"""));

        Assert.Equal("""{"error":{"message":"bad key [key removed]"}}""", Encoding.UTF8.GetString(redacted!));
    }

    [Theory]
    [InlineData("upper case: KEY-OPENAI+SECRET/2=.")]
    [InlineData("kelvin sign for k: \u212Aey-openai+secret/2=.")]
    public void Redact_KeyInACaseTheRegexMatches_RemovedThoughTheSearchForItIsOrdinal(string text)
    {
        Assert.EndsWith(": [key removed].", Redactor.Redact(text), StringComparison.Ordinal);
    }

    [Fact]
    public void Redact_TextWithoutAnyKeysPiece_SameInstance()
    {
        const string Text = """{"error":{"message":"The server is overloaded","type":"server_error"}}""";

        Assert.Same(Text, Redactor.Redact(Text));
    }

    [Theory]
    [InlineData("Bearer KEY-OPENAI+SECRET/2", true)]
    [InlineData("token sk-live-4f9a8b7c6d5e4f3a2b", true)]
    [InlineData("application/json; charset=utf-8", false)]
    [InlineData("key-ope", false)]
    public void MayRedact_AnchorOrShapePrefixInAnyCase_True(string text, bool expected)
    {
        var redactor = new KeyRedactor(["key-openai+secret/2"]);

        Assert.Equal(expected, redactor.MayRedact(text));
    }
}
