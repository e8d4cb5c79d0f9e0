using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AgentHarness.Tests.Configuration;

/// <summary>Validation of the catalog and budget settings.</summary>
public sealed class CostOptionsValidationTests
{
    private static OptionsValidationException Fails(Action<AgentHarnessOptions> configure)
    {
        var services = new ServiceCollection();
        services.AddAgentHarness(configure);
        using var provider = services.BuildServiceProvider();
        return Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value);
    }

    private static void Succeeds(Action<AgentHarnessOptions> configure)
    {
        var services = new ServiceCollection();
        services.AddAgentHarness(configure);
        using var provider = services.BuildServiceProvider();
        _ = provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value;
    }

    [Fact]
    public void Validate_CatalogModelNotEmbeddedWithoutOutputPrice_NamesTheSettingAndShowsTheValues()
    {
        var ex = Fails(o => o.Catalog.Models["acme/model-x"] = new ModelPriceOptions { InputPerToken = 0.000003m });

        Assert.Contains("AgentHarness:Catalog:Models:acme/model-x is not in the embedded price table", ex.Message, StringComparison.Ordinal);
        Assert.Contains("InputPerToken=0.000003", ex.Message, StringComparison.Ordinal);
        Assert.Contains("OutputPerToken=(not set)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_CatalogModelNotEmbeddedWithoutEitherPrice_Refused()
    {
        var ex = Fails(o => o.Catalog.Models["acme/model-x"] = new ModelPriceOptions { ContextWindow = 8000 });

        Assert.Contains("AgentHarness:Catalog:Models:acme/model-x is not in the embedded price table", ex.Message, StringComparison.Ordinal);
        Assert.Contains("InputPerToken=(not set), OutputPerToken=(not set)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_EmbeddedModelWithOnlyALimit_Accepted()
    {
        Succeeds(o => o.Catalog.Models["openai/gpt-4.1"] = new ModelPriceOptions { ContextWindow = 500_000 });
    }

    [Fact]
    public void Validate_EmbeddedModelInOtherCase_NeedsNoPrices()
    {
        Succeeds(o => o.Catalog.Models["OpenAI/GPT-4.1"] = new ModelPriceOptions { MaxOutputTokens = 1000 });
    }

    [Theory]
    [InlineData("InputPerToken")]
    [InlineData("OutputPerToken")]
    [InlineData("CachedInputPerToken")]
    public void Validate_NegativePrice_NamesTheSettingAndTheValue(string setting)
    {
        var ex = Fails(o =>
        {
            var model = new ModelPriceOptions();
            switch (setting)
            {
                case "InputPerToken":
                    model.InputPerToken = -0.000001m;
                    break;
                case "OutputPerToken":
                    model.OutputPerToken = -0.000001m;
                    break;
                default:
                    model.CachedInputPerToken = -0.000001m;
                    break;
            }

            o.Catalog.Models["openai/gpt-4.1"] = model;
        });

        Assert.Contains($"AgentHarness:Catalog:Models:openai/gpt-4.1:{setting} must not be negative; got -0.000001.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ContextWindowZero_NamesTheSettingAndTheValue()
    {
        var ex = Fails(o => o.Catalog.Models["openai/gpt-4.1"] = new ModelPriceOptions { ContextWindow = 0 });

        Assert.Contains("AgentHarness:Catalog:Models:openai/gpt-4.1:ContextWindow must be greater than zero; got 0.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_MaxOutputTokensNegative_NamesTheSettingAndTheValue()
    {
        var ex = Fails(o => o.Catalog.Models["openai/gpt-4.1"] = new ModelPriceOptions { MaxOutputTokens = -5 });

        Assert.Contains("AgentHarness:Catalog:Models:openai/gpt-4.1:MaxOutputTokens must be greater than zero; got -5.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_DefaultMaxOutputTokensZero_NamesTheSettingAndTheValue()
    {
        var ex = Fails(o => o.Catalog.DefaultMaxOutputTokens = 0);

        Assert.Contains("AgentHarness:Catalog:DefaultMaxOutputTokens must be at least 1; got 0.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_UnknownUnpricedModelsValue_Refused()
    {
        var ex = Fails(o => o.Catalog.UnpricedModels = (UnpricedModelHandling)7);

        Assert.Contains("AgentHarness:Catalog:UnpricedModels must be Refuse or Allow; got 7.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SeveralProblems_AllReported()
    {
        var ex = Fails(o =>
        {
            o.Catalog.DefaultMaxOutputTokens = 0;
            o.Catalog.Models["openai/gpt-4.1"] = new ModelPriceOptions { ContextWindow = 0 };
            o.Budgets["daily"] = new BudgetRuleOptions();
        });

        Assert.Equal(3, ex.Failures.Count());
    }

    [Theory]
    [InlineData("0", "0")]
    [InlineData("-2.5", "-2.5")]
    public void Validate_BudgetLimitNotPositive_NamesTheSettingAndTheValue(string limit, string shown)
    {
        var ex = Fails(o => o.Budgets["daily"] = new BudgetRuleOptions { LimitUsd = decimal.Parse(limit, System.Globalization.CultureInfo.InvariantCulture) });

        Assert.Contains($"AgentHarness:Budgets:daily:LimitUsd must be greater than zero (US dollars); got {shown}.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_BudgetWithoutLimit_Refused()
    {
        var ex = Fails(o => o.Budgets["daily"] = new BudgetRuleOptions { Dimension = "customer" });

        Assert.Contains("AgentHarness:Budgets:daily:LimitUsd", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_UnknownDimension_NamesTheSettingAndTheValue()
    {
        var ex = Fails(o => o.Budgets["per-tenant"] = new BudgetRuleOptions { Dimension = "tenant", LimitUsd = 5m });

        Assert.Contains("AgentHarness:Budgets:per-tenant:Dimension is 'tenant'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("customer", ex.Message, StringComparison.Ordinal);
        Assert.Contains("extra.<name>", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("extra.")]
    [InlineData("extra.bad name")]
    [InlineData("extra.a:b")]
    [InlineData("extra.caf\u00e9")]
    public void Validate_ExtraDimensionWithInvalidHeaderName_Refused(string dimension)
    {
        var ex = Fails(o => o.Budgets["per-x"] = new BudgetRuleOptions { Dimension = dimension, LimitUsd = 5m });

        Assert.Contains($"AgentHarness:Budgets:per-x:Dimension is '{dimension}'", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("extra.region")]
    [InlineData("Extra.cost-center")]
    [InlineData("CUSTOMER")]
    [InlineData(" team ")]
    public void Validate_KnownOrExtraDimension_Accepted(string dimension)
    {
        Succeeds(o => o.Budgets["rule"] = new BudgetRuleOptions { Dimension = dimension, LimitUsd = 5m });
    }

    [Fact]
    public void Validate_ValueOnGlobalRule_Refused()
    {
        var ex = Fails(o => o.Budgets["all"] = new BudgetRuleOptions { Dimension = "global", Value = "acme", LimitUsd = 5m });

        Assert.Contains("AgentHarness:Budgets:all:Value is 'acme', but a global rule has no value to limit", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ValueOnDefaultDimension_Refused()
    {
        var ex = Fails(o => o.Budgets["all"] = new BudgetRuleOptions { Value = "acme", LimitUsd = 5m });

        Assert.Contains("AgentHarness:Budgets:all:Value is 'acme'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_EmptyValue_Refused()
    {
        var ex = Fails(o => o.Budgets["acme"] = new BudgetRuleOptions { Dimension = "customer", Value = string.Empty, LimitUsd = 5m });

        Assert.Contains("AgentHarness:Budgets:acme:Value is empty", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_UnknownWindow_Refused()
    {
        var ex = Fails(o => o.Budgets["daily"] = new BudgetRuleOptions { Window = (BudgetWindow)9, LimitUsd = 5m });

        Assert.Contains("AgentHarness:Budgets:daily:Window must be Run, Hour, Day or Month; got 9.", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a|b")]
    public void Validate_InvalidRuleName_Refused(string name)
    {
        var ex = Fails(o => o.Budgets[name] = new BudgetRuleOptions { LimitUsd = 5m });

        Assert.Contains($"AgentHarness:Budgets has a rule named '{name}'", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.0, "0")]
    [InlineData(1.5, "1.5")]
    [InlineData(-0.2, "-0.2")]
    public void Validate_ThresholdOutsideZeroToOne_NamesTheSettingAndTheValue(double threshold, string shown)
    {
        var ex = Fails(o => o.BudgetThresholds = [0.5, threshold]);

        Assert.Contains($"AgentHarness:BudgetThresholds must hold fractions of a limit greater than 0 and at most 1 (0.8 is 80%); got {shown}.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ThresholdNaN_Refused()
    {
        var ex = Fails(o => o.BudgetThresholds = [double.NaN]);

        Assert.Contains("AgentHarness:BudgetThresholds must hold fractions", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ThresholdsNull_AcceptedAsTheDefaults()
    {
        Succeeds(o => o.BudgetThresholds = null);
    }

    [Fact]
    public void Validate_ThresholdsEmptyOrExactlyOne_Accepted()
    {
        Succeeds(o => o.BudgetThresholds = []);
        Succeeds(o => o.BudgetThresholds = [1.0]);
    }

    [Fact]
    public void Validate_CustomSectionPath_NamedInMessages()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Llm:Harness:Budgets:daily:LimitUsd"] = "0",
        }).Build();
        var services = new ServiceCollection();
        services.AddAgentHarness(configuration.GetSection("Llm:Harness"));
        using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value);

        Assert.Contains("Llm:Harness:Budgets:daily:LimitUsd must be greater than zero", ex.Message, StringComparison.Ordinal);
    }

    private static readonly Dictionary<string, string?> FullConfiguration = new()
    {
        ["AgentHarness:Providers:requesty:BaseUrl"] = "https://router.example/v1",
        ["AgentHarness:Providers:requesty:ApiKey"] = "key-requesty",
        ["AgentHarness:Providers:requesty:IsGateway"] = "true",
        ["AgentHarness:Providers:requesty:MetadataHeaderPrefix"] = "X-Requesty-",
        ["AgentHarness:Policies:claude-4:Models:0:Model"] = "anthropic/claude-sonnet-4-5",
        ["AgentHarness:Policies:claude-4:Models:1:Model"] = "anthropic/claude-sonnet-4",
        ["AgentHarness:Catalog:UnpricedModels"] = "Refuse",
        ["AgentHarness:Catalog:DefaultMaxOutputTokens"] = "8192",
        ["AgentHarness:Catalog:Models:policy/claude-4:InputPerToken"] = "0.000003",
        ["AgentHarness:Catalog:Models:policy/claude-4:OutputPerToken"] = "0.000015",
        ["AgentHarness:Catalog:Models:policy/claude-4:CachedInputPerToken"] = "0.0000003",
        ["AgentHarness:Catalog:Models:policy/claude-4:ContextWindow"] = "200000",
        ["AgentHarness:Catalog:Models:policy/claude-4:MaxOutputTokens"] = "64000",
        ["AgentHarness:Catalog:Models:openai/gpt-4.1-nano:OutputPerToken"] = "0.00000045",
        ["AgentHarness:Budgets:acme-monthly:Dimension"] = "customer",
        ["AgentHarness:Budgets:acme-monthly:Value"] = "acme",
        ["AgentHarness:Budgets:acme-monthly:Window"] = "Month",
        ["AgentHarness:Budgets:acme-monthly:LimitUsd"] = "250.75",
        ["AgentHarness:Budgets:per-agent:Dimension"] = "agent",
        ["AgentHarness:Budgets:per-agent:Window"] = "Day",
        ["AgentHarness:Budgets:per-agent:LimitUsd"] = "0.0001",
        ["AgentHarness:Budgets:everything:LimitUsd"] = "1000",
    };

    private static ServiceProvider BuildFull(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddAgentHarness(configuration.GetSection("AgentHarness"));
        return services.BuildServiceProvider();
    }

    [Fact]
    public void Validate_FullConfiguration_StartsAndBindsDecimalsExactly()
    {
        using var provider = BuildFull(FullConfiguration);

        var options = provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value;
        _ = provider.GetRequiredService<IAgentHarness>();

        var model = options.Catalog.Models["policy/claude-4"];
        Assert.Equal((0.000003m, 0.000015m, 0.0000003m, 200_000, 64_000), (model.InputPerToken, model.OutputPerToken, model.CachedInputPerToken, model.ContextWindow, model.MaxOutputTokens));
        Assert.Equal(8192, options.Catalog.DefaultMaxOutputTokens);
        Assert.Equal(UnpricedModelHandling.Refuse, options.Catalog.UnpricedModels);
        var acme = options.Budgets["acme-monthly"];
        Assert.Equal(("customer", "acme", BudgetWindow.Month, 250.75m), (acme.Dimension, acme.Value, acme.Window, acme.LimitUsd));
        Assert.Equal(0.0001m, options.Budgets["per-agent"].LimitUsd);
        var everything = options.Budgets["everything"];
        Assert.Equal(("global", null, BudgetWindow.Day, 1000m), (everything.Dimension, everything.Value, everything.Window, everything.LimitUsd));
    }

    [Fact]
    public void Validate_FullConfiguration_CatalogPricesTheConfiguredIds()
    {
        using var provider = BuildFull(FullConfiguration);

        var catalog = provider.GetRequiredService<IPriceCatalog>();

        Assert.True(catalog.TryGetPrice("policy/claude-4", out var policy));
        Assert.Equal((0.000003m, 0.000015m, 0.0000003m), (policy.InputPerToken, policy.OutputPerToken, policy.CachedInputPerToken));
        Assert.True(catalog.TryGetPrice("openai/gpt-4.1-nano", out var nano));
        Assert.Equal((0.0000001m, 0.00000045m), (nano.InputPerToken, nano.OutputPerToken));
    }

    [Fact]
    public void Validate_FullConfigurationStartupValidator_Passes()
    {
        using var provider = BuildFull(FullConfiguration);

        var validator = provider.GetService<IStartupValidator>();

        Assert.NotNull(validator);
        validator.Validate();
    }

    [Fact]
    public void Validate_ThresholdsFromConfiguration_ReplaceTheDefaults()
    {
        using var provider = BuildFull(new Dictionary<string, string?>(FullConfiguration)
        {
            ["AgentHarness:BudgetThresholds:0"] = "0.9",
        });

        var options = provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value;

        Assert.Equal([0.9], options.BudgetThresholds!);
    }

    [Fact]
    public void Validate_LimitBoundFromConfigurationAsZero_Refused()
    {
        using var provider = BuildFull(new Dictionary<string, string?>(FullConfiguration)
        {
            ["AgentHarness:Budgets:acme-monthly:LimitUsd"] = "0",
        });

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value);

        Assert.Contains("AgentHarness:Budgets:acme-monthly:LimitUsd must be greater than zero (US dollars); got 0.", ex.Message, StringComparison.Ordinal);
    }
}
