using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace AgentHarness.Benchmarks;

/// <summary>
/// The in-memory comparison as one long console run: the raw client and the harness over the same canned answer, in
/// alternating rounds, reporting the median over the rounds of each client's time per call and of the time added. A
/// quicker and steadier guide than a short benchmark job while changing the call path; the figures to report come
/// from the benchmarks.
/// </summary>
/// <remarks>
/// <c>dotnet run -c Release --project tests/AgentHarness.Benchmarks -- in-memory [whole|stream|fallback|prompt] [rounds] [calls]</c>,
/// or <c>... -- in-memory whole|stream|fallback raw|harness calls</c> for one client alone (to run under a profiler).
/// For fallback the two sides are both the harness: a policy whose first member answers 503 against one whose first
/// member answers. For prompt, <see cref="PromptSizeBenchmarks"/>'s three sides (raw, harness, harness in a run with a
/// cap) at each of its prompt sizes.
/// </remarks>
internal static class InMemoryRun
{
    public const string Command = "in-memory";

    public static async Task<bool> TryRunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] != Command)
        {
            return false;
        }

        var kind = args.Length > 1 ? args[1] : "whole";
        if (kind is not ("whole" or "stream" or "fallback" or "prompt"))
        {
            throw new ArgumentException($"Unknown case '{kind}': expected whole, stream, fallback or prompt.", nameof(args));
        }

        if (kind == "prompt")
        {
            await PromptSizesAsync(
                args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 12,
                args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 5_000).ConfigureAwait(false);
            return true;
        }

        var stream = kind == "stream";
        ChatClient raw, harness;
        Func<IDisposable?> openRun;
        IDisposable? owner;
        if (kind == "fallback")
        {
            var fallback = new FallbackBenchmarks();
            fallback.Setup();
            (raw, harness, openRun, owner) = (fallback.Direct, fallback.Fallback, () => null, null);
        }
        else
        {
            var handler = new CannedHandler(stream ? StreamingChatBenchmarks.Body : ChatCompletionBenchmarks.Body, stream ? "text/event-stream" : "application/json");
            var services = HarnessSetup.CreateHarness(handler);
            var instance = services.GetRequiredService<IAgentHarness>();
            (raw, harness, openRun, owner) = (HarnessSetup.CreateRawClient(handler), instance.GetChatClient(HarnessSetup.Model), () => HarnessSetup.OpenRun(instance), services);
        }

        using (owner)
        using (openRun())
        {
            if (args.Length > 3 && args[2] is "raw" or "harness")
            {
                var only = args[2] == "raw" ? raw : harness;
                var perCall = await TimeAsync(only, stream, int.Parse(args[3], CultureInfo.InvariantCulture)).ConfigureAwait(false);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{args[2]}: {perCall:F2} µs/call"));
                return true;
            }

            var rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20;
            var calls = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 20_000;
            await TimeAsync(raw, stream, calls).ConfigureAwait(false);
            await TimeAsync(harness, stream, calls).ConfigureAwait(false);
            var rawTimes = new List<double>();
            var harnessTimes = new List<double>();
            var added = new List<double>();
            var rawPause = new List<double>();
            var harnessPause = new List<double>();
            for (var round = 0; round < rounds; round++)
            {
                // Alternate which client goes first, so neither is always measured in the other's wake.
                double r, h, rp, hp;
                if (round % 2 == 0)
                {
                    (r, rp) = await TimeWithPauseAsync(raw, stream, calls).ConfigureAwait(false);
                    (h, hp) = await TimeWithPauseAsync(harness, stream, calls).ConfigureAwait(false);
                }
                else
                {
                    (h, hp) = await TimeWithPauseAsync(harness, stream, calls).ConfigureAwait(false);
                    (r, rp) = await TimeWithPauseAsync(raw, stream, calls).ConfigureAwait(false);
                }

                rawPause.Add(rp);
                harnessPause.Add(hp);
                rawTimes.Add(r);
                harnessTimes.Add(h);
                added.Add(h - r);
            }

            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{kind}: raw {Median(rawTimes):F2} µs, harness {Median(harnessTimes):F2} µs, added {Median(added):F2} µs (median of {rounds} rounds of {calls} calls; added ranged {added.Min():F2} to {added.Max():F2}); GC pause per call: raw {Median(rawPause):F2} µs, harness {Median(harnessPause):F2} µs"));
        }

        return true;
    }

    /// <summary>
    /// The raw client, the harness in a run and the harness in a run with a cap, over the same canned answer that reads
    /// each request's body out, at each prompt size; each round times the three in a rotating order.
    /// </summary>
    private static async Task PromptSizesAsync(int rounds, int calls)
    {
        var handler = new CannedHandler(PromptSizeBenchmarks.Body, "application/json", drainRequest: true);
        var raw = HarnessSetup.CreateRawClient(handler);
        using var services = HarnessSetup.CreateHarness(handler);
        var instance = services.GetRequiredService<IAgentHarness>();
        var harness = instance.GetChatClient(HarnessSetup.Model);
        foreach (var bytes in (int[])[263, 4 * 1024, 16 * 1024, 64 * 1024])
        {
            var messages = HarnessSetup.PromptOf(bytes);
            var sides = new Func<Task<double>>[]
            {
                () => TimeAsync(raw, messages, calls, run: null),
                () => TimeAsync(harness, messages, calls, run: () => HarnessSetup.OpenRun(instance)),
                () => TimeAsync(harness, messages, calls, run: () => HarnessSetup.OpenRun(instance, maxCostUsd: 1_000_000m)),
            };
            foreach (var side in sides)
            {
                await side().ConfigureAwait(false);
            }

            var added = new List<double>();
            var cappedAdded = new List<double>();
            var ratio = new List<double>();
            var times = new double[3];
            for (var round = 0; round < rounds; round++)
            {
                for (var i = 0; i < sides.Length; i++)
                {
                    var which = (i + round) % sides.Length;
                    times[which] = await sides[which]().ConfigureAwait(false);
                }

                added.Add(times[1] - times[0]);
                cappedAdded.Add(times[2] - times[0]);
                ratio.Add(times[2] / times[1]);
            }

            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"prompt {bytes,6} B: added {Median(added):F2} µs, with a cap {Median(cappedAdded):F2} µs; capped ÷ uncapped {Median(ratio):F2} (medians of {rounds} rounds of {calls} calls)"));
        }
    }

    private static async Task<double> TimeAsync(ChatClient client, ChatMessage[] messages, int calls, Func<IDisposable>? run)
    {
        using var scope = run?.Invoke();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < calls; i++)
        {
            await client.CompleteChatAsync(messages).ConfigureAwait(false);
        }

        return clock.Elapsed.TotalMicroseconds / calls;
    }

    private static async Task<(double PerCall, double PausePerCall)> TimeWithPauseAsync(ChatClient client, bool stream, int calls)
    {
        var pause = GC.GetTotalPauseDuration();
        var perCall = await TimeAsync(client, stream, calls).ConfigureAwait(false);
        return (perCall, (GC.GetTotalPauseDuration() - pause).TotalMicroseconds / calls);
    }

    private static async Task<double> TimeAsync(ChatClient client, bool stream, int calls)
    {
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < calls; i++)
        {
            if (!stream)
            {
                await client.CompleteChatAsync(HarnessSetup.Messages).ConfigureAwait(false);
                continue;
            }

            await foreach (var update in client.CompleteChatStreamingAsync(HarnessSetup.Messages).ConfigureAwait(false))
            {
                _ = update;
            }
        }

        return clock.Elapsed.TotalMicroseconds / calls;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
