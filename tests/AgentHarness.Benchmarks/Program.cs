using System.Diagnostics;
using AgentHarness.Benchmarks;
using BenchmarkDotNet.Running;

var sinceMain = Stopwatch.StartNew();

// Run from the repository root, in Release, for example:
//   dotnet run -c Release --project tests/AgentHarness.Benchmarks -- --filter '*' --job short
//
// The first call of a fresh process, with and without a cap, is measured by a command of its own:
//   dotnet run -c Release --project tests/AgentHarness.Benchmarks -- first-call
// and where a call's bytes go, by type, raw client against harness:
//   dotnet run -c Release --project tests/AgentHarness.Benchmarks -- allocations [whole|stream|fallback]
// and the loopback comparison as one long run (medians one at a time, throughput sixteen at once):
//   dotnet run -c Release --project tests/AgentHarness.Benchmarks -- loopback [rounds] [calls]
// and between the two, in-memory answers handed back after a thread-pool hop (CPU per call, one and sixteen at once):
//   dotnet run -c Release --project tests/AgentHarness.Benchmarks -- async-in-memory [sync] [rounds]
if (await FirstCall.TryRunAsync(args, sinceMain) || await AllocationProfile.TryRunAsync(args) || await LoopbackRun.TryRunAsync(args) || await InMemoryRun.TryRunAsync(args) || await AsyncInMemoryRun.TryRunAsync(args))
{
    return;
}

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
