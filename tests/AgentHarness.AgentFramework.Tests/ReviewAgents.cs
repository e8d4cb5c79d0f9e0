using AgentHarness.Testing;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace AgentHarness.AgentFramework.Tests;

/// <summary>
/// An agent with one tool, <c>get_diff</c>, on a chat client registered from the harness for <c>openai/reviewer</c>:
/// the sandbox calls the tool, then answers with text. The model is priced at $0.00001 a token with at most 100
/// output tokens, so the first round trip's worst case is about $0.002, and the second's, which carries the tool's
/// result of about 3,000 tokens, more than $0.01.
/// </summary>
internal sealed class ReviewAgents : IDisposable
{
    public const string Model = "openai/reviewer";

    // Lines that do not merge into a few tokens, as a run of one character would.
    public static readonly string Diff = string.Concat(Enumerable.Range(0, 200).Select(static i => $"+ line {i}: fetchUserById(id{i * 7919 % 1000})\n"));

    public ReviewAgents(Action<AgentHarnessRunOptions>? run = null, bool withRun = true)
    {
        Sandbox = new SandboxProvider();
        Sandbox.Model(Model).ReplyWithToolCall("get_diff").Reply("The rename needs an alias.");
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(new FakeTimeProvider(new DateTimeOffset(2026, 5, 1, 9, 0, 0, TimeSpan.Zero)));
        services.AddAgentHarness()
            .AddProvider("openai", static p => { p.BaseUrl = new Uri("https://openai.test/v1"); p.ApiKey = "key-openai"; p.MaxRetries = 0; })
            .Configure(static o => o.Catalog.Models[Model] = new ModelPriceOptions { InputPerToken = 0.00001m, OutputPerToken = 0.00001m, MaxOutputTokens = 100, ContextWindow = 100_000 })
            .UseSandbox(Sandbox)
            .AddChatClient("reviewer", Model);
        Services = services.BuildServiceProvider();
        var tool = AIFunctionFactory.Create(
            () =>
            {
                Interlocked.Increment(ref _toolCalls);
                return Diff;
            },
            "get_diff",
            "Gets the diff under review.");
        var agent = Services.GetRequiredKeyedService<IChatClient>("reviewer").AsAIAgent(name: "code-review-agent", tools: [tool]);
        Agent = withRun ? agent.AsBuilder().UseAgentHarnessRun(run).Build(Services) : agent;
    }

    public SandboxProvider Sandbox { get; }

    public ServiceProvider Services { get; }

    public AIAgent Agent { get; }

    public IAgentHarness Harness => Services.GetRequiredService<IAgentHarness>();

    public IReadOnlyList<UsageRecord> Records => Services.GetRequiredService<IUsageLedger>().GetRecords();

    public int ToolCalls => Volatile.Read(ref _toolCalls);

    private int _toolCalls;

    public void Dispose() => Services.Dispose();
}
