using System.Text;
using AgentHarness.Budget.Internal;
using AgentHarness.Tests.Support;
using OpenAI.Chat;

namespace AgentHarness.Tests.Budget;

/// <summary>The budget stage's reservation against a bound of the input, and its fallback to the tokenizer's count.</summary>
public sealed class BudgetStageTests
{
    // $0.001 per input token and free output: a reservation is the input alone, so a bound and a count differ in price.
    private const decimal InputPrice = 0.001m;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly ChatCompletionOptions Max10 = new() { MaxOutputTokenCount = 10 };

    private static void InputPriced(IAgentHarnessBuilder builder)
    {
        TestHarness.ThreeProviders(builder, maxRetries: 0);
        builder.Configure(static o =>
        {
            o.Catalog.UnpricedModels = UnpricedModelHandling.Refuse;
            o.Catalog.Models["openai/input"] = new ModelPriceOptions { InputPerToken = InputPrice, OutputPerToken = 0m, MaxOutputTokens = 4000 };
        });
    }

    private static int Estimate(string text) => TokenEstimator.EstimateInputTokens(Encoding.UTF8.GetBytes(
        $$"""{"messages":[{"role":"user","content":"{{text}}"}],"model":"input","max_completion_tokens":10}"""));

    private static int Bound(string text) => TokenEstimator.UpperBound(Encoding.UTF8.GetBytes(
        $$"""{"messages":[{"role":"user","content":"{{text}}"}],"model":"input","max_completion_tokens":10}"""));

    [Fact]
    public async Task Reserve_BoundDoesNotFitButTheCountDoes_CallIsSent()
    {
        const string Text = "hello there";
        var transport = new DelegateHandler((_, _) => Task.FromResult(Responses.Json(Responses.ChatJson("input", promptTokens: 5, completionTokens: 1))));
        using var host = TestHarness.Create(transport, InputPriced);

        // The cap lies between the counted input's cost and its bound's.
        var cap = (Estimate(Text) + Bound(Text)) / 2m * InputPrice;
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = cap);
        Assert.True(Bound(Text) * InputPrice > cap);

        await host.Harness.GetChatClient("openai/input").CompleteChatAsync([new UserChatMessage(Text)], Max10, Ct);

        Assert.Equal(1, transport.Calls);
        Assert.Equal(5 * InputPrice, run.SpentUsd);
        Assert.Equal(0m, run.ReservedUsd);
    }

    [Fact]
    public async Task Reserve_NeitherBoundNorCountFits_RefusalQuotesTheCountedWorstCase()
    {
        const string Text = "hello there";
        var transport = new DelegateHandler((_, _) => throw new InvalidOperationException("nothing may be sent"));
        using var host = TestHarness.Create(transport, InputPriced);
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = InputPrice);

        var ex = await Assert.ThrowsAsync<BudgetExceededException>(() => host.Harness.GetChatClient("openai/input").CompleteChatAsync([new UserChatMessage(Text)], Max10, Ct));

        Assert.Equal(0, transport.Calls);
        Assert.Equal(Estimate(Text) * InputPrice, ex.EstimateUsd);
        Assert.Equal(0m, run.ReservedUsd);
    }

    [Fact]
    public async Task Reserve_BoundFits_ReservesTheBoundWhileTheCallIsInFlight()
    {
        const string Text = "hello there";
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var transport = new DelegateHandler(async (_, ct) =>
        {
            entered.TrySetResult();
            await release.Task.WaitAsync(ct);
            return Responses.Json(Responses.ChatJson("input", promptTokens: 5, completionTokens: 1));
        });
        using var host = TestHarness.Create(transport, InputPriced);
        using var run = host.Harness.BeginRun("agent", r => r.MaxCostUsd = 1m);

        var call = host.Harness.GetChatClient("openai/input").CompleteChatAsync([new UserChatMessage(Text)], Max10, Ct);
        await entered.Task.WaitAsync(Ct);

        // No tokenizer was needed: what is held is the bound, never less than the count.
        Assert.Equal(Bound(Text) * InputPrice, run.ReservedUsd);
        release.SetResult();
        await call;
        Assert.Equal(0m, run.ReservedUsd);
        Assert.Equal(5 * InputPrice, run.SpentUsd);
    }
}
