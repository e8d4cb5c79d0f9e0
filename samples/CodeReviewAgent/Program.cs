// The three-step code-review agent: classify on a nano model, review on a frontier model (or a
// gateway policy), summarize on a fast model. Every call is tagged with the run's agent, branch and
// task, and recorded. With REQUESTY_API_KEY or OPENAI_API_KEY set it calls the real service;
// with neither it runs the same configuration (appsettings.json) on the offline sandbox. With
// OTEL_EXPORTER_OTLP_ENDPOINT set it exports its spans and metrics. With --cache-twice it turns the response cache on
// and runs the review twice, printing what each run cost and took.
using System.Globalization;
using AgentHarness;
using AgentHarness.Agents;
using AgentHarness.Testing;
using CodeReviewAgent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

const string Diff = """
    - def getUserById(id):
    -     return db.query(User).filter(User.id == id).first()
    + def fetchUserById(id):
    +     try:
    +         return db.query(User).filter(User.id == id).first()
    +     except DatabaseError as e:
    +         logger.error(f"Failed to fetch user {id}: {e}")
    +         raise
    """;

var configuration = new ConfigurationBuilder()
    .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
    .AddEnvironmentVariables()
    .Build();

var services = new ServiceCollection();
services.AddLogging(logging => logging.AddConfiguration(configuration.GetSection("Logging")).AddSimpleConsole());
var harnessBuilder = services.AddAgentHarness(configuration.GetSection("AgentHarness"));

var (mode, models, sandbox) = Setup.Choose(harnessBuilder);
Console.WriteLine(mode);

var cacheTwice = args.Contains("--cache-twice", StringComparer.Ordinal);
if (cacheTwice)
{
    // Memory only here; a registered IDistributedCache (AddRedisResponseCache) would be its second level.
    services.AddHybridCache();
    harnessBuilder.AddResponseCache().Configure(static o => o.ResponseCache.Enabled = true);
}

// With an OTLP endpoint (the Aspire dashboard's, a collector's), the run, its calls and their attempts are exported as
// spans, and the harness's metrics with them; without one, nothing listens and the harness records no telemetry.
var otlp = !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT"));
if (otlp)
{
    services.AddOpenTelemetry()
        .ConfigureResource(static r => r.AddService("code-review-agent"))
        .WithTracing(static t => t.AddSource("AgentHarness").AddOtlpExporter())
        .WithMetrics(static m => m.AddMeter("AgentHarness").AddOtlpExporter());
}

await using var provider = services.BuildServiceProvider();
if (otlp)
{
    // No host starts the providers here: resolving them does. Disposing the container flushes them.
    _ = provider.GetRequiredService<TracerProvider>();
    _ = provider.GetRequiredService<MeterProvider>();
    Console.WriteLine($"Exporting spans and metrics to {Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT")} (OTEL_EXPORTER_OTLP_ENDPOINT).");
}

var harness = provider.GetRequiredService<IAgentHarness>();

if (cacheTwice)
{
    for (var pass = 1; pass <= 2; pass++)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var cachedRun = harness.BeginRun("code-review-agent", static r => r.Branch = "feat/auth-refactor");
        var cachedLabel = ChatClientTaskExtensions.LabelOf(await harness.GetChatClient(models.Classify).ClassifyAsync<ChangeCategory>(Diff));
        var cachedReview = await harness.GetChatClient(models.Review).ReviewAsync(Diff, cachedLabel);
        await harness.GetChatClient(models.Summarize).SummarizeAsync(cachedReview);
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Run {pass}: ${cachedRun.SpentUsd:0.000000} in {elapsed.TotalMilliseconds:0} ms; {cachedRun.Calls.Count(static c => c.FromCache)} of {cachedRun.Calls.Count} calls from the cache, ${cachedRun.Calls.Sum(static c => c.SavedUsd):0.000000} saved."));
    }

    return;
}

using var run = harness.BeginRun("code-review-agent", r =>
{
    r.Branch = "feat/auth-refactor";
    r.Environment = "dev";
    r.Repo = "acme/user-service";
    r.MaxCostUsd = 0.05m; // a misrouted loop stops here instead of burning money overnight
});

var category = await harness.GetChatClient(models.Classify).ClassifyAsync<ChangeCategory>(Diff);
var label = ChatClientTaskExtensions.LabelOf(category); // the label the model answered ("refactor"), not the member name
var review = await harness.GetChatClient(models.Review).ReviewAsync(Diff, label);
var summary = await harness.GetChatClient(models.Summarize).SummarizeAsync(review);

Console.WriteLine();
Console.WriteLine($"Category: {label}");
Console.WriteLine($"Review:{Environment.NewLine}{review.Trim()}");
Console.WriteLine($"Summary: {summary.Trim()}");
Console.WriteLine();
Console.WriteLine($"Calls of run {run.RunId} (agent {run.Agent}, branch {run.Branch}):");
Setup.PrintCalls(run.Calls);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Run total: ${run.SpentUsd:0.000000} of a ${run.MaxCostUsd:0.00} cap (${run.RemainingUsd:0.000000} left)."));

if (sandbox is not null)
{
    // What a real gateway would have received: the run's tags, one header each, on every call.
    Console.WriteLine();
    Console.WriteLine("Metadata headers the sandbox gateway received:");
    foreach (var request in sandbox.Requests)
    {
        var tags = request.Headers
            .Where(static h => h.Key.StartsWith("X-Requesty-", StringComparison.OrdinalIgnoreCase))
            .Select(static h => $"{h.Key}: {string.Join(",", h.Value)}");
        Console.WriteLine($"  {request.Model,-24} {string.Join("; ", tags)}");
    }
}

