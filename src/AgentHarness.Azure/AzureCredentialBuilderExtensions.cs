using AgentHarness.Azure.Internal;
using Azure.Core;
using Azure.Identity;

namespace AgentHarness;

/// <summary>Sends providers Microsoft Entra ID access tokens from an Azure <see cref="TokenCredential"/>.</summary>
/// <remarks>
/// Tokens are asked for the provider's <see cref="ProviderOptions.TokenScope"/>, by default
/// <c>https://cognitiveservices.azure.com/.default</c> (Azure OpenAI and the other Azure AI services). The harness keeps each
/// provider's token until shortly before it expires and asks for the next one in the background, once however many calls
/// are running; a token is never logged. When the credential fails, the call fails with a
/// <see cref="ProviderCredentialException"/> naming the provider before anything is sent, and a policy goes on to its
/// next candidate.
/// </remarks>
public static class AzureCredentialBuilderExtensions
{
    /// <summary>
    /// Sends one provider Entra ID tokens from <paramref name="credential"/> (for example a <see cref="DefaultAzureCredential"/>
    /// or a <see cref="ManagedIdentityCredential"/>); its <see cref="ProviderOptions.Authentication"/> becomes
    /// <see cref="ProviderAuthentication.Token"/>.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="provider">The provider's name; it must be configured, without an API key.</param>
    /// <param name="credential">The credential.</param>
    /// <returns>The builder, to chain calls.</returns>
    /// <exception cref="ArgumentException">A credential was already added for <paramref name="provider"/>.</exception>
    public static IAgentHarnessBuilder AddAzureCredential(this IAgentHarnessBuilder builder, string provider, TokenCredential credential)
    {
        ArgumentNullException.ThrowIfNull(credential);
        return builder.AddProviderTokenSource(provider, new AzureTokenSource(credential));
    }

    /// <summary>
    /// Sends Entra ID tokens from <paramref name="credential"/> to every provider configured with
    /// <c>"Authentication": "Token"</c> that has no credential of its own, so that configuration says which providers use it.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="credential">The credential.</param>
    /// <returns>The builder, to chain calls.</returns>
    public static IAgentHarnessBuilder AddAzureCredential(this IAgentHarnessBuilder builder, TokenCredential credential)
    {
        ArgumentNullException.ThrowIfNull(credential);
        return builder.AddProviderTokenSource(new AzureTokenSource(credential));
    }

    /// <summary>
    /// Sends Entra ID tokens from a <see cref="DefaultAzureCredential"/> (environment, workload identity, managed identity,
    /// the developer's Azure CLI or Visual Studio sign-in) to every provider configured with <c>"Authentication": "Token"</c>
    /// that has no credential of its own.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder, to chain calls.</returns>
    public static IAgentHarnessBuilder AddAzureCredential(this IAgentHarnessBuilder builder) =>
        builder.AddAzureCredential(new DefaultAzureCredential());
}
