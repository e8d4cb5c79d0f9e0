using System.Text;
using System.Text.Json;
using AgentHarness.ReadmeTests.Markdown;
using AgentHarness.ReadmeTests.Snippets;
using AgentHarness.ReadmeTests.Support;

namespace AgentHarness.ReadmeTests;

/// <summary>
/// Every code block of the repository's README.md works as written: each C# block compiles against the
/// harness and runs offline in this process (its marker says how, see this project's README.md), and
/// each JSON block of harness configuration binds through <c>AddAgentHarness</c>.
/// </summary>
public sealed class ReadmeTests(ReadmeFixture readme, ITestOutputHelper output) : IClassFixture<ReadmeFixture>
{
    // Only a guard against a hung program; a README program runs in well under a second.
    private static readonly TimeSpan HangTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Gets the README's C# blocks, by the line of their opening fence.</summary>
    public static IEnumerable<TheoryDataRow<int>> CSharpBlocks => BlocksOf(ReadmeFixture.IsCSharp);

    /// <summary>Gets the README's JSON blocks, by the line of their opening fence.</summary>
    public static IEnumerable<TheoryDataRow<int>> JsonBlocks => BlocksOf(static b => b.Language == "json");

    [Theory]
    [MemberData(nameof(CSharpBlocks))]
    public async Task CSharpBlock_AsWritten_CompilesAndRunsOffline(int line)
    {
        var snippet = readme.Snippet(line);
        var block = snippet.Block;
        output.WriteLine($"The README's C# blocks compiled in {readme.CompileTime.TotalSeconds:0.0} s ({readme.CompileProcessorTime.TotalSeconds:0.0} s of processor time).");
        Assert.True(snippet.Problems.Count == 0, $"{block.Name}: its snippet marker is wrong:\n{string.Join('\n', snippet.Problems)}");
        Assert.True(snippet.Compiled!.Succeeded, $"{block.Name} does not compile{ContextOf(block)}:\n{string.Join('\n', snippet.Compiled.Problems)}");
        if (block.Marker.CompileOnly)
        {
            output.WriteLine($"{block.Name} is marked compile-only: compiled, not run.");
            return;
        }

        var run = await SnippetRunner.RunAsync(snippet.Compiled, readme.WorkingDirectory, HangTimeout, TestContext.Current.CancellationToken);
        output.WriteLine(run.Output);
        Assert.True(
            run.NetworkUse.Count == 0,
            $"{block.Name} reached for the network when run offline{ContextOf(block)} (mark it compile-only if it needs a real service):\n"
            + $"{string.Join('\n', run.NetworkUse)}\n\nIts output:\n{run.Output}");
        Assert.True(run.Exception is null, $"{block.Name} threw when run{ContextOf(block)}:\n{run.Exception}\n\nIts output:\n{run.Output}");
    }

    [Theory]
    [MemberData(nameof(JsonBlocks))]
    public void JsonBlock_HarnessConfiguration_BindsThroughAddAgentHarness(int line)
    {
        var block = readme.Document.BlockAt(line);
        Assert.True(block.Marker.Problems.Count == 0, $"{block.Name}: its snippet marker is wrong:\n{string.Join('\n', block.Marker.Problems)}");
        bool isHarnessConfiguration;
        try
        {
            isHarnessConfiguration = HarnessConfiguration.IsHarnessConfiguration(block.Code);
        }
        catch (JsonException e)
        {
            Assert.Fail($"{block.Name} is not a JSON document (a configuration block must be one that can be pasted into appsettings.json): {e.Message}");
            return;
        }

        if (!isHarnessConfiguration)
        {
            output.WriteLine($"{block.Name} has no AgentHarness section: checked as JSON only.");
            return;
        }

        var appSettings = readme.Document.Blocks.FirstOrDefault(static b => b.Marker.File == ReadmeContext.AppSettingsFile);
        var baseJson = appSettings is null || appSettings.FenceLine == line ? null : appSettings.Code;
        try
        {
            HarnessConfiguration.BindAndStart(block.Code, baseJson);
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            var over = baseJson is null ? string.Empty : $" (over the README's appsettings.json, line {appSettings!.FenceLine})";
            Assert.Fail($"{block.Name} does not bind through AddAgentHarness{over}:\n{e.GetType().Name}: {e.Message}");
        }
    }

    [Fact]
    public void Readme_Markers_AreEachFollowedByACodeBlock()
    {
        Assert.True(readme.Document.Problems.Count == 0, $"README.md's snippet markers:\n{string.Join('\n', readme.Document.Problems)}");
    }

    [Fact]
    public void Readme_AppSettingsBlock_IsThere()
    {
        // The quick start reads appsettings.json from its working directory; the contexts read it too.
        Assert.True(
            readme.Document.Blocks.Any(static b => b.Language == "json" && b.Marker.File == ReadmeContext.AppSettingsFile),
            $"README.md has no JSON block marked '<!-- snippet: file={ReadmeContext.AppSettingsFile} -->'.");
    }

    private static string ContextOf(CodeBlock block) =>
        block.Marker.Context is { } context ? $" in context '{context}' (tests/AgentHarness.ReadmeTests/Contexts/{context}.cs)" : " as a complete program";

    private static IEnumerable<TheoryDataRow<int>> BlocksOf(Func<CodeBlock, bool> predicate)
    {
        foreach (var block in ReadmeDocument.LoadRepositoryReadme().Blocks.Where(predicate))
        {
            var first = block.Lines.FirstOrDefault(static l => l.Trim().Length > 0)?.Trim() ?? string.Empty;
            var summary = new StringBuilder(block.Name);
            if (block.Marker.Context is { } context)
            {
                summary.Append(" context=").Append(context);
            }

            if (block.Marker.CompileOnly)
            {
                summary.Append(" compile-only");
            }

            summary.Append(": ").Append(first.Length > 60 ? first[..60] + "…" : first);
            yield return new TheoryDataRow<int>(block.FenceLine) { TestDisplayName = summary.ToString() };
        }
    }
}
