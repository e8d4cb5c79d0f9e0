namespace AgentHarness.ReadmeTests.Markdown;

/// <summary>One fenced code block of a Markdown file.</summary>
/// <param name="Language">The fence's language, lower case (<c>csharp</c>, <c>json</c>, <c>sh</c>), empty when none is given.</param>
/// <param name="FenceLine">The line of the opening fence, counted from 1: the number messages name.</param>
/// <param name="FirstCodeLine">The line of the block's first line of code.</param>
/// <param name="Code">The code, lines joined with <c>\n</c>.</param>
/// <param name="Marker">The snippet marker written just before the block, or <see cref="SnippetMarker.None"/>.</param>
internal sealed record CodeBlock(string Language, int FenceLine, int FirstCodeLine, string Code, SnippetMarker Marker)
{
    /// <summary>Gets the block's code, one entry per line.</summary>
    public IReadOnlyList<string> Lines => Code.Split('\n');

    /// <summary>Gets how messages name the block, such as <c>README.md line 28 (csharp)</c>.</summary>
    public string Name => $"README.md line {FenceLine} ({(Language.Length == 0 ? "no language" : Language)})";
}
