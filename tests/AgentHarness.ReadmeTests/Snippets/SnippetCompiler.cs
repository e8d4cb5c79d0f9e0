using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Emit;
using Microsoft.CodeAnalysis.Text;

namespace AgentHarness.ReadmeTests.Snippets;

/// <summary>
/// Compiles README programs with Roslyn, as a new console project on .NET 10 compiles them (latest C#,
/// nullable and implicit usings on, warnings reported), against the assemblies this test runs with: the
/// framework, the harness packages (AgentHarness, AgentHarness.Testing, AgentHarness.Sqlite), OpenAI and
/// Microsoft.Extensions.*. The references are read once and shared by every compilation.
/// </summary>
internal static class SnippetCompiler
{
    // Assemblies of the test machinery itself; a README program cannot see them.
    private static readonly string[] TestOnlyPrefixes =
        ["xunit", "Microsoft.CodeAnalysis", "Microsoft.TestPlatform", "Microsoft.VisualStudio", "Microsoft.Testing", "testhost", "NuGet"];

    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest, DocumentationMode.None);

    private static readonly CSharpCompilationOptions Options = new CSharpCompilationOptions(OutputKind.ConsoleApplication)
        .WithNullableContextOptions(NullableContextOptions.Enable)
        .WithOptimizationLevel(OptimizationLevel.Debug)
        .WithConcurrentBuild(false)
        .WithDeterministic(true);

    private static readonly Lazy<CSharpCompilation> Empty = new(CreateEmpty, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Gets the references every compilation uses.</summary>
    public static ImmutableArray<MetadataReference> References => [.. Empty.Value.References];

    /// <summary>Compiles a program.</summary>
    /// <param name="source">The program, from <see cref="SnippetSource.Build"/>.</param>
    /// <param name="markerConstants">The marker constants a context reads, or <see langword="null"/> for a complete program.</param>
    /// <param name="cancellationToken">Stops the compilation.</param>
    public static CompiledSnippet Compile(string source, string? markerConstants, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        List<SyntaxTree> trees = [Parse(source, "Program.cs", cancellationToken), Parse(SnippetSource.ImplicitUsings, "GlobalUsings.g.cs", cancellationToken)];
        if (markerConstants is not null)
        {
            trees.Add(Parse(markerConstants, "ReadmeSnippet.g.cs", cancellationToken));
        }

        var compilation = Empty.Value.AddSyntaxTrees(trees);
        using var image = new MemoryStream();
        using var pdb = new MemoryStream();
        var result = compilation.Emit(image, pdb, options: new EmitOptions(debugInformationFormat: DebugInformationFormat.PortablePdb), cancellationToken: cancellationToken);

        // Warnings count: a README block that warns in a new project is not one to copy.
        var problems = result.Diagnostics
            .Where(static d => d.Severity is DiagnosticSeverity.Error || (d.Severity is DiagnosticSeverity.Warning && !d.IsSuppressed))
            .OrderBy(static d => d.Location.GetMappedLineSpan().Path, StringComparer.Ordinal)
            .ThenBy(static d => d.Location.GetMappedLineSpan().StartLinePosition.Line)
            .Select(Format)
            .ToArray();
        return result.Success && problems.Length == 0
            ? new CompiledSnippet(image.ToArray(), pdb.ToArray(), [])
            : new CompiledSnippet(null, null, problems);
    }

    /// <summary>Formats a diagnostic as <c>README.md line 35, column 5: error CS0103: ...</c>.</summary>
    public static string Format(Diagnostic diagnostic)
    {
        ArgumentNullException.ThrowIfNull(diagnostic);
        var span = diagnostic.Location.GetMappedLineSpan();
        var where = span.IsValid
            ? string.Create(CultureInfo.InvariantCulture, $"{span.Path} line {span.StartLinePosition.Line + 1}, column {span.StartLinePosition.Character + 1}")
            : "(no location)";
        var severity = diagnostic.Severity.ToString().ToLowerInvariant();
        return $"{where}: {severity} {diagnostic.Id}: {diagnostic.GetMessage(CultureInfo.InvariantCulture)}";
    }

    // An encoding lets the PDB carry the source, so stack traces can name README lines.
    private static SyntaxTree Parse(string text, string path, CancellationToken cancellationToken) =>
        CSharpSyntaxTree.ParseText(SourceText.From(text, Encoding.UTF8), ParseOptions, path, cancellationToken);

    // Every compilation adds its trees to one empty compilation whose references are already bound,
    // so the referenced assemblies are read into symbols once, not once per block. The name stays
    // the same for that reason (a new name would bind them again); each program loads into a context of its own.
    private static CSharpCompilation CreateEmpty()
    {
        var empty = CSharpCompilation.Create("ReadmeSnippet", [], LoadReferences(), Options);
        _ = empty.GetSpecialType(SpecialType.System_Object);
        return empty;
    }

    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        // The trusted platform assemblies: the framework and this test's package and project
        // dependencies, one file per assembly name, as the host resolved them.
        var trusted = (string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")
            ?? throw new InvalidOperationException("The host gives no TRUSTED_PLATFORM_ASSEMBLIES to compile against.");
        return
        [
            .. trusted.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
                .Where(static path => path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
                .Where(static path => !TestOnlyPrefixes.Any(prefix => Path.GetFileName(path).StartsWith(prefix, StringComparison.OrdinalIgnoreCase)))
                .Order(StringComparer.Ordinal)
                .Select(static path => (MetadataReference)MetadataReference.CreateFromFile(path)),
        ];
    }
}

/// <summary>A compiled README program, or what stopped it from compiling.</summary>
/// <param name="Image">The assembly, or <see langword="null"/> when it did not compile.</param>
/// <param name="Pdb">Its portable PDB, so stack traces name README lines.</param>
/// <param name="Problems">Errors and warnings, each with its README line; empty when it compiled cleanly.</param>
internal sealed record CompiledSnippet(byte[]? Image, byte[]? Pdb, IReadOnlyList<string> Problems)
{
    /// <summary>Gets a value indicating whether the program compiled without errors or warnings.</summary>
    public bool Succeeded => Image is not null;
}
