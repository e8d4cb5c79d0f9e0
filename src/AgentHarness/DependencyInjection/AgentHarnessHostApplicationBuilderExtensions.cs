using AgentHarness;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Registers AgentHarness on an application host (<c>WebApplication.CreateBuilder</c>,
/// <c>Host.CreateApplicationBuilder</c>), with options bound from the host's configuration.
/// </summary>
/// <remarks>
/// These methods call <see cref="AgentHarnessServiceCollectionExtensions.AddAgentHarness(IServiceCollection, Microsoft.Extensions.Configuration.IConfigurationSection)"/>
/// on the host's services, so the same rules hold: a second call (in this form or on
/// <c>builder.Services</c>) returns the same <see cref="IAgentHarnessBuilder"/> and registers nothing
/// twice, configure delegates run in call order after the section is bound, and a call naming
/// another section than an earlier one throws an <see cref="InvalidOperationException"/> naming both.
/// </remarks>
public static class AgentHarnessHostApplicationBuilderExtensions
{
    /// <summary>The configuration section bound when none is named: <c>AgentHarness</c>.</summary>
    public const string DefaultSectionName = "AgentHarness";

    /// <summary>Registers the harness with options bound from the <c>AgentHarness</c> section of the host's configuration.</summary>
    /// <param name="builder">The host's builder.</param>
    /// <returns>A builder to add providers and change options; the same builder on every call for one host.</returns>
    /// <exception cref="InvalidOperationException">An earlier call bound a different section.</exception>
    public static IAgentHarnessBuilder AddAgentHarness(this IHostApplicationBuilder builder) =>
        AddAgentHarness(builder, DefaultSectionName, configure: null);

    /// <summary>Registers the harness with options bound from a section of the host's configuration.</summary>
    /// <param name="builder">The host's builder.</param>
    /// <param name="sectionName">The section's path, for example <c>AgentHarness</c> or <c>Llm:Gateway</c>.</param>
    /// <returns>A builder to add providers and change options; the same builder on every call for one host.</returns>
    /// <exception cref="InvalidOperationException">An earlier call bound a different section.</exception>
    public static IAgentHarnessBuilder AddAgentHarness(this IHostApplicationBuilder builder, string sectionName) =>
        AddAgentHarness(builder, sectionName, configure: null);

    /// <summary>
    /// Registers the harness with options bound from the <c>AgentHarness</c> section of the host's
    /// configuration, then changed by a delegate.
    /// </summary>
    /// <param name="builder">The host's builder.</param>
    /// <param name="configure">Changes the options after the section is bound.</param>
    /// <returns>A builder to add providers and change options; the same builder on every call for one host.</returns>
    /// <exception cref="InvalidOperationException">An earlier call bound a different section.</exception>
    public static IAgentHarnessBuilder AddAgentHarness(this IHostApplicationBuilder builder, Action<AgentHarnessOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return AddAgentHarness(builder, DefaultSectionName, configure);
    }

    /// <summary>Registers the harness with options bound from a section of the host's configuration, then changed by a delegate.</summary>
    /// <param name="builder">The host's builder.</param>
    /// <param name="sectionName">The section's path, for example <c>AgentHarness</c> or <c>Llm:Gateway</c>.</param>
    /// <param name="configure">Changes the options after the section is bound, or <see langword="null"/>.</param>
    /// <returns>A builder to add providers and change options; the same builder on every call for one host.</returns>
    /// <exception cref="InvalidOperationException">An earlier call bound a different section.</exception>
    public static IAgentHarnessBuilder AddAgentHarness(this IHostApplicationBuilder builder, string sectionName, Action<AgentHarnessOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(sectionName);
        var harness = builder.Services.AddAgentHarness(builder.Configuration.GetSection(sectionName));
        if (configure is not null)
        {
            harness.Configure(configure);
        }

        return harness;
    }
}
