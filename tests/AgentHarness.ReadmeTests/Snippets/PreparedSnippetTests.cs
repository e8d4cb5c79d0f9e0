using AgentHarness.ReadmeTests.Markdown;

namespace AgentHarness.ReadmeTests.Snippets;

public sealed class PreparedSnippetTests
{
    [Fact]
    public void Prepare_UnknownContext_ReportsItWithoutCompiling()
    {
        var snippet = Prepare("<!-- snippet: context=host -->\n```csharp\nhost.Run();\n```\n");

        Assert.Null(snippet.Compiled);
        Assert.StartsWith("There is no context 'host'", Assert.Single(snippet.Problems), StringComparison.Ordinal);
    }

    [Fact]
    public void Prepare_ConfigAboveWithNoJsonAbove_ReportsIt()
    {
        var snippet = Prepare("<!-- snippet: context=services config=above -->\n```csharp\nservices.AddAgentHarness();\n```\n");

        Assert.Equal(["'config=above' but no JSON block is above this one."], snippet.Problems);
    }

    [Fact]
    public void Prepare_FileMarkerOnCSharp_ReportsIt()
    {
        var snippet = Prepare("<!-- snippet: file=Program.cs -->\n```csharp\nConsole.WriteLine();\n```\n");

        Assert.Equal(["'file=' is for JSON blocks; a C# block is compiled, not written to a file."], snippet.Problems);
    }

    private static PreparedSnippet Prepare(string markdown)
    {
        var document = ReadmeDocument.Parse(markdown, "test.md");
        return PreparedSnippet.Prepare(document, document.Blocks.Single());
    }
}
