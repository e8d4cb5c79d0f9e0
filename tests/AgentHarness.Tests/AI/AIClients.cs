using AgentHarness.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace AgentHarness.Tests.AI;

/// <summary>
/// A harness on the sandbox with two direct providers and a local fallback policy, <c>policy/review</c>: its first
/// member (<c>mistral/mistral-large</c>) fails with a 503 and its second (<c>openai/gpt-4.1-mini</c>, priced by the
/// catalog) answers.
/// </summary>
internal static class AIClients
{
    public const string Policy = "policy/review";

    public static ServiceProvider Build(SandboxProvider sandbox, Action<IAgentHarnessBuilder> configure, Action<IServiceCollection>? services = null)
    {
        var collection = new ServiceCollection();
        collection.AddSingleton<TimeProvider>(new FakeTimeProvider(new DateTimeOffset(2026, 5, 1, 9, 0, 0, TimeSpan.Zero)));
        services?.Invoke(collection);
        var builder = collection.AddAgentHarness()
            .AddProvider("openai", static p => { p.BaseUrl = new Uri("https://openai.test/v1"); p.ApiKey = "key-openai"; p.MaxRetries = 0; })
            .AddProvider("mistral", static p => { p.BaseUrl = new Uri("https://mistral.test/v1"); p.ApiKey = "key-mistral"; p.MaxRetries = 0; })
            .Configure(static o =>
            {
                var policy = new PolicyOptions { AttemptsPerModel = 1 };
                policy.Models.Add(new PolicyMemberOptions { Model = "mistral/mistral-large" });
                policy.Models.Add(new PolicyMemberOptions { Model = "openai/gpt-4.1-mini" });
                o.Policies["review"] = policy;
                o.Catalog.Models["mistral/mistral-large"] = new ModelPriceOptions { InputPerToken = 0.000002m, OutputPerToken = 0.000006m };
            })
            .UseSandbox(sandbox);
        configure(builder);
        return collection.BuildServiceProvider();
    }

    /// <summary>Adds a gateway, <c>requesty</c>, which serves the ids of the providers that are not configured (<c>google/...</c>, <c>anthropic/...</c>).</summary>
    public static IAgentHarnessBuilder Gateway(IAgentHarnessBuilder builder) =>
        builder.AddProvider("requesty", static p => { p.BaseUrl = new Uri("https://gateway.test/v1"); p.ApiKey = "key-gateway"; p.IsGateway = true; p.MaxRetries = 0; });

    /// <summary>What a record's tokens cost at the catalog's price of a model id.</summary>
    public static decimal CatalogCost(IServiceProvider services, string model, UsageRecord record)
    {
        Assert.True(services.GetRequiredService<IPriceCatalog>().TryGetPrice(model, out var price));
        Assert.Equal(0, record.CachedInputTokens);
        return (record.InputTokens * price.InputPerToken) + (record.OutputTokens * price.OutputPerToken);
    }

    public static SandboxProvider FallbackSandbox(string answer = "Looks good.")
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("mistral/mistral-large").FailWith(503);
        sandbox.Model("openai/gpt-4.1-mini").AnswerAs("gpt-4.1-mini-2025-04-14").Reply(answer);
        return sandbox;
    }
}
