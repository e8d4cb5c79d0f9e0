using Microsoft.Extensions.DependencyInjection;

namespace AgentHarness.Internal;

internal sealed class AgentHarnessBuilder(IServiceCollection services) : IAgentHarnessBuilder
{
    public IServiceCollection Services { get; } = services;

    /// <summary>Gets the names added through <see cref="AgentHarnessBuilderExtensions.AddProvider"/>, to refuse a second provider of the same name.</summary>
    public HashSet<string> ProviderNames { get; } = new(StringComparer.OrdinalIgnoreCase);
}
