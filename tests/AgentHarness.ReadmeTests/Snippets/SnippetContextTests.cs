namespace AgentHarness.ReadmeTests.Snippets;

public sealed class SnippetContextTests
{
    [Fact]
    public void Names_EmbeddedContexts_AreHarnessAndServices()
    {
        Assert.Equal(["harness", "services"], SnippetContext.Names);
    }

    [Fact]
    public void Load_UnknownName_ThrowsListingTheContexts()
    {
        var e = Assert.Throws<ArgumentException>(() => SnippetContext.Load("harnes"));

        Assert.StartsWith("There is no context 'harnes' (Contexts/harnes.cs); there are: harness, services.", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Text_SplitsUsingsPreludeAndEpilogueWithTheirLines()
    {
        var context = SnippetContext.Parse("x", "using A;\nusing B.C;\nvar a = 1;\nusing var d = Open();\n// <snippet>\nDone();\n");

        Assert.Equal([new SourceLine(1, "using A;"), new SourceLine(2, "using B.C;")], context.Usings);
        Assert.Equal([new SourceLine(3, "var a = 1;"), new SourceLine(4, "using var d = Open();")], context.Prelude);
        Assert.Equal([new SourceLine(6, "Done();")], context.Epilogue);
    }

    [Fact]
    public void Parse_NoSnippetLine_Throws()
    {
        var e = Assert.Throws<FormatException>(() => SnippetContext.Parse("x", "var a = 1;\n"));

        Assert.Equal("Contexts/x.cs has no line '// <snippet>' to say where the fragment goes.", e.Message);
    }

    [Theory]
    [InlineData("using AgentHarness;", true)]
    [InlineData("using static System.Math;", true)]
    [InlineData("using Json = System.Text.Json.JsonSerializer;", true)]
    [InlineData("using var run = harness.BeginRun(\"a\");", false)]
    [InlineData("using AgentRun run = harness.BeginRun(\"a\");", false)]
    [InlineData("using (run.Task(\"a\"))", false)]
    public void IsUsingDirective_Line_TellsDirectivesFromStatements(string line, bool expected)
    {
        Assert.Equal(expected, SnippetContext.IsUsingDirective(line));
    }
}
