using System.Collections.Concurrent;
using System.Diagnostics;
using AgentHarness.ReadmeTests.Markdown;
using AgentHarness.ReadmeTests.Snippets;

namespace AgentHarness.ReadmeTests;

/// <summary>
/// The repository's README, read once for the whole test class: its blocks, the working directory its
/// programs run in (holding the JSON blocks marked <c>file=NAME</c>), and every C# block compiled, all of
/// them at once on first use, so the compiler warms up once.
/// </summary>
public sealed class ReadmeFixture : IDisposable
{
    private readonly Lazy<IReadOnlyDictionary<int, PreparedSnippet>> snippets;

    /// <summary>Initializes a new instance of the <see cref="ReadmeFixture"/> class.</summary>
    public ReadmeFixture()
    {
        Document = ReadmeDocument.LoadRepositoryReadme();
        WorkingDirectory = Directory.CreateTempSubdirectory("agentharness-readme-").FullName;
        foreach (var block in Document.Blocks.Where(static b => b.Marker.File is not null))
        {
            File.WriteAllText(Path.Combine(WorkingDirectory, block.Marker.File!), block.Code);
        }

        snippets = new(() => PrepareAll(Document), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>Gets the parsed README.</summary>
    internal ReadmeDocument Document { get; }

    /// <summary>Gets the directory README programs run in.</summary>
    internal string WorkingDirectory { get; }

    /// <summary>Gets the README's C# block at <paramref name="line"/>, compiled.</summary>
    internal PreparedSnippet Snippet(int line) =>
        snippets.Value.TryGetValue(line, out var snippet)
            ? snippet
            : throw new ArgumentOutOfRangeException(nameof(line), line, $"README.md has no C# block at line {line}.");

    /// <inheritdoc/>
    public void Dispose()
    {
        try
        {
            Directory.Delete(WorkingDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file a snippet left open (a SQLite database) stays for the system's temp cleanup.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Gets a value indicating whether a block is C#.</summary>
    internal static bool IsCSharp(CodeBlock block) => block.Language is "csharp" or "cs" or "c#";

    /// <summary>Gets how long compiling every C# block took, once they are compiled.</summary>
    internal TimeSpan CompileTime { get; private set; }

    /// <summary>Gets the processor time compiling every C# block took, once they are compiled.</summary>
    internal TimeSpan CompileProcessorTime { get; private set; }

    private ConcurrentDictionary<int, PreparedSnippet> PrepareAll(ReadmeDocument document)
    {
        var started = Stopwatch.GetTimestamp();
        var processorTime = Process.GetCurrentProcess().TotalProcessorTime;
        var prepared = new ConcurrentDictionary<int, PreparedSnippet>();
        Parallel.ForEach(document.Blocks.Where(IsCSharp), block => prepared[block.FenceLine] = PreparedSnippet.Prepare(document, block));
        CompileTime = Stopwatch.GetElapsedTime(started);
        CompileProcessorTime = Process.GetCurrentProcess().TotalProcessorTime - processorTime;
        return prepared;
    }
}
