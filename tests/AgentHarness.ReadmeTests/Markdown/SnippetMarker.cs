namespace AgentHarness.ReadmeTests.Markdown;

/// <summary>
/// What an HTML comment <c>&lt;!-- snippet: ... --&gt;</c> just before a code block says about it (see this project's
/// README.md): settings separated by spaces, <c>context=NAME</c>, <c>config=above</c>, <c>compile-only</c>, <c>file=NAME</c>.
/// </summary>
internal sealed record SnippetMarker
{
    /// <summary>The settings a marker may hold.</summary>
    public static readonly IReadOnlyList<string> Settings = ["context=NAME", "config=above", "compile-only", "file=NAME"];

    /// <summary>Gets the marker of a block with none.</summary>
    public static SnippetMarker None { get; } = new();

    /// <summary>Gets the context (a prelude in Contexts/) that declares what a C# fragment uses, or <see langword="null"/> for a complete program.</summary>
    public string? Context { get; init; }

    /// <summary>Gets a value indicating whether the context's configuration adds the nearest JSON block above.</summary>
    public bool ConfigAbove { get; init; }

    /// <summary>Gets a value indicating whether the block is compiled but not run (it needs something outside the process).</summary>
    public bool CompileOnly { get; init; }

    /// <summary>Gets the file name a JSON block is written to in the snippets' working directory, or <see langword="null"/>.</summary>
    public string? File { get; init; }

    /// <summary>Gets what is wrong with the marker's text; empty when nothing is.</summary>
    public IReadOnlyList<string> Problems { get; init; } = [];

    /// <summary>Reads the text after <c>snippet:</c>.</summary>
    public static SnippetMarker Parse(string body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var marker = new SnippetMarker();
        var problems = new List<string>();
        foreach (var setting in body.Split([' ', '\t', ','], StringSplitOptions.RemoveEmptyEntries))
        {
            var (key, value) = setting.IndexOf('=', StringComparison.Ordinal) is var at and >= 0
                ? (setting[..at], setting[(at + 1)..])
                : (setting, null);
            switch (key)
            {
                case "context" when !string.IsNullOrEmpty(value):
                    marker = marker with { Context = value };
                    break;
                case "config" when value == "above":
                    marker = marker with { ConfigAbove = true };
                    break;
                case "compile-only" when value is null:
                    marker = marker with { CompileOnly = true };
                    break;
                case "file" when !string.IsNullOrEmpty(value):
                    marker = marker with { File = value };
                    break;
                default:
                    problems.Add($"'{setting}' is not a snippet setting; use {string.Join(", ", Settings)}.");
                    break;
            }
        }

        if (marker.ConfigAbove && marker.Context is null)
        {
            problems.Add("'config=above' needs a context whose configuration it extends.");
        }

        return marker with { Problems = problems };
    }
}
