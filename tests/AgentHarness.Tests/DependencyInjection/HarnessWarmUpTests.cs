using AgentHarness.DependencyInjection.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using RichardSzalay.MockHttp;

namespace AgentHarness.Tests.DependencyInjection;

public sealed class HarnessWarmUpTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static (ServiceProvider Services, HarnessWarmUp WarmUp, Func<int> Loads) Create(Action<AgentHarnessOptions>? configure = null)
    {
        var services = new ServiceCollection();
        var builder = services.AddAgentHarness().AddProvider("openai", p =>
        {
            p.BaseUrl = new Uri("https://openai.test/v1");
            p.ApiKey = "key-openai";
        });
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        builder.ConfigureHttpClient(b => b.ConfigurePrimaryHttpMessageHandler(() => new MockHttpMessageHandler()));
        var provider = services.BuildServiceProvider();
        var loads = 0;
        var warmUp = new HarnessWarmUp(provider, provider.GetRequiredService<IOptions<AgentHarnessOptions>>()) { LoadTokenizer = () => Interlocked.Increment(ref loads) };
        return (provider, warmUp, () => Volatile.Read(ref loads));
    }

    [Fact]
    public async Task StartAsync_TokenProvider_FetchesItsFirstTokenBeforeAnyCall()
    {
        var source = new AgentHarness.Tests.Support.FakeTokenSource(TimeProvider.System);
        var services = new ServiceCollection();
        services.AddAgentHarness()
            .AddProvider("azure", static p => p.BaseUrl = new Uri("https://contoso.openai.azure.com/openai/v1/"))
            .AddProviderTokenSource("azure", source);
        using var provider = services.BuildServiceProvider();
        var warmUp = new HarnessWarmUp(provider, provider.GetRequiredService<IOptions<AgentHarnessOptions>>()) { LoadTokenizer = static () => { } };

        await warmUp.StartAsync(Ct);
        await provider.GetRequiredService<AgentHarness.Routing.Internal.ProviderRegistry>().FindProvider("azure")!.Tokens!.Fetching;

        Assert.Equal(1, source.Fetches);
    }

    [Fact]
    public async Task StartAsync_NoBudgetRule_DoesNotLoadTheTokenizer()
    {
        var (services, warmUp, loads) = Create();
        using (services)
        {
            await warmUp.StartAsync(Ct);

            Assert.Equal(0, loads());
        }
    }

    [Fact]
    public async Task StartAsync_BudgetRule_LoadsTheTokenizer()
    {
        var (services, warmUp, loads) = Create(static o => o.Budgets["daily"] = new BudgetRuleOptions { Dimension = "global", Window = BudgetWindow.Day, LimitUsd = 5m });
        using (services)
        {
            await warmUp.StartAsync(Ct);

            Assert.Equal(1, loads());
        }
    }

    [Fact]
    public async Task StartAsync_InvalidOptions_FailsTheStartNamingTheSetting()
    {
        var (services, warmUp, _) = Create(static o => o.Providers["openai"].AttemptTimeout = TimeSpan.Zero);
        using (services)
        {
            var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => warmUp.StartAsync(Ct));

            Assert.Contains("AttemptTimeout", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void AddAgentHarness_CalledTwice_RegistersOneWarmUp()
    {
        var services = new ServiceCollection();
        services.AddAgentHarness();
        services.AddAgentHarness();

        Assert.Single(services, static d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(HarnessWarmUp));
    }
}
