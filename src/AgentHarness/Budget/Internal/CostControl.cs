using AgentHarness.Catalog.Internal;
using Microsoft.Extensions.Options;

namespace AgentHarness.Budget.Internal;

/// <summary>What the router needs to price and budget a call: the catalog, the guard and their settings.</summary>
internal sealed class CostControl
{
    public CostControl(PriceCatalog catalog, BudgetGuard guard, IOptions<AgentHarnessOptions> options)
    {
        Catalog = catalog;
        Guard = guard;
        RefuseUnpriced = options.Value.Catalog.UnpricedModels == UnpricedModelHandling.Refuse;
        DefaultMaxOutputTokens = options.Value.Catalog.DefaultMaxOutputTokens;
        FitOutputToBudget = options.Value.FitOutputToBudget;
        MinFittedOutputTokens = options.Value.MinFittedOutputTokens;
        PricePerToken = id => Catalog.Find(id) is { } price ? price.InputPerToken + price.OutputPerToken : null;

        // Loading the tokenizer's vocabulary takes about 200 ms: done in the background when the
        // harness is built, so that the first budgeted call does not wait for it.
        _ = Task.Run(static () => TokenEstimator.CountTokens("warm up"));
    }

    public PriceCatalog Catalog { get; }

    public BudgetGuard Guard { get; }

    public bool RefuseUnpriced { get; }

    public int DefaultMaxOutputTokens { get; }

    /// <summary>Gets a value indicating whether a request without an output limit may be given one that fits its budget.</summary>
    public bool FitOutputToBudget { get; }

    /// <summary>Gets the fewest output tokens a fitted limit may allow.</summary>
    public int MinFittedOutputTokens { get; }

    /// <summary>
    /// The body property that limits an operation's output, for a limit the harness sets; <see langword="null"/>
    /// for an operation it does not limit.
    /// </summary>
    public static string? OutputLimitProperty(string operation) => operation switch
    {
        "chat/completions" => "max_completion_tokens",
        "responses" => "max_output_tokens",
        "completions" => "max_tokens",
        _ => null,
    };

    /// <summary>Gets a model's input and output price per token together, by catalog id: how lowest-cost policies compare members.</summary>
    public Func<string, decimal?> PricePerToken { get; }

    /// <summary>
    /// Whether an operation is billed by the token, and so priced and budgeted. Other operations
    /// (model lists, files, images, audio) are not priced by the catalog and pass unbudgeted.
    /// </summary>
    public static bool IsMetered(string operation) =>
        operation is "chat/completions" or "responses" or "completions" or "embeddings";

    /// <summary>Whether the operation produces output tokens: embeddings do not.</summary>
    public static bool ProducesOutput(string operation) => operation != "embeddings";
}
