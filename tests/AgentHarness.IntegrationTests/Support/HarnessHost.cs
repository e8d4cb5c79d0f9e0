using Microsoft.Extensions.DependencyInjection;

namespace AgentHarness.IntegrationTests.Support;

/// <summary>
/// A harness built the way an application builds it, with its default transport: every request
/// leaves the process through a real socket.
/// </summary>
internal sealed class HarnessHost : IDisposable
{
    public const string GatewayKey = "key-gateway";

    private HarnessHost(ServiceProvider services)
    {
        Services = services;
        Harness = services.GetRequiredService<IAgentHarness>();
        Ledger = services.GetRequiredService<IUsageLedger>();
    }

    public ServiceProvider Services { get; }

    public IAgentHarness Harness { get; }

    public IUsageLedger Ledger { get; }

    public static HarnessHost Create(Action<IAgentHarnessBuilder> configure)
    {
        var services = new ServiceCollection();
        configure(services.AddAgentHarness());
        return new HarnessHost(services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true }));
    }

    /// <summary>A harness whose only provider, <c>requesty</c>, is a Requesty-like gateway served by <paramref name="gateway"/>.</summary>
    public static HarnessHost WithGateway(SandboxServer gateway, int maxRetries = 2) =>
        Create(builder => AddGateway(builder, gateway, maxRetries));

    public static IAgentHarnessBuilder AddGateway(IAgentHarnessBuilder builder, SandboxServer gateway, int maxRetries = 2) =>
        builder.AddProvider("requesty", p =>
        {
            p.BaseUrl = gateway.BaseUrl;
            p.ApiKey = GatewayKey;
            p.IsGateway = true;
            p.MetadataHeaderPrefix = "X-Requesty-";
            p.MaxRetries = maxRetries;
            p.RetryBaseDelay = TimeSpan.Zero;
        });

    public void Dispose() => Services.Dispose();
}
