using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;

namespace AgentHarness.Benchmarks;

/// <summary>
/// Between the in-memory run and the loopback run: the canned whole answer of <see cref="ChatCompletionBenchmarks"/>,
/// handed back after a hop to the thread pool as a socket's would be (or at once, with <c>sync</c>), to the raw client
/// and to the harness, one call at a time and sixteen at once. It reports the process's CPU time per call, so it shows
/// what asynchronous completion and concurrency add to the harness's own cost without a socket or an upstream in the
/// process.
/// </summary>
/// <remarks>
/// <c>dotnet run -c Release --project tests/AgentHarness.Benchmarks -- async-in-memory [sync] [rounds]</c>, or
/// <c>... -- async-in-memory [sync] raw|harness calls</c> for one client alone, sixteen at once (to run under a profiler).
/// One at a time, the CPU time includes the thread pool's spinning while a call waits for its hop.
/// </remarks>
internal static class AsyncInMemoryRun
{
    public const string Command = "async-in-memory";

    public static async Task<bool> TryRunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] != Command)
        {
            return false;
        }

        var rest = args.Skip(1).ToList();
        var hop = rest.Remove("sync") is false;
        var handler = new HandingBackHandler(ChatCompletionBenchmarks.Body, hop);
        using var services = HarnessSetup.CreateHarness(handler);
        var harness = services.GetRequiredService<IAgentHarness>();
        var raw = HarnessSetup.CreateRawClient(handler);
        var client = harness.GetChatClient(HarnessSetup.Model);
        using var run = HarnessSetup.OpenRun(harness);

        if (rest.Count == 2 && rest[0] is "raw" or "harness")
        {
            var only = rest[0] == "raw" ? raw : client;
            var calls = int.Parse(rest[1], CultureInfo.InvariantCulture);
            await LoopbackRun.SixteenAtOnceAsync(only, calls / 10).ConfigureAwait(false);
            var perCall = await CpuPerCallAsync(() => LoopbackRun.SixteenAtOnceAsync(only, calls), calls).ConfigureAwait(false);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{rest[0]}: {perCall:F1} µs of CPU per call"));
            return true;
        }

        var rounds = rest.Count > 0 ? int.Parse(rest[0], CultureInfo.InvariantCulture) : 10;
        for (var i = 0; i < 10; i++)
        {
            await LoopbackRun.SixteenAtOnceAsync(raw, 20_000).ConfigureAwait(false);
            await LoopbackRun.SixteenAtOnceAsync(client, 20_000).ConfigureAwait(false);
        }

        var addedOne = new List<double>();
        var addedSixteen = new List<double>();
        Console.WriteLine(hop ? "answers handed back after a thread-pool hop" : "answers handed back at once");
        Console.WriteLine("round   CPU µs/call one at a time: raw  harness   sixteen at once: raw  harness");
        for (var round = 1; round <= rounds; round++)
        {
            var rawOne = await CpuPerCallAsync(() => LoopbackRun.OneAtATimeAsync(raw, 10_000), 10_000).ConfigureAwait(false);
            var harnessOne = await CpuPerCallAsync(() => LoopbackRun.OneAtATimeAsync(client, 10_000), 10_000).ConfigureAwait(false);
            var rawSixteen = await CpuPerCallAsync(() => LoopbackRun.SixteenAtOnceAsync(raw, 40_000), 40_000).ConfigureAwait(false);
            var harnessSixteen = await CpuPerCallAsync(() => LoopbackRun.SixteenAtOnceAsync(client, 40_000), 40_000).ConfigureAwait(false);
            addedOne.Add(harnessOne - rawOne);
            addedSixteen.Add(harnessSixteen - rawSixteen);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{round,5}  {rawOne,29:F1}  {harnessOne,7:F1}  {rawSixteen,19:F1}  {harnessSixteen,7:F1}"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median CPU per call added by the harness: one at a time {LoopbackRun.Median(addedOne):F1} µs, sixteen at once {LoopbackRun.Median(addedSixteen):F1} µs"));
        return true;
    }

    private static async Task<double> CpuPerCallAsync(Func<Task> calls, int count)
    {
        var started = Process.GetCurrentProcess().TotalProcessorTime;
        await calls().ConfigureAwait(false);
        return (Process.GetCurrentProcess().TotalProcessorTime - started).TotalMicroseconds / count;
    }

    /// <summary>Answers every request with a fresh response over the same body, after a thread-pool hop unless told not to.</summary>
    private sealed class HandingBackHandler(byte[] body, bool hop) : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (hop)
            {
                await Task.Yield();
            }

            var content = new ByteArrayContent(body);
            content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = content, RequestMessage = request };
        }
    }
}
