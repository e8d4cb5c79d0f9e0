using AgentHarness.Catalog.Internal;
using Microsoft.Extensions.Options;

namespace AgentHarness.Budget.Internal;

/// <summary>What the router needs to price and budget a call: the catalog, the guard and their settings.</summary>
internal sealed class CostControl(PriceCatalog catalog, BudgetGuard guard, IOptions<AgentHarnessOptions> options)
{
    public PriceCatalog Catalog { get; } = catalog;

    public BudgetGuard Guard { get; } = guard;

    public bool RefuseUnpriced { get; } = options.Value.Catalog.UnpricedModels == UnpricedModelHandling.Refuse;

    public int DefaultMaxOutputTokens { get; } = options.Value.Catalog.DefaultMaxOutputTokens;

    /// <summary>
    /// Whether an operation is billed by the token, and so priced and budgeted. Other operations
    /// (model lists, files, images, audio) are not priced by the catalog and pass unbudgeted.
    /// </summary>
    public static bool IsMetered(string operation) =>
        operation is "chat/completions" or "responses" or "completions" or "embeddings";

    /// <summary>Whether the operation produces output tokens: embeddings do not.</summary>
    public static bool ProducesOutput(string operation) => operation != "embeddings";
}
