using System.Text.RegularExpressions;

namespace AgentHarness.ReadmeTests.Snippets;

/// <summary>
/// A prelude (and optional epilogue) that declares what a README fragment uses: Contexts/NAME.cs,
/// embedded in this assembly. The line <c>// &lt;snippet&gt;</c> marks where the fragment goes.
/// </summary>
internal sealed partial class SnippetContext
{
    private const string SnippetLine = "// <snippet>";

    private SnippetContext(string name, IReadOnlyList<SourceLine> usings, IReadOnlyList<SourceLine> prelude, IReadOnlyList<SourceLine> epilogue)
    {
        Name = name;
        Usings = usings;
        Prelude = prelude;
        Epilogue = epilogue;
    }

    /// <summary>Gets the context's name, as a marker's <c>context=NAME</c> gives it.</summary>
    public string Name { get; }

    /// <summary>Gets the path messages give for the context's own lines.</summary>
    public string Path => $"Contexts/{Name}.cs";

    /// <summary>Gets the prelude's using directives.</summary>
    public IReadOnlyList<SourceLine> Usings { get; }

    /// <summary>Gets the prelude's other lines: the statements that run before the fragment.</summary>
    public IReadOnlyList<SourceLine> Prelude { get; }

    /// <summary>Gets the statements that run after the fragment.</summary>
    public IReadOnlyList<SourceLine> Epilogue { get; }

    /// <summary>Gets the names of every context this assembly holds.</summary>
    public static IReadOnlyList<string> Names { get; } =
        [.. typeof(SnippetContext).Assembly.GetManifestResourceNames()
            .Where(static n => n.StartsWith("Contexts.", StringComparison.Ordinal))
            .Select(static n => n["Contexts.".Length..])
            .Order(StringComparer.Ordinal)];

    /// <summary>Loads a context by name.</summary>
    /// <exception cref="ArgumentException">No context has that name; the message lists those there are.</exception>
    public static SnippetContext Load(string name)
    {
        using var stream = typeof(SnippetContext).Assembly.GetManifestResourceStream("Contexts." + name)
            ?? throw new ArgumentException($"There is no context '{name}' (Contexts/{name}.cs); there are: {string.Join(", ", Names)}.", nameof(name));
        using var reader = new StreamReader(stream);
        return Parse(name, reader.ReadToEnd());
    }

    /// <summary>Reads a context's text.</summary>
    public static SnippetContext Parse(string name, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        var usings = new List<SourceLine>();
        var prelude = new List<SourceLine>();
        var epilogue = new List<SourceLine>();
        var afterSnippet = false;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = new SourceLine(i + 1, lines[i]);
            if (lines[i].Trim() == SnippetLine)
            {
                afterSnippet = true;
            }
            else if (afterSnippet)
            {
                epilogue.Add(line);
            }
            else if (IsUsingDirective(lines[i]))
            {
                usings.Add(line);
            }
            else
            {
                prelude.Add(line);
            }
        }

        if (!afterSnippet)
        {
            throw new FormatException($"Contexts/{name}.cs has no line '{SnippetLine}' to say where the fragment goes.");
        }

        return new SnippetContext(name, usings, prelude, epilogue);
    }

    /// <summary>Gets a value indicating whether <paramref name="line"/> is a using directive (not a using statement or declaration).</summary>
    public static bool IsUsingDirective(string line) => UsingDirectivePattern().IsMatch(line);

    [GeneratedRegex(@"^\s*(global\s+)?using\s+(static\s+)?(\w+\s*=\s*)?[\w.]+(<[\w.,\s<>]*>)?\s*;\s*(//.*)?$")]
    private static partial Regex UsingDirectivePattern();
}

/// <summary>A line of source text with its line number in the file it came from.</summary>
internal readonly record struct SourceLine(int Number, string Text);
