namespace AgentHarness;

/// <summary>
/// Supplies access tokens for providers whose <see cref="ProviderOptions.Authentication"/> is
/// <see cref="ProviderAuthentication.Token"/>: the seam a credential library plugs into (the AgentHarness.Azure package
/// plugs in an Azure <c>TokenCredential</c>). Register one with
/// <see cref="ProviderTokenBuilderExtensions.AddProviderTokenSource(IAgentHarnessBuilder, string, ProviderTokenSource)"/>.
/// </summary>
/// <remarks>
/// The harness caches each provider's token and asks for a new one shortly before it expires, in the background while
/// the current one is still good, and at most once at a time per provider however many calls are waiting. A call waits
/// only when there is no usable token (the first call, or one after a long idle). A token is never logged.
/// </remarks>
public abstract class ProviderTokenSource
{
    /// <summary>Gets a new access token for a provider.</summary>
    /// <param name="provider">The provider's name, as configured.</param>
    /// <param name="scope">The provider's <see cref="ProviderOptions.TokenScope"/>, or <see langword="null"/> for the source's default.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The token and when it expires.</returns>
    public abstract ValueTask<ProviderToken> GetTokenAsync(string provider, string? scope, CancellationToken cancellationToken);
}
