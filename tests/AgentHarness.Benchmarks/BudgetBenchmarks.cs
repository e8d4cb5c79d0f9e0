using System.ClientModel;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace AgentHarness.Benchmarks;

/// <summary>
/// The budget guard's time per call: the same priced call made in a run without limits (the cost
/// is still computed from the catalog), in a run with a cap (the input estimate, a reservation and
/// a settle on the run), and in a capped run that two budget rules also limit (the same, plus one
/// atomic reservation and settle in the in-memory store).
/// </summary>
[MemoryDiagnoser]
[InvocationCount(32768)]
public class BudgetBenchmarks
{
    private static readonly byte[] Body = Encoding.UTF8.GetBytes(
        """{"id":"c","object":"chat.completion","created":1,"model":"gpt-4.1-nano-2025-04-14","choices":[{"index":0,"message":{"role":"assistant","content":"bug-fix"},"finish_reason":"stop"}],"usage":{"prompt_tokens":42,"completion_tokens":3,"total_tokens":45,"prompt_tokens_details":{"cached_tokens":0}}}""");

    private static readonly ChatCompletionOptions Capped = new() { MaxOutputTokenCount = 16 };

    private readonly CannedHandler _handler = new(Body, "application/json");
    private ServiceProvider _services = null!;
    private IAgentHarness _harness = null!;
    private ChatClient _client = null!;
    private AgentRun? _run;

    [Params(false, true)]
    public bool Rules { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var services = new ServiceCollection();
        services.AddAgentHarness()
            .AddProvider("requesty", p =>
            {
                p.BaseUrl = new Uri("https://gateway.invalid/v1");
                p.ApiKey = "key-gateway";
                p.IsGateway = true;
                p.MetadataHeaderPrefix = HarnessSetup.MetadataHeaderPrefix;
            })
            .Configure(o =>
            {
                if (Rules)
                {
                    o.Budgets["per-agent-daily"] = new BudgetRuleOptions { Dimension = "agent", Window = BudgetWindow.Day, LimitUsd = 1_000_000m };
                    o.Budgets["global-monthly"] = new BudgetRuleOptions { Dimension = "global", Window = BudgetWindow.Month, LimitUsd = 1_000_000m };
                }
            })
            .ConfigureHttpClient(b => b.ConfigurePrimaryHttpMessageHandler(() => _handler));
        _services = services.BuildServiceProvider();
        _harness = _services.GetRequiredService<IAgentHarness>();
        _client = _harness.GetChatClient(HarnessSetup.Model);
    }

    [IterationSetup(Target = nameof(RunWithoutCap))]
    public void OpenUncappedRun() => _run = _harness.BeginRun("code-review-agent");

    [IterationSetup(Target = nameof(RunWithCap))]
    public void OpenCappedRun() => _run = _harness.BeginRun("code-review-agent", static r => r.MaxCostUsd = 1_000_000m);

    [IterationCleanup]
    public void CloseRun() => _run?.Dispose();

    [GlobalCleanup]
    public void Cleanup()
    {
        var last = _services.GetRequiredService<IUsageLedger>().GetRecords()[^1];
        if (last is not { Outcome: UsageOutcome.Succeeded, CostBasis: CostBasis.Catalog, CostUsd: > 0m })
        {
            throw new InvalidOperationException("The budget benchmark's calls were not priced from the catalog.");
        }

        _services.Dispose();
    }

    [Benchmark(Baseline = true)]
    public Task<ClientResult<ChatCompletion>> RunWithoutCap() => _client.CompleteChatAsync(HarnessSetup.Messages, Capped);

    [Benchmark]
    public Task<ClientResult<ChatCompletion>> RunWithCap() => _client.CompleteChatAsync(HarnessSetup.Messages, Capped);
}
