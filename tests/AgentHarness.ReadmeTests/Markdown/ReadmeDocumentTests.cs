namespace AgentHarness.ReadmeTests.Markdown;

public sealed class ReadmeDocumentTests
{
    [Fact]
    public void Parse_MarkerBeforeFence_AppliesToThatBlockOnly()
    {
        var document = ReadmeDocument.Parse(
            """
            # Title

            <!-- snippet: context=harness compile-only -->

            ```csharp
            harness.BeginRun("a");
            ```

            ```csharp
            Console.WriteLine();
            ```
            """,
            "test.md");

        Assert.Empty(document.Problems);
        Assert.Collection(
            document.Blocks,
            first =>
            {
                Assert.Equal(5, first.FenceLine);
                Assert.Equal(6, first.FirstCodeLine);
                Assert.Equal("csharp", first.Language);
                Assert.Equal("harness.BeginRun(\"a\");", first.Code);
                Assert.Equal("harness", first.Marker.Context);
                Assert.True(first.Marker.CompileOnly);
            },
            second =>
            {
                Assert.Equal(9, second.FenceLine);
                Assert.Same(SnippetMarker.None, second.Marker);
            });
    }

    [Fact]
    public void Parse_MarkerFollowedByText_ReportsTheMarkersLine()
    {
        var document = ReadmeDocument.Parse("<!-- snippet: compile-only -->\nSome prose.\n```csharp\nx();\n```\n", "test.md");

        var problem = Assert.Single(document.Problems);
        Assert.StartsWith("line 1: a snippet marker must be followed by a code block", problem, StringComparison.Ordinal);
        Assert.Same(SnippetMarker.None, Assert.Single(document.Blocks).Marker);
    }

    [Fact]
    public void Parse_UnclosedFence_ReportsTheFencesLine()
    {
        var document = ReadmeDocument.Parse("text\n```json\n{}\n", "test.md");

        Assert.Equal(["line 2: the code block is never closed."], document.Problems);
    }

    [Fact]
    public void JsonBlockAbove_BlockAfterJson_FindsTheNearestOne()
    {
        var document = ReadmeDocument.Parse("```json\n{ \"a\": 1 }\n```\n```json\n{ \"b\": 2 }\n```\n```csharp\nx();\n```\n", "test.md");

        Assert.Equal("{ \"b\": 2 }", document.JsonBlockAbove(document.BlockAt(7))?.Code);
        Assert.Null(document.JsonBlockAbove(document.BlockAt(1)));
    }

    [Fact]
    public void FindReadme_FromTestBaseDirectory_FindsTheRepositorysReadme()
    {
        var readme = ReadmeDocument.FindReadme(AppContext.BaseDirectory);

        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(readme)!, "Harness.sln")));
    }
}
