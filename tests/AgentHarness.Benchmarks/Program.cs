using AgentHarness.Benchmarks;
using BenchmarkDotNet.Running;

// Run from the repository root, in Release, for example:
//   dotnet run -c Release --project tests/AgentHarness.Benchmarks -- --filter '*' --job short
//
// Benchmarks run in this process by default: the out-of-process toolchain would restore and build
// the referenced projects again into their own bin/ and obj/, beside any build in progress. Pass
// --outOfProcess to use BenchmarkDotNet's default toolchain anyway.
var outOfProcess = args.Contains("--outOfProcess", StringComparer.OrdinalIgnoreCase);
var arguments = args.Where(a => !a.Equals("--outOfProcess", StringComparison.OrdinalIgnoreCase)).ToList();
if (!outOfProcess && !arguments.Contains("--inProcess", StringComparer.OrdinalIgnoreCase) && !arguments.Contains("-i"))
{
    arguments.Add("--inProcess");
}

// SyncCallsBenchmarks' upstream lives here, outside the measured processes' thread pools.
await using var upstream = SyncCallsUpstream.StartForRun(arguments);
BenchmarkSwitcher.FromAssembly(typeof(ChatCompletionBenchmarks).Assembly).Run([.. arguments]);
