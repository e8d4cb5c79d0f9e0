using AgentHarness.Authentication.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace AgentHarness;

/// <summary>Registers the <see cref="ProviderTokenSource"/> of providers that are sent access tokens.</summary>
public static class ProviderTokenBuilderExtensions
{
    /// <summary>
    /// Sends a provider access tokens from <paramref name="source"/>: sets its <see cref="ProviderOptions.Authentication"/>
    /// to <see cref="ProviderAuthentication.Token"/> and has the harness cache and refresh its tokens.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="provider">The provider's name; its other settings (<see cref="ProviderOptions.BaseUrl"/>) come from configuration or <c>AddProvider</c>.</param>
    /// <param name="source">Issues the tokens.</param>
    /// <returns>The builder, to chain calls.</returns>
    /// <exception cref="ArgumentException">A source was already registered for <paramref name="provider"/>.</exception>
    public static IAgentHarnessBuilder AddProviderTokenSource(this IAgentHarnessBuilder builder, string provider, ProviderTokenSource source)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(provider);
        ArgumentNullException.ThrowIfNull(source);
        if (builder.Services.Any(d => d.ImplementationInstance is ProviderTokenRegistration r && string.Equals(r.Provider, provider, StringComparison.OrdinalIgnoreCase)))
        {
            throw new ArgumentException($"A token source was already registered for the provider '{provider}' (names are compared without regard to case).", nameof(provider));
        }

        builder.Services.AddSingleton(new ProviderTokenRegistration(provider, source));
        // In call order with the other configuration (a later AddProvider of the same name keeps it), and before every
        // post-configuration, so that the sandbox, which sends nothing to the provider, can waive its tokens.
        builder.Services.Configure<AgentHarnessOptions>(options =>
        {
            if (!options.Providers.TryGetValue(provider, out var configured) || configured is null)
            {
                options.Providers[provider] = configured = new ProviderOptions();
            }

            configured.Authentication = ProviderAuthentication.Token;
        });
        return builder;
    }

    /// <summary>
    /// Issues the access tokens of every provider configured with <see cref="ProviderAuthentication.Token"/> that has no
    /// source of its own (so that configuration alone says which providers use it).
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="source">Issues the tokens.</param>
    /// <returns>The builder, to chain calls.</returns>
    /// <exception cref="ArgumentException">A source for every provider was already registered.</exception>
    public static IAgentHarnessBuilder AddProviderTokenSource(this IAgentHarnessBuilder builder, ProviderTokenSource source)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(source);
        if (builder.Services.Any(static d => d.ImplementationInstance is ProviderTokenRegistration { Provider: null }))
        {
            throw new ArgumentException("A token source for every Token provider was already registered.", nameof(source));
        }

        builder.Services.AddSingleton(new ProviderTokenRegistration(null, source));
        return builder;
    }
}
