using AgentHarness.Testing.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace AgentHarness.Testing;

/// <summary>Puts a harness on a <see cref="SandboxProvider"/>, for offline runs and tests.</summary>
public static class SandboxAgentHarnessBuilderExtensions
{
    /// <summary>The base address of the gateway <see cref="AddSandboxGateway"/> adds; it never resolves, the sandbox answers in process.</summary>
    public static readonly Uri SandboxBaseUrl = new("https://sandbox.agentharness.invalid/v1");

    /// <summary>
    /// Answers configured providers from a sandbox instead of the network: every provider, or only those named in
    /// <paramref name="providers"/>. This is the offline switch: the application's real configuration (its providers,
    /// policies, prices and budgets) runs unchanged, and nothing is sent out of the process for a sandboxed provider,
    /// neither its model calls nor its model list.
    /// </summary>
    /// <remarks>
    /// <para>
    /// A sandboxed provider needs no API key: its <see cref="ProviderOptions.RequiresApiKey"/> is turned off, so a
    /// missing key (or environment variable) no longer fails start. Routing, fallbacks, metadata headers and records
    /// apply as usual, and the sandbox receives each request as the provider would: with <c>Authorization: Bearer</c>
    /// and the provider's key when one is set (in <see cref="ProviderOptions.ApiKey"/> or the variable
    /// <see cref="ProviderOptions.ApiKeyEnvironmentVariable"/> names), without an <c>Authorization</c> header otherwise.
    /// Providers the sandbox does not answer keep their real transport and their key requirement.
    /// </para>
    /// <para>
    /// Each call applies on top of the previous ones: a provider is answered by the sandbox of the last call that
    /// covers it (a call without provider names covers every provider), so calling it again with the same arguments
    /// changes nothing. Provider names are compared without regard to case, and checked when the application starts: a
    /// name that is not a configured provider fails start with an <see cref="OptionsValidationException"/> that names it
    /// and the configured ones.
    /// </para>
    /// <para>
    /// The sandbox answers a request with the script of the first of these ids that has one: the model id the caller
    /// asked for (<c>policy/claude-4</c>, <c>openai/gpt-4.1-nano</c>), the attempt's candidate as <c>provider/model</c>
    /// (<c>anthropic/claude-sonnet-4-5</c> for a member of a local policy), the model as sent to the provider
    /// (<c>gpt-4.1-nano</c>), then <see cref="SandboxProvider.Default"/>.
    /// </para>
    /// </remarks>
    /// <example>
    /// <code>
    /// // Every configured provider, from a sandbox the harness creates; resolve it to script answers.
    /// services.AddAgentHarness(configuration.GetSection("AgentHarness")).UseSandbox();
    /// // Only "openai"; the other providers stay real.
    /// services.AddAgentHarness(configuration.GetSection("AgentHarness")).UseSandbox(sandbox, "openai");
    /// </code>
    /// </example>
    /// <param name="builder">The harness builder.</param>
    /// <param name="sandbox">
    /// The sandbox that answers; when <see langword="null"/>, the <see cref="SandboxProvider"/> registered in the
    /// service collection, which is registered as a singleton on the harness's <see cref="TimeProvider"/> when there is
    /// none, so the application can resolve it to script answers and read its requests. A sandbox given here is
    /// registered as that singleton when none is registered yet.
    /// </param>
    /// <param name="providers">The names of the providers to answer; none answers every configured provider.</param>
    /// <returns>The builder, to chain calls.</returns>
    /// <exception cref="ArgumentException">A name in <paramref name="providers"/> is <see langword="null"/>, empty or white space.</exception>
    public static IAgentHarnessBuilder UseSandbox(this IAgentHarnessBuilder builder, SandboxProvider? sandbox = null, params string[] providers)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(providers);
        foreach (var provider in providers)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(provider, nameof(providers));
        }

        var services = builder.Services;
        if (sandbox is null)
        {
            services.TryAddSingleton(static sp => new SandboxProvider(sp.GetService<TimeProvider>()));
        }
        else
        {
            services.TryAddSingleton(sandbox);
        }

        var assignments = SandboxAssignments.For(services);
        assignments.Add(sandbox, [.. providers]);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHttpMessageHandlerBuilderFilter>(new SandboxHandlerFilter(assignments)));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<AgentHarnessOptions>>(new SandboxKeyWaiver(assignments)));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AgentHarnessOptions>>(new SandboxProvidersValidator(assignments)));
        return builder;
    }

    /// <summary>
    /// Adds a gateway provider served by the sandbox (no key needed) and answers every configured
    /// provider from the sandbox (see <see cref="UseSandbox"/>). Model ids of providers that are not
    /// configured, such as <c>openai/gpt-4.1-nano</c> or <c>policy/claude-4</c>, reach the sandbox
    /// with their full id, as they would reach a real gateway.
    /// </summary>
    /// <param name="builder">The harness builder.</param>
    /// <param name="sandbox">The sandbox that answers.</param>
    /// <param name="name">The provider's name.</param>
    /// <param name="metadataHeaderPrefix">The prefix of the metadata headers the sandbox receives, or <see langword="null"/> for none.</param>
    /// <returns>The builder, to chain calls.</returns>
    public static IAgentHarnessBuilder AddSandboxGateway(this IAgentHarnessBuilder builder, SandboxProvider sandbox, string name = "sandbox", string? metadataHeaderPrefix = "X-Requesty-")
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(sandbox);
        builder.AddProvider(name, provider =>
        {
            provider.BaseUrl = SandboxBaseUrl;
            provider.RequiresApiKey = false;
            provider.IsGateway = true;
            provider.MetadataHeaderPrefix = metadataHeaderPrefix;
        });
        return builder.UseSandbox(sandbox);
    }
}
