namespace AgentHarness;

/// <summary>What <see cref="IModelDiscovery.DiscoverAsync"/> found: every listed model, and the providers whose lists could not be read.</summary>
public sealed class ModelDiscoveryResult
{
    /// <summary>Initializes a new instance of the <see cref="ModelDiscoveryResult"/> class.</summary>
    /// <param name="models">The models found.</param>
    /// <param name="failures">The providers that failed, each with a short description of its error.</param>
    public ModelDiscoveryResult(IReadOnlyList<DiscoveredModel> models, IReadOnlyDictionary<string, string> failures)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(failures);
        Models = models;
        Failures = failures;
    }

    /// <summary>
    /// Gets the models every provider that answered lists: providers in configuration order, each
    /// provider's models in the order its list gives them.
    /// </summary>
    public IReadOnlyList<DiscoveredModel> Models { get; }

    /// <summary>
    /// Gets the providers whose lists could not be read, keyed by provider name (compared without regard
    /// to case), each with a one-line error: the HTTP status and an excerpt of the body, or what went
    /// wrong on the way. API keys are removed from it. Empty when every provider answered.
    /// </summary>
    public IReadOnlyDictionary<string, string> Failures { get; }
}
