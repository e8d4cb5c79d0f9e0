using System.Text.RegularExpressions;
using AgentHarness.Tests.Support;

namespace AgentHarness.Tests;

/// <summary>
/// The dependency rule of docs/architecture.md ("Data and dependencies"), read from the core package's sources: a
/// feature folder's <c>Internal</c> is its own. Every feature may use the call path's neutral model
/// (<c>Pipeline/Internal</c>), the wire primitives (<c>Http/Internal</c>) and the core's own <c>Internal</c>;
/// <c>DependencyInjection</c> composes them all.
/// </summary>
public sealed partial class FeatureLayoutTests
{
    // What a feature finds in another's Internal and is allowed to, each with its reason.
    private static readonly (string Feature, string Uses, string Why)[] Allowed =
    [
        ("Internal", "Routing", "the harness object plans a client's route when it hands the client out"),
    ];

    [Fact]
    public void Features_ReachOnlyIntoTheSharedInternals()
    {
        var source = Path.Combine(Repository.Root, "src", "AgentHarness");
        var reaches = new List<string>();
        foreach (var file in Directory.EnumerateFiles(source, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(source, file).Replace('\\', '/');
            var slash = relative.IndexOf('/', StringComparison.Ordinal);
            var feature = slash < 0 ? string.Empty : relative[..slash];
            if (feature is "bin" or "obj" or "DependencyInjection")
            {
                continue;
            }

            foreach (Match match in InternalNamespace().Matches(File.ReadAllText(file)))
            {
                var used = match.Groups["feature"].Value;
                var shared = used == "Pipeline" ? feature != "Http" : used == "Http";
                if (used != feature && !shared && !Array.Exists(Allowed, a => a.Feature == feature && a.Uses == used))
                {
                    reaches.Add($"{relative} uses AgentHarness.{used}.Internal");
                }
            }
        }

        Assert.Empty(reaches.Distinct());
    }

    [GeneratedRegex(@"\bAgentHarness\.(?<feature>[A-Z][A-Za-z]*)\.Internal\b")]
    private static partial Regex InternalNamespace();
}
