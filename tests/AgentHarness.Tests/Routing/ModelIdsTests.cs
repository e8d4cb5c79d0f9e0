using AgentHarness.Routing.Internal;

namespace AgentHarness.Tests.Routing;

public sealed class ModelIdsTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("openai/gpt-4.1")]
    [InlineData("vertex/google/gemini-2.5-pro@2025-06-17")]
    public void Refusal_OrdinaryId_Null(string? model)
    {
        Assert.Null(ModelIds.Refusal(model));
    }

    [Fact]
    public void Refusal_IdAtTheLimit_Null()
    {
        Assert.Null(ModelIds.Refusal(new string('a', ModelIds.MaxLength)));
    }

    [Fact]
    public void Refusal_IdOverTheLimit_SaysLengthAndLimitAndShowsOnlyTheStart()
    {
        var refusal = ModelIds.Refusal("openai/" + new string('a', 4_000_000));

        Assert.NotNull(refusal);
        Assert.Contains("4,000,007 characters long", refusal, StringComparison.Ordinal);
        Assert.Contains("the longest model id the harness accepts is 256 characters", refusal, StringComparison.Ordinal);
        Assert.True(refusal.Length < 300, refusal);
    }

    [Theory]
    [InlineData("gpt-4.1\r\nINFO forged line", "gpt-4.1\\r\\nINFO forged line")]
    [InlineData("gpt\t4.1", "gpt\\t4.1")]
    [InlineData("gpt\u00854.1\u2028", "gpt\\u00854.1\\u2028")]
    [InlineData("gpt\u001b[31m", "gpt\\u001b[31m")]
    public void Refusal_ControlCharacters_RefusedWithTheIdEscaped(string model, string shown)
    {
        var refusal = ModelIds.Refusal(model);

        Assert.Equal($"The model id '{shown}' contains control characters (shown escaped); a model id must be printable text.", refusal);
        Assert.DoesNotContain(refusal!, c => char.IsControl(c) || c is '\u2028');
    }
}
