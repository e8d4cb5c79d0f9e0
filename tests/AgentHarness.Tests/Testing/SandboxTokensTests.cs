using AgentHarness.Testing;
using Xunit;

namespace AgentHarness.Tests.Testing;

public sealed class SandboxTokensTests
{
    [Theory]
    [InlineData(null, 0)]
    [InlineData("", 0)]
    [InlineData("a", 1)]
    [InlineData("abcd", 1)]
    [InlineData("abcde", 2)]
    [InlineData("abcdefgh", 2)]
    [InlineData("abcdefghi", 3)]
    public void Count_Text_IsCeilingOfLengthOverFour(string? text, int expected)
    {
        Assert.Equal(expected, SandboxTokens.Count(text));
    }
}
