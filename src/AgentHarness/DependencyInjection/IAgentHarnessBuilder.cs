using Microsoft.Extensions.DependencyInjection;

namespace AgentHarness;

/// <summary>Configures the in-process gateway after <c>AddAgentHarness</c>.</summary>
public interface IAgentHarnessBuilder
{
    /// <summary>Gets the service collection the harness is registered in.</summary>
    IServiceCollection Services { get; }
}
