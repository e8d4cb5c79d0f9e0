using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace PackageConsumer;

/// <summary>
/// Checks the folder <c>dotnet pack</c> wrote: exactly the four packages and their symbol packages,
/// each package with its README, license, URLs, tags and commit, each PDB matching its assembly with
/// SourceLink to the commit, generated sources embedded and, on CI, no build machine paths.
/// </summary>
internal static partial class PackageChecks
{
    private const string RepositoryUrl = "https://github.com/agentharness/agentharness";
    private const string Lib = "lib/net10.0/";
    private static readonly string[] Ids = ["AgentHarness", "AgentHarness.Redis", "AgentHarness.Sqlite", "AgentHarness.Testing", "AgentHarness.AgentFramework", "AgentHarness.Azure"];
    private static readonly Guid SourceLinkKind = new("CC110556-A091-4D38-9FEC-25AB9A351A6A");
    private static readonly Guid EmbeddedSourceKind = new("0E8A571B-6926-466E-B4AD-8AB04611F5FE");

    public static List<string> Run(string feed, string version)
    {
        var failures = new List<string>();
        var expected = Ids.SelectMany(id => new[] { $"{id}.{version}.nupkg", $"{id}.{version}.snupkg" }).Order(StringComparer.Ordinal).ToList();
        var present = Directory.GetFiles(feed).Select(static f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList();
        if (!present.SequenceEqual(expected))
        {
            failures.Add($"{feed} holds [{string.Join(", ", present)}], not [{string.Join(", ", expected)}]");
            return failures;
        }

        // CI builds set ContinuousIntegrationBuild (Directory.Build.props): source paths are /_/….
        var ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        foreach (var id in Ids)
        {
            var (commit, dll) = CheckPackage(Path.Combine(feed, $"{id}.{version}.nupkg"), id, version, failures);
            CheckSymbols(Path.Combine(feed, $"{id}.{version}.snupkg"), id, commit, dll, ci, failures);
        }

        return failures;
    }

    private static (string Commit, byte[] Dll) CheckPackage(string path, string id, string version, List<string> failures)
    {
        void Check(bool ok, string failure)
        {
            if (!ok)
            {
                failures.Add($"{Path.GetFileName(path)}: {failure}");
            }
        }

        using var package = ZipFile.OpenRead(path);
        XDocument nuspec;
        using (var stream = package.GetEntry($"{id}.nuspec")!.Open())
        {
            nuspec = XDocument.Load(stream);
        }

        var ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        string? Meta(string name) => metadata.Element(ns + name)?.Value;
        var repository = metadata.Element(ns + "repository");
        var commit = repository?.Attribute("commit")?.Value ?? "";
        var dependencies = metadata.Descendants(ns + "dependency").ToDictionary(static d => d.Attribute("id")!.Value, static d => d.Attribute("version")?.Value);

        Check(Meta("id") == id && Meta("version") == version, $"id {Meta("id")} version {Meta("version")}");
        Check(Meta("readme") == "README.md" && package.GetEntry("README.md") is { Length: > 0 }, "no README.md");
        Check(metadata.Element(ns + "license") is { Value: "MIT" } license && license.Attribute("type")?.Value == "expression", "no MIT license expression");
        Check(Meta("projectUrl") == RepositoryUrl, $"projectUrl {Meta("projectUrl")}");
        Check(repository?.Attribute("type")?.Value == "git" && repository.Attribute("url")?.Value == RepositoryUrl, $"repository {repository}");
        Check(CommitId().IsMatch(commit), $"repository commit '{commit}'");
        Check(!string.IsNullOrWhiteSpace(Meta("tags")) && !string.IsNullOrWhiteSpace(Meta("description")), "no tags or description");
        Check(package.GetEntry($"{Lib}{id}.xml") is not null, "no XML documentation");
        Check(!dependencies.ContainsKey("Microsoft.Extensions.DependencyInjection"), "depends on the DI container instead of its abstractions");
        Check(id == "AgentHarness" || (dependencies.TryGetValue("AgentHarness", out var core) && core == version), "does not depend on AgentHarness of the same version");

        var dll = package.GetEntry($"{Lib}{id}.dll");
        Check(dll is not null, "no assembly");
        return (commit, dll is null ? [] : Read(dll));
    }

    private static void CheckSymbols(string path, string id, string commit, byte[] dll, bool ci, List<string> failures)
    {
        void Check(bool ok, string failure)
        {
            if (!ok)
            {
                failures.Add($"{Path.GetFileName(path)}: {failure}");
            }
        }

        using var package = ZipFile.OpenRead(path);
        var entry = package.GetEntry($"{Lib}{id}.pdb");
        if (entry is null || dll.Length == 0)
        {
            Check(false, "no PDB, or no assembly to match it with");
            return;
        }

        using var provider = MetadataReaderProvider.FromPortablePdbStream(new MemoryStream(Read(entry)));
        var pdb = provider.GetMetadataReader();
        using (var pe = new PEReader(new MemoryStream(dll)))
        {
            var codeView = pe.ReadDebugDirectory().Where(static e => e.Type == DebugDirectoryEntryType.CodeView).Select(pe.ReadCodeViewDebugDirectoryData).FirstOrDefault();
            Check(codeView.Guid == new BlobContentId(pdb.DebugMetadataHeader!.Id).Guid, "the PDB is not the one of the packed assembly");
        }

        var sourceLink = Blob(pdb, EntityHandle.ModuleDefinition, SourceLinkKind);
        var prefixes = new List<string>();
        if (sourceLink is null)
        {
            Check(false, "no SourceLink");
        }
        else
        {
            using var json = JsonDocument.Parse(sourceLink);
            foreach (var map in json.RootElement.GetProperty("documents").EnumerateObject())
            {
                prefixes.Add(map.Name.TrimEnd('*'));
                var url = map.Value.GetString() ?? "";
                Check(url.StartsWith("https://", StringComparison.Ordinal) && url.Contains($"/{commit}/", StringComparison.Ordinal), $"SourceLink maps {map.Name} to {url}, not to commit {commit}");
            }
        }

        foreach (var handle in pdb.Documents)
        {
            var name = pdb.GetString(pdb.GetDocument(handle).Name);
            var embedded = Blob(pdb, handle, EmbeddedSourceKind) is not null;
            Check(embedded || prefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)), $"{name} is neither embedded nor under SourceLink");
            Check(embedded || !name.Contains("/obj/", StringComparison.Ordinal), $"the generated {name} is not embedded");
            Check(!ci || name.StartsWith("/_/", StringComparison.Ordinal), $"{name} is a build machine path");
        }
    }

    private static byte[]? Blob(MetadataReader pdb, EntityHandle parent, Guid kind) =>
        pdb.GetCustomDebugInformation(parent)
            .Select(pdb.GetCustomDebugInformation)
            .Where(i => pdb.GetGuid(i.Kind) == kind)
            .Select(i => pdb.GetBlobBytes(i.Value))
            .FirstOrDefault();

    private static byte[] Read(ZipArchiveEntry entry)
    {
        using var stream = entry.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitId();
}
