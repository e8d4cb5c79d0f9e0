namespace AgentHarness;

/// <summary>How a provider is sent its credential (<see cref="ProviderOptions.Authentication"/>).</summary>
public enum ProviderAuthentication
{
    /// <summary><see cref="ProviderOptions.ApiKey"/> as <c>Authorization: Bearer &lt;key&gt;</c>, as OpenAI and most compatible APIs take it.</summary>
    Bearer,

    /// <summary>
    /// <see cref="ProviderOptions.ApiKey"/> as the value of the header <see cref="ProviderOptions.ApiKeyHeader"/>
    /// (<c>api-key</c> unless set), as Azure OpenAI takes it; no <c>Authorization</c> header is sent.
    /// </summary>
    ApiKeyHeader,

    /// <summary>
    /// An access token as <c>Authorization: Bearer &lt;token&gt;</c>, from the <see cref="ProviderTokenSource"/> registered
    /// for the provider (for example a Microsoft Entra ID token through the AgentHarness.Azure package); no key is sent.
    /// </summary>
    Token,
}
