using AgentHarness.Internal;

namespace AgentHarness.Tests.Internal;

public sealed class SafeTextTests
{
    [Theory]
    [InlineData("api.example.com/v1?api_key=sk-secret", "api.example.com/v1")]
    [InlineData("https://user:sk-secret@api.example.com/v1?x=1#frag", "https://api.example.com/v1")]
    [InlineData("user:sk-secret@api.example.com/v1", "api.example.com/v1")]
    [InlineData("//user@api.example.com", "//api.example.com")]
    [InlineData("https://api.example.com/a@b/v1", "https://api.example.com/a@b/v1")]
    [InlineData("ftp://api-v2.requesty.ai", "ftp://api-v2.requesty.ai")]
    [InlineData("", "")]
    [InlineData("?sk-secret", "")]
    public void Url_Text_WithoutQueryFragmentOrUserInformation(string text, string shown)
    {
        Assert.Equal(shown, SafeText.Url(text));
    }
}
