using System.Text.RegularExpressions;

namespace AgentHarness.ReadmeTests.Markdown;

/// <summary>The fenced code blocks of a Markdown file, each with the snippet marker written before it.</summary>
internal sealed partial class ReadmeDocument
{
    private ReadmeDocument(string path, IReadOnlyList<CodeBlock> blocks, IReadOnlyList<string> problems)
    {
        Path = path;
        Blocks = blocks;
        Problems = problems;
    }

    /// <summary>Gets the file's path, or a name for text that came from elsewhere.</summary>
    public string Path { get; }

    /// <summary>Gets every fenced code block, in file order.</summary>
    public IReadOnlyList<CodeBlock> Blocks { get; }

    /// <summary>Gets what is wrong with the file's markers outside any block, such as a marker no code block follows.</summary>
    public IReadOnlyList<string> Problems { get; }

    /// <summary>Finds the repository's README.md by walking up from <paramref name="start"/> (the test's base directory).</summary>
    /// <exception cref="FileNotFoundException">No folder above <paramref name="start"/> holds both README.md and Harness.sln.</exception>
    public static string FindReadme(string start)
    {
        for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
        {
            var readme = System.IO.Path.Combine(directory.FullName, "README.md");

            // Harness.sln tells the repository's README from this project's own README.md.
            if (File.Exists(readme) && File.Exists(System.IO.Path.Combine(directory.FullName, "Harness.sln")))
            {
                return readme;
            }
        }

        throw new FileNotFoundException($"No README.md beside a Harness.sln in '{start}' or any folder above it.");
    }

    /// <summary>Reads the repository's README.md.</summary>
    public static ReadmeDocument LoadRepositoryReadme()
    {
        var path = FindReadme(AppContext.BaseDirectory);
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses Markdown text.</summary>
    /// <param name="markdown">The text.</param>
    /// <param name="path">Where it came from, for messages.</param>
    public static ReadmeDocument Parse(string markdown, string path)
    {
        ArgumentNullException.ThrowIfNull(markdown);
        var lines = markdown.ReplaceLineEndings("\n").Split('\n');
        var blocks = new List<CodeBlock>();
        var problems = new List<string>();
        (SnippetMarker Marker, int Line)? pending = null;

        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var number = i + 1;
            var marker = MarkerPattern().Match(line);
            if (marker.Success)
            {
                if (pending is { } orphan)
                {
                    problems.Add($"line {orphan.Line}: a snippet marker must be followed by a code block, but another marker follows it at line {number}.");
                }

                pending = (SnippetMarker.Parse(marker.Groups["body"].Value), number);
                continue;
            }

            var fence = FencePattern().Match(line);
            if (!fence.Success)
            {
                if (pending is { } stray && line.Trim().Length > 0)
                {
                    problems.Add($"line {stray.Line}: a snippet marker must be followed by a code block (blank lines aside), but line {number} is text.");
                    pending = null;
                }

                continue;
            }

            var ticks = fence.Groups["ticks"].Value;
            var language = fence.Groups["info"].Value.Trim().Split(' ', 2)[0].ToLowerInvariant();
            var code = new List<string>();
            var end = i + 1;
            while (end < lines.Length && !lines[end].TrimEnd().Equals(ticks, StringComparison.Ordinal))
            {
                code.Add(lines[end]);
                end++;
            }

            if (end == lines.Length)
            {
                problems.Add($"line {number}: the code block is never closed.");
            }

            blocks.Add(new CodeBlock(language, number, number + 1, string.Join('\n', code), pending?.Marker ?? SnippetMarker.None));
            pending = null;
            i = end;
        }

        if (pending is { } last)
        {
            problems.Add($"line {last.Line}: a snippet marker must be followed by a code block, but the file ends.");
        }

        return new ReadmeDocument(path, blocks, problems);
    }

    /// <summary>Gets the block whose opening fence is on <paramref name="line"/>.</summary>
    public CodeBlock BlockAt(int line) =>
        Blocks.FirstOrDefault(b => b.FenceLine == line)
        ?? throw new ArgumentOutOfRangeException(nameof(line), line, $"{Path} has no code block at line {line}.");

    /// <summary>Gets the nearest JSON block above <paramref name="block"/>, or <see langword="null"/>.</summary>
    public CodeBlock? JsonBlockAbove(CodeBlock block) =>
        Blocks.LastOrDefault(b => b.FenceLine < block.FenceLine && b.Language == "json");

    [GeneratedRegex(@"^\s*<!--\s*snippet:(?<body>.*?)-->\s*$")]
    private static partial Regex MarkerPattern();

    [GeneratedRegex(@"^(?<ticks>```+)(?<info>[^`]*)$")]
    private static partial Regex FencePattern();
}
