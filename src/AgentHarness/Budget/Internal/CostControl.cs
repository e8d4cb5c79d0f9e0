using Microsoft.Extensions.Options;

namespace AgentHarness.Budget.Internal;

/// <summary>What the budget stage needs to price and budget a call: the catalog, the guard and their settings.</summary>
internal sealed class CostControl
{
    public CostControl(IPriceCatalog catalog, BudgetGuard guard, IOptions<AgentHarnessOptions> options)
    {
        Catalog = catalog;
        Guard = guard;
        RefuseUnpriced = options.Value.Catalog.UnpricedModels == UnpricedModelHandling.Refuse;
        DefaultMaxOutputTokens = options.Value.Catalog.DefaultMaxOutputTokens;
        FitOutputToBudget = options.Value.FitOutputToBudget;
        MinFittedOutputTokens = options.Value.MinFittedOutputTokens;
    }

    public IPriceCatalog Catalog { get; }

    public BudgetGuard Guard { get; }

    public bool RefuseUnpriced { get; }

    public int DefaultMaxOutputTokens { get; }

    /// <summary>Gets a value indicating whether a request without an output limit may be given one that fits its budget.</summary>
    public bool FitOutputToBudget { get; }

    /// <summary>Gets the fewest output tokens a fitted limit may allow.</summary>
    public int MinFittedOutputTokens { get; }

    /// <summary>
    /// Whether an operation is billed by the token, and so priced and budgeted. Other operations
    /// (model lists, files, images, audio) are not priced by the catalog and pass unbudgeted.
    /// </summary>
    public static bool IsMetered(string operation) =>
        operation is "chat/completions" or "responses" or "completions" or "embeddings";

    /// <summary>Whether the operation produces output tokens: embeddings do not.</summary>
    public static bool ProducesOutput(string operation) => operation != "embeddings";
}
