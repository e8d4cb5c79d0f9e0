using Microsoft.Extensions.Logging;

namespace AgentHarness.Authentication.Internal;

/// <summary>A token source registered for one provider, or (<see cref="Provider"/> <see langword="null"/>) for every token provider without its own.</summary>
internal sealed record ProviderTokenRegistration(string? Provider, ProviderTokenSource Source);

/// <summary>Builds the token cache of each provider whose authentication is <see cref="ProviderAuthentication.Token"/>.</summary>
internal sealed class ProviderTokens(IEnumerable<ProviderTokenRegistration> registrations, TimeProvider time, ILoggerFactory loggerFactory)
{
    private readonly ProviderTokenRegistration[] _registrations = [.. registrations];
    private readonly ILogger _logger = loggerFactory.CreateLogger(AgentHarnessLogCategories.Credentials);

    /// <summary>The source for a provider: its own, else the one registered for every provider.</summary>
    public static ProviderTokenSource? Find(IReadOnlyCollection<ProviderTokenRegistration> registrations, string provider) =>
        (registrations.LastOrDefault(r => string.Equals(r.Provider, provider, StringComparison.OrdinalIgnoreCase))
            ?? registrations.LastOrDefault(static r => r.Provider is null))?.Source;

    /// <summary>The provider's token cache, or <see langword="null"/> when it is not sent a token.</summary>
    public TokenCache? For(string provider, ProviderOptions options) =>
        options.Authentication == ProviderAuthentication.Token && Find(_registrations, provider) is { } source
            ? new TokenCache(provider, string.IsNullOrWhiteSpace(options.TokenScope) ? null : options.TokenScope, source, time, _logger)
            : null;
}
