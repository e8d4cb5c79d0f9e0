// The code-review flow as a Microsoft Agent Framework agent: classify the change on a nano model, review it through a
// policy with an agent that fetches the diff with its one tool (get_diff), summarize the review on a mid-tier model,
// all in one AgentHarness run, and print the run's usage at the end. Each model is a keyed IChatClient registered from
// the harness, so every call (each round trip of the agent's tool loop too) is routed, tagged, capped and recorded, and
// its response carries its cost. With REQUESTY_API_KEY set it calls the Requesty gateway; without it, it runs on the
// offline sandbox, which scripts the review model's tool call.
using System.Globalization;
using AgentHarness;
using AgentHarness.AgentFramework;
using AgentHarness.Testing;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

const string Diff = """
    --- a/users.py
    +++ b/users.py
    - def getUserById(id):
    -     return db.query(User).filter(User.id == id).first()
    + def fetchUserById(id):
    +     try:
    +         return db.query(User).filter(User.id == id).first()
    +     except DatabaseError as e:
    +         logger.error(f"Failed to fetch user {id}: {e}")
    +         raise
    """;

var services = new ServiceCollection();
var harnessBuilder = services.AddAgentHarness()
    .AddProvider("requesty", static p =>
    {
        p.BaseUrl = new Uri("https://router.requesty.ai/v1");
        p.ApiKeyEnvironmentVariable = "REQUESTY_API_KEY";
        p.IsGateway = true;
        p.MetadataHeaderPrefix = "X-Requesty-";
    })
    .Configure(static o => o.Catalog.Models["policy/claude-4"] = new ModelPriceOptions
    {
        InputPerToken = 0.000003m,
        OutputPerToken = 0.000015m,
        ContextWindow = 200_000,
        MaxOutputTokens = 64_000,
    })
    .AddChatClient("classifier", "openai/gpt-4.1-nano")
    .AddChatClient("reviewer", "policy/claude-4")
    .AddChatClient("summarizer", "google/gemini-2.5-flash");

SandboxProvider? sandbox = null;
if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("REQUESTY_API_KEY")))
{
    sandbox = new SandboxProvider();
    sandbox.Model("openai/gpt-4.1-nano").AnswerAs("gpt-4.1-nano-2025-04-14")
        .Reply(static r => r.LastUserMessage?.Contains("try:", StringComparison.Ordinal) == true ? "refactor" : "feature");

    // The review model first asks for the diff, then reviews what the tool returned; like a gateway, it reports its cost.
    sandbox.Model("policy/claude-4").AnswerAs("claude-sonnet-4-5-20250929").ReportCost(0.000003m, 0.000015m)
        .ReplyWithToolCall("get_diff", """{"path":"users.py"}""")
        .Reply(static r => r.Messages[^1].Content?.Contains("fetchUserById", StringComparison.Ordinal) == true
            ? "- Callers of getUserById break: keep a deprecated alias or update every call site in this change.\n" +
              "- Logging the raw exception may leak query details; log the user id and an error code instead.\n" +
              "- Add a test that a DatabaseError is logged and re-raised."
            : "- The diff could not be read.");
    sandbox.Model("google/gemini-2.5-flash").AnswerAs("gemini-2.5-flash").Reply(
        "The rename to fetchUserById with error handling is sound, but it needs a compatibility alias, safer logging and a test.");
    harnessBuilder.UseSandbox(sandbox);
    Console.WriteLine("Running on the offline sandbox: REQUESTY_API_KEY is not set, so no real model is called.");
}
else
{
    Console.WriteLine("Running against the Requesty gateway (REQUESTY_API_KEY is set).");
}

await using var provider = services.BuildServiceProvider();
var harness = provider.GetRequiredService<IAgentHarness>();

// The reviewer: an Agent Framework agent on the policy's client, with one tool. UseAgentHarnessRun makes each agent run an
// AgentHarness run (capped at $0.25 when it runs on its own); here it joins the run opened below.
var getDiff = AIFunctionFactory.Create(
    (string path) =>
    {
        Console.WriteLine($"  [tool] get_diff({path})");
        return Diff;
    },
    "get_diff",
    "Gets the unified diff of a file in the change under review.");
