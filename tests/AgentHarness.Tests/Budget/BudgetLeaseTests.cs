namespace AgentHarness.Tests.Budget;

public sealed class BudgetLeaseTests
{
    [Fact]
    public void From_NoProviders_DefaultTimeoutsPlusTheSettleMargin()
    {
        Assert.Equal(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(100) + TimeSpan.FromMinutes(1), BudgetLease.From(new AgentHarnessOptions()));
    }

    [Fact]
    public void From_ProvidersAndPolicies_LongestTotalPlusLongestSilencePlusMargin()
    {
        var options = new AgentHarnessOptions();
        options.Providers["a"] = new ProviderOptions { TotalTimeout = TimeSpan.FromSeconds(30), AttemptTimeout = TimeSpan.FromSeconds(10) };
        options.Providers["b"] = new ProviderOptions { TotalTimeout = TimeSpan.FromSeconds(20), AttemptTimeout = TimeSpan.FromSeconds(15) };
        options.Policies["p"] = new PolicyOptions { TotalTimeout = TimeSpan.FromSeconds(40), StreamIdleTimeout = TimeSpan.FromSeconds(5) };

        Assert.Equal(TimeSpan.FromSeconds(40 + 15 + 60), BudgetLease.From(options));
    }

    [Fact]
    public void From_HugeTimeouts_EachPartCappedAtADay()
    {
        var options = new AgentHarnessOptions();
        options.Providers["a"] = new ProviderOptions { TotalTimeout = TimeSpan.MaxValue, AttemptTimeout = TimeSpan.MaxValue };

        Assert.Equal(TimeSpan.FromDays(2) + BudgetLease.SettleMargin, BudgetLease.From(options));
    }
}
