using System.Diagnostics;
using System.Globalization;
using OpenAI.Chat;

namespace AgentHarness.Benchmarks;

/// <summary>
/// The loopback comparison as one long console run, for a figure steadier than a short benchmark job: the official
/// client alone and the harness over the same Kestrel upstream on 127.0.0.1, in alternating rounds, one call at a time
/// (the median and p90 of each call's time) and sixteen at once (calls per second).
/// </summary>
/// <remarks>
/// <c>dotnet run -c Release --project tests/AgentHarness.Benchmarks -- loopback [rounds] [calls]</c>, or
/// <c>... -- loopback raw|harness calls</c> for one client alone (to run under a profiler).
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
            // One client only, sixteen at once, for a profiler to watch.
            var only = new LoopbackBenchmarks();
            only.Setup();
            using (HarnessSetup.OpenRun(only.Harness))
            {
                var rate = await SixteenAtOnceAsync(args[1] == "raw" ? only.Raw : only.Client, int.Parse(args[2], CultureInfo.InvariantCulture)).ConfigureAwait(false);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{args[1]}: {rate:F0} calls/s"));
            }

            only.Cleanup();
            return true;
        }

        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        var calls = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 8_000;
        var benchmarks = new LoopbackBenchmarks();
        benchmarks.Setup();
        try
        {
            using var run = HarnessSetup.OpenRun(benchmarks.Harness);
            Console.WriteLine("round  client   p50 µs (1 at a time)  p90 µs   calls/s (16 at once)");
            for (var round = 1; round <= rounds; round++)
            {
                foreach (var (name, client) in new[] { ("raw", benchmarks.Raw), ("harness", benchmarks.Client) })
                {
                    var (p50, p90) = await OneAtATimeAsync(client, calls / 4).ConfigureAwait(false);
                    var perSecond = await SixteenAtOnceAsync(client, calls).ConfigureAwait(false);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{round,5}  {name,-7}  {p50,20:F1}  {p90,7:F1}  {perSecond,20:F0}"));
                }
            }
        }
        finally
        {
            benchmarks.Cleanup();
        }

        return true;
    }

    private static async Task<(double P50, double P90)> OneAtATimeAsync(ChatClient client, int calls)
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

    private static async Task<double> SixteenAtOnceAsync(ChatClient client, int calls)
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
