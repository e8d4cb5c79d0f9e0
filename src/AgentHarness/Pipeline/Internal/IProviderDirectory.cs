namespace AgentHarness.Pipeline.Internal;

/// <summary>
/// The configured providers, by name and in configuration order: what a feature other than routing (the model catalog's
/// discovery) needs of the provider registry, without its route planning.
/// </summary>
internal interface IProviderDirectory
{
    /// <summary>Gets the configured providers in configuration order.</summary>
    IEnumerable<ProviderEndpoint> Providers { get; }

    /// <summary>Gets the configured providers' names.</summary>
    IEnumerable<string> ProviderNames { get; }

    /// <summary>Finds a configured provider by name, ignoring case.</summary>
    /// <param name="name">The provider's name.</param>
    /// <returns>The provider, or <see langword="null"/> when none has that name.</returns>
    ProviderEndpoint? FindProvider(string name);
}
