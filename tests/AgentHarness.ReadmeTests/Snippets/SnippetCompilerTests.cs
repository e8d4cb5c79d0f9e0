using AgentHarness.ReadmeTests.Markdown;

namespace AgentHarness.ReadmeTests.Snippets;

public sealed class SnippetCompilerTests
{
    [Fact]
    public void Compile_FragmentWithAnUndefinedName_NamesTheReadmeLineAndTheError()
    {
        var snippet = Prepare("# T\n\n<!-- snippet: context=harness -->\n```csharp\nvar run = harness.BeginRun(\"a\");\nConsole.WriteLine(diff);\n```\n");

        var problem = Assert.Single(snippet.Compiled!.Problems);
        Assert.Equal("README.md line 6, column 19: error CS0103: The name 'diff' does not exist in the current context", problem);
    }

    [Fact]
    public void Compile_Warning_CountsAsAProblem()
    {
        var snippet = Prepare("```csharp\nstring text = null;\nConsole.WriteLine(text);\n```\n");

        Assert.False(snippet.Compiled!.Succeeded);
        Assert.Contains(snippet.Compiled.Problems, static p => p.StartsWith("README.md line 2, column 15: warning CS8600:", StringComparison.Ordinal));
    }

    [Fact]
    public void Compile_ProgramUsingTheHarnessPackages_Compiles()
    {
        var snippet = Prepare(
            """
            ```csharp
            using AgentHarness;
            using AgentHarness.Sqlite;
            using AgentHarness.Testing;
            using Microsoft.Extensions.DependencyInjection;

            var services = new ServiceCollection();
            services.AddAgentHarness().AddSandboxGateway(new SandboxProvider()).AddSqliteUsageLedger("usage.db");
            Console.WriteLine(typeof(SqliteUsageLedger).Name + typeof(OpenAI.Chat.ChatClient).Name);
            ```
            """);

        Assert.Empty(snippet.Compiled!.Problems);
        Assert.True(snippet.Compiled.Succeeded);
    }

    private static PreparedSnippet Prepare(string markdown)
    {
        var document = ReadmeDocument.Parse(markdown, "test.md");
        return PreparedSnippet.Prepare(document, document.Blocks.Single(ReadmeFixture.IsCSharp));
    }
}
