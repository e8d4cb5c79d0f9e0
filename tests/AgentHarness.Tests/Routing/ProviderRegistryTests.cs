using AgentHarness.Routing.Internal;
using Microsoft.Extensions.Options;

namespace AgentHarness.Tests.Routing;

public sealed class ProviderRegistryTests
{
    private static ProviderRegistry Gateway()
    {
        var options = new AgentHarnessOptions();
        options.Providers["requesty"] = new ProviderOptions { BaseUrl = new Uri("https://gateway.test/v1"), ApiKey = "key-gateway", IsGateway = true };
        return new ProviderRegistry(Options.Create(options));
    }

    [Fact]
    public void TryPlan_TenThousandDistinctGatewayIds_CachesAtMostTheBound()
    {
        var registry = Gateway();

        for (var i = 0; i < 10_000; i++)
        {
            Assert.True(registry.TryPlan($"acme/model-{i}", out var plan, out _));
            Assert.Equal($"acme/model-{i}", Assert.Single(plan.Candidates(null, null!)).Model);
        }

        Assert.Equal(ProviderRegistry.MaxCachedPlans, registry.CachedPlanCount);
    }

    [Fact]
    public void TryPlan_IdOverTheLimit_RefusedAndNotCached()
    {
        var registry = Gateway();

        Assert.False(registry.TryPlan("acme/" + new string('x', ModelIds.MaxLength), out _, out var error));

        Assert.Contains("the longest model id the harness accepts is 256 characters", error, StringComparison.Ordinal);
        Assert.Equal(0, registry.CachedPlanCount);
    }

    [Fact]
    public void TryPlan_IdWithLineBreak_RefusedWithTheIdEscaped()
    {
        Assert.False(Gateway().TryPlan("acme/model\r\nforged", out _, out var error));

        Assert.Contains("'acme/model\\r\\nforged'", error, StringComparison.Ordinal);
    }
}
