using System.Globalization;
using System.Text;
using AgentHarness.ReadmeTests.Markdown;

namespace AgentHarness.ReadmeTests.Snippets;

/// <summary>
/// The C# program a README block becomes: a complete program as it is written; a fragment inside its
/// context (the context's usings and the fragment's own, the prelude, the fragment, the epilogue).
/// <c>#line</c> directives map every line back to README.md or to the context's file, so compiler
/// errors and stack traces name the README's own line numbers.
/// </summary>
internal static class SnippetSource
{
    /// <summary>The path compiler messages and stack traces give for the README's lines.</summary>
    public const string ReadmePath = "README.md";

    /// <summary>
    /// The usings a new console project (<c>dotnet new console</c>, <c>ImplicitUsings</c> on) has
    /// without writing them, so that a block compiles here exactly when it compiles there.
    /// </summary>
    public const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    /// <summary>Builds the program of <paramref name="block"/>.</summary>
    /// <param name="block">A C# block.</param>
    /// <param name="context">Its context, or <see langword="null"/> for a complete program.</param>
    public static string Build(CodeBlock block, SnippetContext? context)
    {
        ArgumentNullException.ThrowIfNull(block);
        var source = new StringBuilder();
        var lines = block.Lines;
        if (context is null)
        {
            AppendReadme(source, block.FirstCodeLine, lines);
            return source.ToString();
        }

        // The fragment's own using directives must come before any statement: they go after the context's.
        var firstStatement = 0;
        while (firstStatement < lines.Count && (SnippetContext.IsUsingDirective(lines[firstStatement]) || lines[firstStatement].Trim().Length == 0))
        {
            firstStatement++;
        }

        var contextUsings = context.Usings.Select(static u => u.Text.Trim()).ToHashSet(StringComparer.Ordinal);
        AppendContext(source, context, context.Usings);
        for (var i = 0; i < firstStatement; i++)
        {
            if (lines[i].Trim().Length > 0 && !contextUsings.Contains(lines[i].Trim()))
            {
                AppendReadme(source, block.FirstCodeLine + i, [lines[i]]);
            }
        }

        AppendContext(source, context, context.Prelude);
        AppendReadme(source, block.FirstCodeLine + firstStatement, lines.Skip(firstStatement));
        AppendContext(source, context, context.Epilogue);
        return source.ToString();
    }

    /// <summary>Builds the class that hands a context what a marker adds to it, as constants.</summary>
    /// <param name="configAbove">The JSON block a <c>config=above</c> marker adds to the context's configuration, or <see langword="null"/>.</param>
    public static string BuildMarkerConstants(string? configAbove) =>
        $$"""
        #nullable enable
        /// <summary>What the block's marker hands its context.</summary>
        internal static class ReadmeSnippet
        {
            /// <summary>The JSON block above the fragment when its marker says config=above, else null.</summary>
            public const string? ConfigAbove = {{(configAbove is null ? "null" : SymbolDisplayLiteral(configAbove))}};
        }
        """;

    private static void AppendReadme(StringBuilder source, int firstLine, IEnumerable<string> lines)
    {
        source.Append(CultureInfo.InvariantCulture, $"#line {firstLine} \"{ReadmePath}\"\n");
        foreach (var line in lines)
        {
            source.Append(line).Append('\n');
        }
    }

    private static void AppendContext(StringBuilder source, SnippetContext context, IEnumerable<SourceLine> lines)
    {
        var next = -1;
        foreach (var line in lines)
        {
            if (line.Number != next)
            {
                source.Append(CultureInfo.InvariantCulture, $"#line {line.Number} \"{context.Path}\"\n");
            }

            source.Append(line.Text).Append('\n');
            next = line.Number + 1;
        }
    }

    private static string SymbolDisplayLiteral(string text) =>
        Microsoft.CodeAnalysis.CSharp.SymbolDisplay.FormatLiteral(text, quote: true);
}
