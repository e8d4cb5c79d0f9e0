using AgentHarness.ReadmeTests.Markdown;

namespace AgentHarness.ReadmeTests.Snippets;

/// <summary>A README C# block turned into a program and compiled, or what stopped that.</summary>
/// <param name="Block">The block.</param>
/// <param name="Source">The program's source (with its context), or <see langword="null"/> when the marker was wrong.</param>
/// <param name="Compiled">The compilation's result, or <see langword="null"/> when the marker was wrong.</param>
/// <param name="Problems">What is wrong with the marker or the context; empty when nothing is.</param>
internal sealed record PreparedSnippet(CodeBlock Block, string? Source, CompiledSnippet? Compiled, IReadOnlyList<string> Problems)
{
    /// <summary>Builds and compiles <paramref name="block"/> of <paramref name="document"/>.</summary>
    public static PreparedSnippet Prepare(ReadmeDocument document, CodeBlock block)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(block);
        if (block.Marker.Problems.Count > 0)
        {
            return new PreparedSnippet(block, null, null, block.Marker.Problems);
        }

        if (block.Marker.File is not null)
        {
            return new PreparedSnippet(block, null, null, ["'file=' is for JSON blocks; a C# block is compiled, not written to a file."]);
        }

        SnippetContext? context = null;
        if (block.Marker.Context is { } name)
        {
            try
            {
                context = SnippetContext.Load(name);
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                return new PreparedSnippet(block, null, null, [e.Message]);
            }
        }

        string? configAbove = null;
        if (block.Marker.ConfigAbove)
        {
            configAbove = document.JsonBlockAbove(block)?.Code;
            if (configAbove is null)
            {
                return new PreparedSnippet(block, null, null, ["'config=above' but no JSON block is above this one."]);
            }
        }

        var source = SnippetSource.Build(block, context);
        var compiled = SnippetCompiler.Compile(source, context is null ? null : SnippetSource.BuildMarkerConstants(configAbove));
        return new PreparedSnippet(block, source, compiled, []);
    }
}