AIAgent reviewer = provider.GetRequiredKeyedService<IChatClient>("reviewer")
    .AsAIAgent(new ChatClientAgentOptions
    {
        Name = "code-review-agent",
        ChatOptions = new ChatOptions
        {
            Instructions = "You are a code reviewer. Fetch the diff with get_diff, then list the problems, one per line.",
            Tools = [getDiff],
            MaxOutputTokens = 1024, // bounds each round trip's worst case, which the run's cap reserves
        },
    })
    .AsBuilder()
    .UseAgentHarnessRun(static o => o.MaxCostUsd = 0.25m)
    .Build(provider);

using var run = harness.BeginRun("code-review-agent", static r =>
{
    r.Branch = "feat/auth-refactor";
    r.Environment = "dev";
    r.Repo = "acme/user-service";
    r.MaxCostUsd = 0.25m;
});

// A human-in-the-loop spend checkpoint: before a call whose worst case would carry the run past $0.001, the harness
// awaits this callback with the run's figures (the total timeout does not run meanwhile). A real app would ask a
// person; the sample prints the figures and approves.
run.AddSpendCheckpoint(0.001m, static (checkpoint, cancellationToken) =>
{
    Console.WriteLine($"checkpoint: {checkpoint}");
    Console.WriteLine("checkpoint: approved automatically (the sample has no human to ask)");
    return ValueTask.FromResult(SpendCheckpointDecision.Continue);
});

string label;
using (run.BeginTask("classify"))
{
    var classified = await provider.GetRequiredKeyedService<IChatClient>("classifier").GetResponseAsync(
        [
            new ChatMessage(ChatRole.System, "Classify the change: bug-fix, feature, refactor or docs. Answer with the label only."),
            new ChatMessage(ChatRole.User, Diff),
        ],
        new ChatOptions { MaxOutputTokens = 10 });
    label = classified.Text.Trim();
    Console.WriteLine($"Category: {label} ({Cost(classified.GetHarnessUsage())})");
}

AgentResponse review;
using (run.BeginTask("review"))
{
    Console.WriteLine("Review:");
    review = await reviewer.RunAsync($"Review the {label} in users.py.");
    Console.WriteLine(review.Text.Trim());
    var usage = review.GetHarnessUsage()!;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  the agent run made {usage.Calls.Count} round trips for ${usage.CostUsd:0.000000}"));
}

using (run.BeginTask("summarize"))
{
    var summary = await provider.GetRequiredKeyedService<IChatClient>("summarizer").GetResponseAsync(
        [
            new ChatMessage(ChatRole.System, "Summarize the review in one sentence."),
            new ChatMessage(ChatRole.User, review.Text),
        ]);
    Console.WriteLine($"Summary: {summary.Text.Trim()} ({Cost(summary.GetHarnessUsage())})");
}

Console.WriteLine();
Console.WriteLine($"Calls of run {run.RunId} (agent {run.Agent}, branch {run.Branch}):");
PrintCalls(run.Calls);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Run total: ${run.SpentUsd:0.000000} of a ${run.MaxCostUsd:0.00} cap (${run.RemainingUsd:0.000000} left)."));

static string Cost(UsageRecord? record) => record is null
    ? "no harness call"
    : string.Create(CultureInfo.InvariantCulture, $"${record.CostUsd:0.000000} by {record.ModelUsed} via {record.Provider}, {record.CostBasis}");

static void PrintCalls(IReadOnlyList<UsageRecord> calls)
{
    const string Format = "{0,-10} {1,-24} {2,-28} {3,9} {4,6} {5,12} {6,-9} {7,-9}";
    Console.WriteLine(string.Format(CultureInfo.InvariantCulture, Format, "task", "model requested", "model used", "tokens in", "out", "cost", "priced by", "outcome"));
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
        $"${calls.Sum(static c => c.CostUsd):0.000000}",
        string.Empty,
        string.Empty));
}
