using System.Diagnostics;
using System.Globalization;
using OpenAI.Chat;

namespace AgentHarness.Benchmarks;

/// <summary>
/// The loopback comparison as one long console run, for a figure steadier than a short benchmark job: the official
/// client alone and the harness over the same Kestrel upstream on 127.0.0.1, back to back in each of many rounds, one
/// call at a time (the median of each call's time) and sixteen at once (calls per second); the summary is the median
/// over the rounds of the time added and of the throughput ratio.
/// </summary>
/// <remarks>
/// <c>dotnet run -c Release --project tests/AgentHarness.Benchmarks -- loopback [rounds] [calls]</c>, or
/// <c>... -- loopback raw|harness calls [one] [no-run]</c> for one client alone, sixteen at once or one at a time (to run under a
/// profiler), with its CPU time per call; <c>no-run</c> sends the harness's calls outside a run, without metadata headers.
/// <c>... -- loopback phases N</c> runs both clients sixteen at once in turn, N times each, and prints each phase's start and
/// end on the monotonic clock, so that a profile recorded on that clock (<c>perf record -k CLOCK_MONOTONIC</c>) can be split
/// by client within one process.
/// </remarks>
internal static class LoopbackRun
{
    public const string Command = "loopback";

    public static async Task<bool> TryRunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] != Command)
        {
            return false;
        }

        if (args.Length > 2 && args[1] is "raw" or "harness")
        {
            // One client only, sixteen at once or one at a time, for a profiler to watch.
            var only = new LoopbackBenchmarks();
            only.Setup();
            // Without a run, the harness's calls carry no metadata headers: what those cost the client and the upstream.
            using (args.Contains("no-run") ? null : HarnessSetup.OpenRun(only.Harness))
            {
                var client = args[1] == "raw" ? only.Raw : only.Client;
                var count = int.Parse(args[2], CultureInfo.InvariantCulture);
                if (args.Contains("one"))
                {
                    var (p50, _) = await OneAtATimeAsync(client, count).ConfigureAwait(false);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{args[1]}: p50 {p50:F1} µs one at a time"));
                }
                else
                {
                    await SixteenAtOnceAsync(client, count / 10).ConfigureAwait(false);
                    var process = Process.GetCurrentProcess();
                    var (user, system) = (process.UserProcessorTime, process.PrivilegedProcessorTime);
                    var contentions = Monitor.LockContentionCount;
                    var gen0 = GC.CollectionCount(0);
                    var rate = await SixteenAtOnceAsync(client, count).ConfigureAwait(false);
                    process.Refresh();

                    // The calls made (sixteen workers, each its share); the process's CPU, the in-process upstream's with the client's.
                    double made = 16 * (count / 16);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{args[1]}: {rate:F0} calls/s; process CPU per call {(process.UserProcessorTime - user).TotalMicroseconds / made:F1} µs user, {(process.PrivilegedProcessorTime - system).TotalMicroseconds / made:F1} µs system; {ThreadPool.ThreadCount} pool threads, {GC.CollectionCount(0) - gen0} gen0 collections, {(Monitor.LockContentionCount - contentions) / made:F4} lock contentions per call"));
                }
            }

            only.Cleanup();
            return true;
        }

        if (args.Length > 2 && args[1] == "phases")
        {
            // Both clients sixteen at once in turn, each phase's start and end printed as monotonic clock nanoseconds: a
            // profiler recording on that clock (perf record -k CLOCK_MONOTONIC) can split its samples by client.
            var both = new LoopbackBenchmarks();
            both.Setup();
            using (HarnessSetup.OpenRun(both.Harness))
            {
                var phases = int.Parse(args[2], CultureInfo.InvariantCulture);
                for (var phase = 0; phase < phases; phase++)
                {
                    foreach (var (name, client) in new[] { ("raw", both.Raw), ("harness", both.Client) })
                    {
                        var started = Stopwatch.GetTimestamp();
                        await SixteenAtOnceAsync(client, 4_000).ConfigureAwait(false);
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"phase {name} {Nanoseconds(started)} {Nanoseconds(Stopwatch.GetTimestamp())} 4000"));
                    }
                }
            }

            both.Cleanup();
            return true;
        }

        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 12;
        var calls = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 8_000;
        var benchmarks = new LoopbackBenchmarks();
        benchmarks.Setup();
        try
        {
            using var run = HarnessSetup.OpenRun(benchmarks.Harness);

            // Warm-up rounds, not reported, until the JIT has compiled nothing new for two rounds in a row: the harness
            // puts more methods on the path than the raw client, and its later tiers come later, so rounds measured while
            // the JIT still works compare a warm raw client with a harness in its earlier tiers. At most twenty rounds.
            var quiet = 0;
            for (var warmUp = 1; warmUp <= 20 && quiet < 2; warmUp++)
            {
                var compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
                await OneAtATimeAsync(benchmarks.Raw, calls / 4).ConfigureAwait(false);
                await OneAtATimeAsync(benchmarks.Client, calls / 4).ConfigureAwait(false);
                await SixteenAtOnceAsync(benchmarks.Raw, calls).ConfigureAwait(false);
                await SixteenAtOnceAsync(benchmarks.Client, calls).ConfigureAwait(false);
                var newly = System.Runtime.JitInfo.GetCompiledMethodCount() - compiled;
                quiet = newly == 0 ? quiet + 1 : 0;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"warm-up round {warmUp}: {newly} methods compiled"));
            }

            // Each round measures both clients back to back, so a ratio compares the two under the same conditions; the
            // summary is the median over the rounds.
            var added = new List<double>();
            var ratios = new List<double>();
            var cpuAdded = new List<double>();
            var cpuOneAdded = new List<double>();
            var bytesAdded = new List<double>();
            var rawP50 = new List<double>();
            var harnessP50 = new List<double>();
            Console.WriteLine("round   p50 µs raw  harness  added   calls/s raw  harness  ratio   CPU µs/call raw  harness");
            for (var round = 1; round <= rounds; round++)
            {
                // The client measured second in a round was measured faster or slower for being second (the GC's debt
                // and the connection's state carry over): each round first runs the harness alone, unmeasured.
                await OneAtATimeAsync(benchmarks.Client, calls / 4).ConfigureAwait(false);

                var rawOneCpu = CpuTime();
                var rawItems = (double)ThreadPool.CompletedWorkItemCount;
                var (raw50, _) = await OneAtATimeAsync(benchmarks.Raw, calls / 4).ConfigureAwait(false);
                rawOneCpu = (CpuTime() - rawOneCpu) / (calls / 4);
                rawItems = (ThreadPool.CompletedWorkItemCount - rawItems) / (calls / 4);
                var harnessOneCpu = CpuTime();
                var harnessItems = (double)ThreadPool.CompletedWorkItemCount;
                var (harness50, _) = await OneAtATimeAsync(benchmarks.Client, calls / 4).ConfigureAwait(false);
                harnessOneCpu = (CpuTime() - harnessOneCpu) / (calls / 4);
                harnessItems = (ThreadPool.CompletedWorkItemCount - harnessItems) / (calls / 4);
                if (round == 1)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"thread-pool work items per call, one at a time: raw {rawItems:F2}, harness {harnessItems:F2}"));
                }
                cpuOneAdded.Add(harnessOneCpu - rawOneCpu);
                // Sixteen at once, the two clients in turn first and second: a client measured right after the other
                // inherits its collector's debt and its connections' state, and alternating the order keeps that out of
                // the median ratio.
                Sixteen rawSixteen, harnessSixteen;
                if (round % 2 == 1)
                {
                    rawSixteen = await MeasureSixteenAsync(benchmarks.Raw, calls).ConfigureAwait(false);
                    harnessSixteen = await MeasureSixteenAsync(benchmarks.Client, calls).ConfigureAwait(false);
                }
                else
                {
                    harnessSixteen = await MeasureSixteenAsync(benchmarks.Client, calls).ConfigureAwait(false);
                    rawSixteen = await MeasureSixteenAsync(benchmarks.Raw, calls).ConfigureAwait(false);
                }

                var (rawRate, rawCpu, rawPause, rawGen1, rawBytes) = rawSixteen;
                var (harnessRate, harnessCpu, harnessPause, harnessGen1, harnessBytes) = harnessSixteen;
                if (round == 1)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"GC pause per call at 16: raw {rawPause.TotalMicroseconds / calls:F2} µs ({rawGen1} gen1), harness {harnessPause.TotalMicroseconds / calls:F2} µs ({harnessGen1} gen1)"));
                }

                bytesAdded.Add(harnessBytes - rawBytes);
                cpuAdded.Add(harnessCpu - rawCpu);
                rawP50.Add(raw50);
                harnessP50.Add(harness50);
                added.Add(harness50 - raw50);
                ratios.Add(harnessRate / rawRate);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{round,5}  {raw50,11:F1}  {harness50,7:F1}  {harness50 - raw50,5:F1}  {rawRate,12:F0}  {harnessRate,7:F0}  {harnessRate / rawRate,5:F2}  {rawCpu,15:F1}  {harnessCpu,7:F1}"));
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median: p50 raw {Median(rawP50):F1} µs, harness {Median(harnessP50):F1} µs, added {Median(added):F1} µs; throughput at 16, harness ÷ raw {Median(ratios):F2}; CPU per call (client and upstream, one process) added {Median(cpuOneAdded):F1} µs one at a time, {Median(cpuAdded):F1} µs at 16; bytes per call added at 16 {Median(bytesAdded):F0}"));
        }
        finally
        {
            benchmarks.Cleanup();
        }

        return true;
    }

    /// <summary>One client's calls sixteen at once: calls per second, and per call the CPU time, the collector's pauses, its
    /// generation 1 collections over the run, and the bytes allocated.</summary>
    private readonly record struct Sixteen(double Rate, double Cpu, TimeSpan Pause, int Gen1, double Bytes);

    private static async Task<Sixteen> MeasureSixteenAsync(ChatClient client, int calls)
    {
        var cpu = CpuTime();
        var pause = GC.GetTotalPauseDuration();
        var gen1 = GC.CollectionCount(1);
        var allocated = GC.GetTotalAllocatedBytes(precise: false);
        var rate = await SixteenAtOnceAsync(client, calls).ConfigureAwait(false);
        return new Sixteen(
            rate,
            (CpuTime() - cpu) / calls,
            GC.GetTotalPauseDuration() - pause,
            GC.CollectionCount(1) - gen1,
            (double)(GC.GetTotalAllocatedBytes(precise: false) - allocated) / calls);
    }

    /// <summary>A timestamp in nanoseconds of its clock (on Linux, the monotonic clock itself).</summary>
    private static long Nanoseconds(long timestamp) => (long)(timestamp * (1_000_000_000.0 / Stopwatch.Frequency));

    /// <summary>The process's CPU time so far, in microseconds: the client's and the upstream's work, not the waits.</summary>
    private static double CpuTime() => Process.GetCurrentProcess().TotalProcessorTime.TotalMicroseconds;

    internal static double Median(List<double> values)
    {
        values.Sort();
        return values.Count % 2 == 1 ? values[values.Count / 2] : (values[(values.Count / 2) - 1] + values[values.Count / 2]) / 2;
    }

    internal static async Task<(double P50, double P90)> OneAtATimeAsync(ChatClient client, int calls)
    {
        var times = new double[calls];
        for (var i = 0; i < calls; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await client.CompleteChatAsync(HarnessSetup.Messages).ConfigureAwait(false);
            times[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
        }

        Array.Sort(times);
        return (times[calls / 2], times[calls * 9 / 10]);
    }

    internal static async Task<double> SixteenAtOnceAsync(ChatClient client, int calls)
    {
        var started = Stopwatch.GetTimestamp();
        var workers = new Task[16];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                for (var i = 0; i < calls / 16; i++)
                {
                    await client.CompleteChatAsync(HarnessSetup.Messages).ConfigureAwait(false);
                }
            });
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        return calls / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }
}
