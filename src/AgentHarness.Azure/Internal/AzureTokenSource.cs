using Azure.Core;

namespace AgentHarness.Azure.Internal;

/// <summary>Issues a provider's access tokens from an Azure <see cref="TokenCredential"/>; the harness caches and refreshes them.</summary>
internal sealed class AzureTokenSource(TokenCredential credential) : ProviderTokenSource
{
    /// <summary>The scope of Azure OpenAI and the other Azure AI services, asked for when the provider sets no TokenScope.</summary>
    public const string DefaultScope = "https://cognitiveservices.azure.com/.default";

    public TokenCredential Credential { get; } = credential;

    public override async ValueTask<ProviderToken> GetTokenAsync(string provider, string? scope, CancellationToken cancellationToken)
    {
        var token = await Credential.GetTokenAsync(new TokenRequestContext([scope ?? DefaultScope]), cancellationToken).ConfigureAwait(false);
        return new ProviderToken(token.Token, token.ExpiresOn) { RefreshOn = token.RefreshOn };
    }
}
