using AgentHarness.ReadmeTests.Markdown;

namespace AgentHarness.ReadmeTests.Snippets;

public sealed class SnippetSourceTests
{
    [Fact]
    public void Build_CompleteProgram_MapsItsFirstLineToTheReadme()
    {
        var block = new CodeBlock("csharp", 10, 11, "using System;\nConsole.WriteLine();", SnippetMarker.None);

        Assert.Equal("#line 11 \"README.md\"\nusing System;\nConsole.WriteLine();\n", SnippetSource.Build(block, context: null));
    }

    [Fact]
    public void Build_FragmentWithUsings_PutsThemAfterTheContextsAndMapsEveryLine()
    {
        var context = SnippetContext.Parse("c", "using A;\nvar x = 1;\n// <snippet>\nDone();");
        var block = new CodeBlock("csharp", 20, 21, "using A;\nusing B;\n\nx.Go();", SnippetMarker.None);

        var source = SnippetSource.Build(block, context);

        Assert.Equal(
            """
            #line 1 "Contexts/c.cs"
            using A;
            #line 22 "README.md"
            using B;
            #line 2 "Contexts/c.cs"
            var x = 1;
            #line 24 "README.md"
            x.Go();
            #line 4 "Contexts/c.cs"
            Done();

            """.ReplaceLineEndings("\n"),
            source);
    }

    [Fact]
    public void BuildMarkerConstants_ConfigAbove_IsAnEscapedLiteral()
    {
        Assert.Contains("public const string? ConfigAbove = \"{ \\\"a\\\": \\\"b\\\\c\\\" }\";", SnippetSource.BuildMarkerConstants("{ \"a\": \"b\\c\" }"), StringComparison.Ordinal);
        Assert.Contains("public const string? ConfigAbove = null;", SnippetSource.BuildMarkerConstants(null), StringComparison.Ordinal);
    }
}
