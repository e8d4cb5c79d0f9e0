namespace AgentHarness.Tests.Usage;

/// <summary>
/// A fixed, seeded set of usage records spread over days, months, agents, tasks, branches, users,
/// models and providers, with the awkward cases a report must count right: missing metadata, calls
/// refused before sending, calls on period boundaries, costs with many decimals.
/// </summary>
internal static class UsageSamples
{
    /// <summary>The first instant records are made at: 2026-04-28T00:00:00Z.</summary>
    public static readonly DateTimeOffset From = new(2026, 4, 28, 0, 0, 0, TimeSpan.Zero);

    public static readonly string[] Agents = ["code-review-agent", "triage-agent", "docs-agent"];
    public static readonly string[] Tasks = ["classify", "review", "summarize", "synthesize"];
    public static readonly string[] Branches = ["main", "feat/auth-refactor", "fix/login, \"quoted\""];
    public static readonly string[] Users = ["ana", "bo"];
    public static readonly string[] Models = ["openai/gpt-4.1-nano", "policy/claude-4", "google/gemini-2.5-flash"];
    public static readonly string[] Providers = ["requesty", "openai"];

    /// <summary>Every group key the tests check, alone and combined.</summary>
    public static readonly string[][] GroupBys =
    [
        [],
        [UsageGroupKeys.ModelRequested],
        [UsageGroupKeys.ModelUsed],
        [UsageGroupKeys.Provider],
        [UsageGroupKeys.UserId],
        ["extra.agent"],
        ["extra.task"],
        ["extra.branch"],
        ["extra.ticket"],
        [UsageGroupKeys.ModelRequested, "extra.agent", "extra.task"],
        ["extra.branch", UsageGroupKeys.UserId, UsageGroupKeys.Provider],
    ];

    /// <summary>Builds <paramref name="count"/> records over about 40 days from <see cref="From"/>.</summary>
    public static List<UsageRecord> Create(int count = 600, int seed = 20260501)
    {
        var random = new Random(seed);
        var records = new List<UsageRecord>(count);
        for (var i = 0; i < count; i++)
        {
            // Every 50th call sits exactly on a day boundary; the rest anywhere in 40 days.
            var timestamp = i % 50 == 0
                ? From.AddDays(random.Next(0, 40))
                : From.AddTicks((long)(random.NextDouble() * TimeSpan.FromDays(40).Ticks));
            var metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
            {
                ["agent"] = Agents[random.Next(Agents.Length)],
            };
            if (random.Next(6) != 0)
            {
                metadata["task"] = Tasks[random.Next(Tasks.Length)];
            }

            if (random.Next(5) != 0)
            {
                metadata["branch"] = Branches[random.Next(Branches.Length)];
            }

            if (random.Next(3) != 0)
            {
                metadata["user"] = Users[random.Next(Users.Length)];
            }

            if (random.Next(4) == 0)
            {
                metadata["ticket"] = "T-" + random.Next(1, 4);
            }

            var outcome = random.Next(20) switch
            {
                0 => UsageOutcome.Rejected,
                1 => UsageOutcome.Failed,
                2 => UsageOutcome.Canceled,
                3 => UsageOutcome.Incomplete,
                _ => UsageOutcome.Succeeded,
            };
            var sent = outcome != UsageOutcome.Rejected;
            var answered = outcome is UsageOutcome.Succeeded or UsageOutcome.Incomplete;
            var model = Models[random.Next(Models.Length)];
            var input = answered ? random.Next(10, 5000) : 0;
            var output = answered ? random.Next(1, 800) : 0;
            records.Add(new UsageRecord
            {
                Timestamp = timestamp,
                RunId = "run-" + (i / 7),
                Agent = metadata["agent"],
                Task = metadata.GetValueOrDefault("task"),
                Metadata = metadata,
                ModelRequested = model,
                ModelUsed = answered ? model.Replace("policy/claude-4", "claude-sonnet-4-5-20250929", StringComparison.Ordinal) : null,
                Provider = sent ? Providers[random.Next(Providers.Length)] : null,
                Operation = random.Next(10) switch
                {
                    0 => "embeddings",
                    1 => "responses",
                    2 => "models",
                    _ => "chat/completions",
                },
                InputTokens = input,
                OutputTokens = output,
                CachedInputTokens = input / 4,
                // Up to 15 decimals, as a gateway's reported cost may have: counted to the picodollar.
                CostUsd = sent ? decimal.Round((decimal)random.NextDouble() / 1000m, 15) : 0m,
                CostBasis = sent ? CostBasis.Catalog : CostBasis.None,
                Latency = TimeSpan.FromMilliseconds(random.Next(5, 2000)),
                Outcome = outcome,
                StatusCode = outcome switch
                {
                    UsageOutcome.Rejected or UsageOutcome.Canceled => null,
                    UsageOutcome.Failed => 503,
                    _ => 200,
                },
                Error = outcome is UsageOutcome.Succeeded ? null : "it went " + outcome,
                Attempts = sent
                    ? [new UsageAttempt("requesty", model, answered ? AttemptOutcome.Succeeded : AttemptOutcome.Failed, answered ? 200 : 503, answered ? null : "HTTP 503", TimeSpan.FromMilliseconds(12.5))]
                    : [],
            });
        }

        return records;
    }
}
