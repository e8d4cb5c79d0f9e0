using AgentHarness.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace AgentHarness;

/// <summary>Configuration methods of <see cref="IAgentHarnessBuilder"/>.</summary>
public static class AgentHarnessBuilderExtensions
{
    /// <summary>
    /// Adds a provider, or changes one bound from configuration under the same name (for example to
    /// set its key from a secret store).
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="name">The provider's name: the <c>name</c> of <c>name/model</c> ids. Not empty, no <c>/</c>, not <c>policy</c>.</param>
    /// <param name="configure">Sets the provider's options.</param>
    /// <returns>The builder, to chain calls.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid provider name, or was already added through this builder.</exception>
    public static IAgentHarnessBuilder AddProvider(this IAgentHarnessBuilder builder, string name, Action<ProviderOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configure);
        if (name.Contains('/', StringComparison.Ordinal) || string.Equals(name, "policy", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"'{name}' cannot name a provider: a name must not contain '/' and 'policy' is reserved for policy ids.", nameof(name));
        }

        if (builder is AgentHarnessBuilder concrete && !concrete.ProviderNames.Add(name))
        {
            throw new ArgumentException($"A provider named '{name}' was already added (names are compared without regard to case).", nameof(name));
        }

        builder.Services.Configure<AgentHarnessOptions>(options =>
        {
            if (!options.Providers.TryGetValue(name, out var provider) || provider is null)
            {
                options.Providers[name] = provider = new ProviderOptions();
            }

            configure(provider);
        });
        return builder;
    }

    /// <summary>Changes the harness's options in code, after configuration is bound.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Changes the options.</param>
    /// <returns>The builder, to chain calls.</returns>
    public static IAgentHarnessBuilder Configure(this IAgentHarnessBuilder builder, Action<AgentHarnessOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.Configure(configure);
        return builder;
    }

    /// <summary>
    /// Configures the <see cref="HttpClient"/> every harness client shares, for example to replace its
    /// primary handler (the transport under the gateway pipeline) in tests or offline runs.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Configures the client's <see cref="IHttpClientBuilder"/>.</param>
    /// <returns>The builder, to chain calls.</returns>
    public static IAgentHarnessBuilder ConfigureHttpClient(this IAgentHarnessBuilder builder, Action<IHttpClientBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        configure(builder.Services.AddHttpClient(DefaultAgentHarness.HttpClientName));
        return builder;
    }
}
