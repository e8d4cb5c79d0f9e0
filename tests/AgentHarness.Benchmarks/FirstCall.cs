using System.ClientModel;
using System.ClientModel.Primitives;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using AgentHarness.Budget.Internal;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenAI;
using OpenAI.Chat;

namespace AgentHarness.Benchmarks;

/// <summary>
/// The first call of a fresh process: the official client alone, the harness, and the harness in a run with a cap,
/// each in its own new process against a loopback upstream that this process serves, a few rounds in turn. A process
/// measures its first call (creating the client and making the call) and the time from the start of <c>Main</c> to its
/// answer; the harness runs under a host, as an application does, whose start warms it up.
/// </summary>
/// <remarks>
/// <c>dotnet run -c Release --project tests/AgentHarness.Benchmarks -- first-call [rounds]</c>
/// </remarks>
internal static class FirstCall
{
    public const string Command = "first-call";

    private const string ChildCommand = "first-call-child";

    private static readonly string[] Cases = ["raw", "harness", "harness-cap"];

    private static readonly byte[] Answer = Encoding.UTF8.GetBytes(
        """{"id":"c","object":"chat.completion","created":1,"model":"gpt-4.1-nano-2025-04-14","choices":[{"index":0,"message":{"role":"assistant","content":"bug-fix"},"finish_reason":"stop"}],"usage":{"prompt_tokens":42,"completion_tokens":3,"total_tokens":45}}""");

    /// <summary>Runs the command when the arguments name it.</summary>
    /// <returns>Whether they did.</returns>
    public static async Task<bool> TryRunAsync(string[] args, Stopwatch sinceMain)
    {
        if (args.Length >= 3 && args[0] == ChildCommand)
        {
            await ChildAsync(args[1], new Uri(args[2]), sinceMain).ConfigureAwait(false);
            return true;
        }

        if (args.Length >= 1 && args[0] == Command)
        {
            await ParentAsync(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 7).ConfigureAwait(false);
            return true;
        }

        return false;
    }

    private static async Task ParentAsync(int rounds)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var server = builder.Build();
        server.Run(static context =>
        {
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = Answer.Length;
            return context.Response.Body.WriteAsync(Answer, context.RequestAborted).AsTask();
        });
        await server.StartAsync().ConfigureAwait(false);
        var url = server.Urls.Single() + "/v1";

        var results = Cases.ToDictionary(static c => c, static _ => new List<(double Call, double Main, bool Tokenizer)>());
        for (var round = 0; round < rounds; round++)
        {
            foreach (var name in Cases)
            {
                results[name].Add(await RunChildAsync(name, url).ConfigureAwait(false));
            }
        }

        await server.StopAsync().ConfigureAwait(false);
        var raw = Median(results["raw"].Select(static r => r.Call));
        var rawMain = Median(results["raw"].Select(static r => r.Main));
        Console.WriteLine($"first call in a fresh process, median of {rounds} (the call with its client | from Main, the host's start included; tokenizer loaded):");
        foreach (var name in Cases)
        {
            var first = Median(results[name].Select(static r => r.Call));
            var main = Median(results[name].Select(static r => r.Main));
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"  {name,-12} {first,7:0.0} ms ({first / raw:0.00}x) | {main,7:0.0} ms ({main / rawMain:0.00}x); tokenizer loaded: {results[name].Count(static r => r.Tokenizer)} of {rounds}"));
        }
    }

    private static async Task<(double Call, double Main, bool Tokenizer)> RunChildAsync(string name, string url)
    {
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            start.ArgumentList.Add(typeof(FirstCall).Assembly.Location);
        }

        start.ArgumentList.Add(ChildCommand);
        start.ArgumentList.Add(name);
        start.ArgumentList.Add(url);
        using var child = Process.Start(start)!;
        var output = await child.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
        await child.WaitForExitAsync().ConfigureAwait(false);
        var line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Last();
        var parts = line.Split(' ');
        return (double.Parse(parts[0], CultureInfo.InvariantCulture), double.Parse(parts[1], CultureInfo.InvariantCulture), parts[2] == "True");
    }

    private static async Task ChildAsync(string name, Uri baseUrl, Stopwatch sinceMain)
    {
        IHost? host = null;
        IAgentHarness? harness = null;
        if (name != "raw")
        {
            // As an application starts: a host, whose start warms the harness up.
            var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            builder.Services.AddAgentHarness().AddProvider("requesty", p =>
            {
                p.BaseUrl = baseUrl;
                p.ApiKey = "key-gateway";
                p.IsGateway = true;
                p.MetadataHeaderPrefix = HarnessSetup.MetadataHeaderPrefix;
            });
            host = builder.Build();
            await host.StartAsync().ConfigureAwait(false);
            harness = host.Services.GetRequiredService<IAgentHarness>();
        }

        // The first call: its client is created, then it is made.
        var call = Stopwatch.StartNew();
        ChatClient client;
        AgentRun? run = null;
        if (harness is null)
        {
            client = new ChatClient("gpt-4.1-nano", new ApiKeyCredential("key-raw"), new OpenAIClientOptions
            {
                Endpoint = baseUrl,
                Transport = new HttpClientPipelineTransport(new HttpClient(new SocketsHttpHandler())),
                RetryPolicy = new ClientRetryPolicy(0),
            });
        }
        else
        {
            run = harness.BeginRun("code-review-agent", r => r.MaxCostUsd = name == "harness-cap" ? 1m : null);
            client = harness.GetChatClient(HarnessSetup.Model);
        }

        await client.CompleteChatAsync(HarnessSetup.Messages).ConfigureAwait(false);
        var first = call.Elapsed.TotalMilliseconds;
        var main = sinceMain.Elapsed.TotalMilliseconds;
        run?.Dispose();
        if (host is not null)
        {
            await host.StopAsync().ConfigureAwait(false);
            host.Dispose();
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{first:0.00} {main:0.00} {TokenEstimator.IsLoaded}"));
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
