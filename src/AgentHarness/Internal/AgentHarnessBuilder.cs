using Microsoft.Extensions.DependencyInjection;

namespace AgentHarness.Internal;

internal sealed class AgentHarnessBuilder(IServiceCollection services) : IAgentHarnessBuilder
{
    public IServiceCollection Services { get; } = services;

    /// <summary>Gets the names added through <see cref="AgentHarnessBuilderExtensions.AddProvider"/>, to refuse a second provider of the same name.</summary>
    public HashSet<string> ProviderNames { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets or sets the path of the configuration section bound to the options, or <see langword="null"/> when none is.</summary>
    /// <remarks>One harness binds one section: a second <c>AddAgentHarness</c> naming another is refused, not merged in silence.</remarks>
    public string? SectionPath { get; set; }
}