// Where the money went, as a usage report: the same UsageQuery a gateway's usage API answers
// (RequestyUsageClient), here answered by the in-process ledger.
var usage = await provider.GetRequiredService<IUsageLedger>().GetUsageAsync(new UsageQuery
{
    Start = run.StartedAt,
    End = DateTimeOffset.UtcNow,
    Resolution = UsageResolution.Day,
    GroupBy = [UsageGroupKeys.Extra("task"), UsageGroupKeys.ModelRequested],
});
Console.WriteLine();
Console.WriteLine($"Usage by task and model since run {run.RunId} started (UsageQuery {usage.Query}):");
Console.WriteLine(usage.ToTable());

if (provider.GetService<RequestyUsageClient>() is { } requesty)
{
    // With a real gateway, the same query goes to its analytics (needs a key with the manage permission).
    Console.WriteLine();
    try
    {
        var key = await requesty.GetApiKeyInfoAsync();
        var gatewayUsage = await requesty.ForApiKey(key.Id).GetUsageAsync(usage.Query);
        Console.WriteLine($"The same query, answered by Requesty's usage API for key '{key.Name}' (its analytics may lag by a few minutes):");
        Console.WriteLine(gatewayUsage.ToTable());
    }
    catch (Exception e) when (e is HttpRequestException or InvalidDataException)
    {
        Console.WriteLine($"Requesty's usage API did not answer the same query: {e.Message}");
    }
}

/// <summary>The model id of each step.</summary>
internal sealed record StepModels(string Classify, string Review, string Summarize);

internal static class Setup
{
    /// <summary>
    /// Runs appsettings.json's Requesty gateway when its key is set, OpenAI directly in its place when only that key
    /// is set, else the same configuration on the sandbox, and says which in one line.
    /// </summary>
    public static (string Mode, StepModels Models, SandboxProvider? Sandbox) Choose(IAgentHarnessBuilder builder)
    {
        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("REQUESTY_API_KEY")))
        {
            builder.AddRequestyUsageClient(o => o.Provider = "requesty");
            return ("Running against the Requesty gateway (REQUESTY_API_KEY is set).",
                new StepModels("openai/gpt-4.1-nano", "policy/claude-4", "google/gemini-2.5-flash"), null);
        }

        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OPENAI_API_KEY")))
        {
            // Without the gateway's key, OpenAI takes the configured gateway's place.
            builder.Configure(static o => o.Providers.Remove("requesty"));
            builder.AddProvider("openai", p =>
            {
                p.BaseUrl = new Uri("https://api.openai.com/v1");
                p.ApiKeyEnvironmentVariable = "OPENAI_API_KEY";
            });
            return ("Running against OpenAI directly (OPENAI_API_KEY is set).",
                new StepModels("openai/gpt-4.1-nano", "openai/gpt-4.1", "openai/gpt-4.1-mini"), null);
        }

        var sandbox = new SandboxProvider();
        sandbox.Model("openai/gpt-4.1-nano").AnswerAs("gpt-4.1-nano-2025-04-14").WithLatency(TimeSpan.FromMilliseconds(60))
            .Reply(static request => request.LastUserMessage?.Contains("try:", StringComparison.Ordinal) == true ? "refactor" : "feature");
        // Like a real gateway, the sandbox reports the review's cost in usage.cost; the other calls are priced from the catalog.
        sandbox.Model("policy/claude-4").AnswerAs("claude-sonnet-4-5-20250929").WithLatency(TimeSpan.FromMilliseconds(400)).ReportCost(0.000003m, 0.000015m).Reply(
            "- Callers of getUserById break: keep a deprecated alias or update every call site in this change.\n" +
            "- Logging the raw exception may leak query details; log the user id and an error code instead.\n" +
            "- Add a test that a DatabaseError is logged and re-raised.");
        sandbox.Model("google/gemini-2.5-flash").AnswerAs("gemini-2.5-flash").WithLatency(TimeSpan.FromMilliseconds(120)).Reply(
            "The rename to fetchUserById with error handling is sound, but it needs a compatibility alias, safer logging and a test.");
        // The offline switch: appsettings.json's providers, policies and prices as they are, answered in process, no key needed.
        builder.UseSandbox(sandbox);
        return ("Running appsettings.json on the offline sandbox: no REQUESTY_API_KEY or OPENAI_API_KEY is set, so no real model is called.",
            new StepModels("openai/gpt-4.1-nano", "policy/claude-4", "google/gemini-2.5-flash"), sandbox);
    }

    public static void PrintCalls(IReadOnlyList<UsageRecord> calls)
    {
        const string Format = "{0,-10} {1,-24} {2,-28} {3,9} {4,9} {5,10} {6,12} {7,-9} {8,-10}";
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, Format, "task", "model requested", "model used", "tokens in", "out", "latency", "cost", "priced by", "outcome"));
        foreach (var call in calls)
        {
            Console.WriteLine(string.Format(
                CultureInfo.InvariantCulture,
                Format,
                call.Task ?? "-",
                call.ModelRequested,
                call.ModelUsed ?? "-",
                call.InputTokens,
                call.OutputTokens,
                $"{call.Latency.TotalMilliseconds:0} ms",
                $"${call.CostUsd:0.000000}",
                call.CostBasis,
                call.Outcome));
        }

        Console.WriteLine(string.Format(
            CultureInfo.InvariantCulture,
            Format,
            "total",
            string.Empty,
            string.Empty,
            calls.Sum(static c => c.InputTokens),
            calls.Sum(static c => c.OutputTokens),
            $"{calls.Sum(static c => c.Latency.TotalMilliseconds):0} ms",
            $"${calls.Sum(static c => c.CostUsd):0.000000}",
            string.Empty,
            string.Empty));
    }
}
