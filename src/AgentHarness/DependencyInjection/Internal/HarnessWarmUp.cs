using AgentHarness.Budget.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace AgentHarness.DependencyInjection.Internal;

/// <summary>
/// Does at the host's start what the first call would otherwise wait for: it builds the harness (options validated,
/// providers and policies resolved, the model client's handler chain), loads the price catalog, and, when a budget can
/// apply, loads the tokenizer.
/// </summary>
/// <remarks>
/// <para>
/// A budget can apply, for this purpose, when <see cref="AgentHarnessOptions.Budgets"/> configures a rule. A call in a
/// run with a cap (<see cref="AgentRun.MaxCostUsd"/>, set in code) first reserves against a bound of its input that
/// needs no tokenizer; the tokenizer loads, once, on the first call that needs an exact count (a bound that does not
/// fit, an answer without usage). Without a budget rule the tokenizer is never loaded at start: it takes about half a
/// second and 40 MB.
/// </para>
/// <para>Without a host (a plain service provider), nothing runs, and each part is built when first used.</para>
/// </remarks>
internal sealed class HarnessWarmUp(IServiceProvider services, IOptions<AgentHarnessOptions> options) : IHostedService
{
    /// <summary>Loads the tokenizer; a test sees whether it was asked to.</summary>
    internal Action LoadTokenizer { get; init; } = TokenEstimator.Load;

    /// <summary>Whether the options configure a budget rule, and so whether the tokenizer loads at start.</summary>
    public static bool BudgetCanApply(AgentHarnessOptions options) => options.Budgets.Count > 0;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Its client's handler chain holds every stage of the call path, the budget stage's price catalog among them.
        _ = services.GetRequiredService<IAgentHarness>();

        // Access tokens are fetched in the background from now on, so that the first calls need not wait for one.
        foreach (var provider in services.GetRequiredService<Routing.Internal.ProviderRegistry>().Providers)
        {
            provider.Tokens?.Prefetch();
        }

        if (!BudgetCanApply(options.Value))
        {
            return Task.CompletedTask;
        }

        // On a pool thread: a host that gives up on starting need not wait for the vocabulary.
        return Task.Run(LoadTokenizer, cancellationToken).WaitAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
