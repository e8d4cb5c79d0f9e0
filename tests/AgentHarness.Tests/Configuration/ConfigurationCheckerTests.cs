using System.Text;
using AgentHarness.Sqlite;
using AgentHarness.Testing;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AgentHarness.Tests.Configuration;

/// <summary>
/// Configuration that the binder would drop in silence (a bad value inside a dictionary or list
/// entry, a key that names no setting) fails at start instead, through every section binding.
/// </summary>
public sealed class ConfigurationCheckerTests
{
    /// <summary>A valid harness: a gateway, a direct provider, a policy and a budget, each entry complete.</summary>
    private static Dictionary<string, string?> Valid() => new()
    {
        ["AgentHarness:Providers:requesty:BaseUrl"] = "https://router.example/v1",
        ["AgentHarness:Providers:requesty:ApiKey"] = "key-requesty",
        ["AgentHarness:Providers:requesty:IsGateway"] = "true",
        ["AgentHarness:Providers:openai:BaseUrl"] = "https://api.openai.com/v1",
        ["AgentHarness:Providers:openai:ApiKey"] = "key-openai",
        ["AgentHarness:Providers:openai:AttemptTimeout"] = "00:00:30",
        ["AgentHarness:Providers:openai:MaxRetries"] = "2",
        ["AgentHarness:Policies:tools:Strategy"] = "Weighted",
        ["AgentHarness:Policies:tools:FallbackOn"] = "Transient, ContextWindow",
        ["AgentHarness:Policies:tools:Models:0:Model"] = "openai/gpt-4.1-nano",
        ["AgentHarness:Policies:tools:Models:0:Weight"] = "3",
        ["AgentHarness:Policies:tools:Models:1:Model"] = "openai/gpt-4.1-mini",
        ["AgentHarness:Budgets:per-customer-daily:Dimension"] = "customer",
        ["AgentHarness:Budgets:per-customer-daily:Window"] = "Day",
        ["AgentHarness:Budgets:per-customer-daily:LimitUsd"] = "1.5",
    };

    private static Dictionary<string, string?> With(params (string Key, string? Value)[] changes)
    {
        var settings = Valid();
        foreach (var (key, value) in changes)
        {
            settings[key] = value;
        }

        return settings;
    }

    private static ServiceProvider Build(Dictionary<string, string?> settings, Action<IConfiguration, IAgentHarnessBuilder>? more = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        var builder = services.AddAgentHarness(configuration.GetSection("AgentHarness"));
        more?.Invoke(configuration, builder);
        return services.BuildServiceProvider();
    }

    private static ServiceProvider BuildJson(string json, Action<IConfiguration, IAgentHarnessBuilder>? more = null)
    {
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        var services = new ServiceCollection();
        var builder = services.AddAgentHarness(configuration.GetSection("AgentHarness"));
        more?.Invoke(configuration, builder);
        return services.BuildServiceProvider();
    }

    private static OptionsValidationException Fails(Dictionary<string, string?> settings)
    {
        using var provider = Build(settings);
        return Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value);
    }

    private static AgentHarnessOptions Binds(Dictionary<string, string?> settings)
    {
        using var provider = Build(settings);
        return provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value;
    }

    // ---- The measured rows: each lost its entry and started ----

    [Fact]
    public void BindChecked_BudgetWindowNotAWindow_FailsNamingPathAndValue()
    {
        var ex = Fails(With(("AgentHarness:Budgets:per-customer-daily:Window", "Daily")));

        Assert.Contains("AgentHarness:Budgets:per-customer-daily:Window is 'Daily'; use Run, Hour, Day or Month.", ex.Failures);
    }

    [Theory]
    [InlineData("FitOutputToBudget", "yes")]
    [InlineData("MinFittedOutputTokens", "many")]
    [InlineData("MaxResponseBytes", "32MB")]
    [InlineData("MaxStreamEventBytes", "4 MiB")]
    public void BindChecked_NewLimitSettingNotConvertible_FailsNamingPathAndValue(string setting, string value)
    {
        var ex = Fails(With(($"AgentHarness:{setting}", value)));

        Assert.Contains(ex.Failures, f => f.StartsWith($"AgentHarness:{setting} is '{value}';", StringComparison.Ordinal));
    }

    [Fact]
    public void BindChecked_NewSettingMisspelt_FailsNamingTheSetting()
    {
        var ex = Fails(With(("AgentHarness:FitOutputToBuget", "false")));

        Assert.Contains(ex.Failures, static f => f.Contains("AgentHarness:FitOutputToBuget is not a setting; did you mean FitOutputToBudget?", StringComparison.Ordinal));
    }

    [Fact]
    public void BindChecked_BudgetLimitWithDecimalComma_FailsNamingPathAndValue()
    {
        var ex = Fails(With(("AgentHarness:Budgets:per-customer-daily:LimitUsd", "1,5")));

        Assert.Contains("AgentHarness:Budgets:per-customer-daily:LimitUsd is '1,5'; use a number with '.' for decimals and no thousands separator, for example 1.5.", ex.Failures);
    }

    [Fact]
    public void BindChecked_BudgetLimitBeyondDecimalRange_SaysTheRangeNotTheFormat()
    {
        var ex = Fails(With(("AgentHarness:Budgets:per-customer-daily:LimitUsd", "1e30")));

        Assert.Contains("AgentHarness:Budgets:per-customer-daily:LimitUsd is '1e30'; use a number from -79228162514264337593543950335 to 79228162514264337593543950335.", ex.Failures);
    }

    [Fact]
    public void BindChecked_ProviderAttemptTimeoutWithUnit_FailsNamingPathAndValue()
    {
        var ex = Fails(With(("AgentHarness:Providers:openai:AttemptTimeout", "30s")));

        Assert.Contains("AgentHarness:Providers:openai:AttemptTimeout is '30s'; use a time span as [d.]hh:mm:ss, for example 00:00:30 for 30 seconds or 1.00:00:00 for a day.", ex.Failures);
    }

    [Fact]
    public void BindChecked_ProviderMaxRetriesInWords_FailsNamingPathAndValue()
    {
        var ex = Fails(With(("AgentHarness:Providers:openai:MaxRetries", "two")));

        Assert.Contains("AgentHarness:Providers:openai:MaxRetries is 'two'; use a whole number from -2147483648 to 2147483647, for example 3.", ex.Failures);
    }

    [Fact]
    public void BindChecked_PolicyStrategyMisspelt_FailsNamingPathAndValue()
    {
        var ex = Fails(With(("AgentHarness:Policies:tools:Strategy", "Fallbak")));

        Assert.Contains("AgentHarness:Policies:tools:Strategy is 'Fallbak'; use Fallback, Weighted, RoundRobin, LowestLatency or LowestCost.", ex.Failures);
    }

    [Fact]
    public void BindChecked_PolicyFallbackOnWithMisspeltFlag_FailsNamingTheFlag()
    {
        var ex = Fails(With(("AgentHarness:Policies:tools:FallbackOn", "Transient, ContextWindw")));

        var failure = Assert.Single(ex.Failures);
        Assert.StartsWith("AgentHarness:Policies:tools:FallbackOn is 'Transient, ContextWindw'; use one or more of None, Transient, ContextWindow,", failure, StringComparison.Ordinal);
        Assert.EndsWith("separated by commas ('ContextWindw' is not one; did you mean ContextWindow?).", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void BindChecked_PolicyMemberWeightNotANumber_FailsInsteadOfDroppingTheMember()
    {
        var ex = Fails(With(("AgentHarness:Policies:tools:Models:0:Weight", "3x")));

        Assert.Contains("AgentHarness:Policies:tools:Models:0:Weight is '3x'; use a number with '.' for decimals and no thousands separator, for example 1.5.", ex.Failures);
    }

    [Fact]
    public void BindChecked_EnumNumberThatNamesNoValue_Fails()
    {
        var ex = Fails(With(("AgentHarness:Policies:tools:Strategy", "9")));

        Assert.Contains("AgentHarness:Policies:tools:Strategy is '9'; use Fallback, Weighted, RoundRobin, LowestLatency or LowestCost.", ex.Failures);
    }

    [Fact]
    public void BindChecked_ProblemsInSeveralSections_AllReportedInOneException()
    {
        var ex = Fails(With(
            ("AgentHarness:Budgets:per-customer-daily:Window", "Daily"),
            ("AgentHarness:Providers:openai:MaxRetries", "two"),
            ("AgentHarness:Policies:tools:Models:0:Weight", "3x"),
            ("AgentHarness:Catalog:Models:openai/gpt-4.1:ContextWindow", "1M"),
            ("AgentHarness:FailuresBeforeCooldown", "three")));

        Assert.Contains(ex.Failures, f => f.StartsWith("AgentHarness:Budgets:per-customer-daily:Window is 'Daily'", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.StartsWith("AgentHarness:Providers:openai:MaxRetries is 'two'", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.StartsWith("AgentHarness:Policies:tools:Models:0:Weight is '3x'", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.StartsWith("AgentHarness:Catalog:Models:openai/gpt-4.1:ContextWindow is '1M'", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.StartsWith("AgentHarness:FailuresBeforeCooldown is 'three'", StringComparison.Ordinal));
    }

    [Fact]
    public void BindChecked_BadValue_FailsWhenTheApplicationStarts()
    {
        using var provider = Build(With(("AgentHarness:Budgets:per-customer-daily:Window", "Daily")));

        // What the host runs at start, for every ValidateOnStart registration.
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains("AgentHarness:Budgets:per-customer-daily:Window is 'Daily'; use Run, Hour, Day or Month.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BindChecked_SameSectionBoundTwice_ReportsEachProblemOnce()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(With(("AgentHarness:Budgets:per-customer-daily:Window", "Daily"))).Build();
        var services = new ServiceCollection();
        services.AddAgentHarness(configuration.GetSection("AgentHarness"));
        services.AddAgentHarness(configuration.GetSection("AgentHarness"));
        using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value);

        Assert.Single(ex.Failures, f => f.StartsWith("AgentHarness:Budgets:per-customer-daily:Window", StringComparison.Ordinal));
    }

    // ---- Keys that name no setting ----

    [Fact]
    public void BindChecked_MisspeltKeyInAnEntry_FailsSuggestingTheSetting()
    {
        var ex = Fails(With(("AgentHarness:Budgets:x:Limt", "5"), ("AgentHarness:Budgets:x:Vaule", "acme"), ("AgentHarness:Budgets:x:Dimension", "customer")));

        Assert.Contains("AgentHarness:Budgets:x:Limt is not a setting; did you mean LimitUsd?", ex.Failures);
        Assert.Contains("AgentHarness:Budgets:x:Vaule is not a setting; did you mean Value?", ex.Failures);
    }

    [Fact]
    public void BindChecked_KeyFarFromEverySetting_FailsListingTheSettings()
    {
        var ex = Fails(With(("AgentHarness:Providers:openai:Colour", "blue")));

        Assert.Contains(ex.Failures, f => f.StartsWith("AgentHarness:Providers:openai:Colour is not a setting; the settings here are BaseUrl, ApiKey,", StringComparison.Ordinal));
    }

    [Fact]
    public void BindChecked_MisspeltTopLevelKey_Fails()
    {
        var ex = Fails(With(("AgentHarness:DefaultGatway", "requesty")));

        Assert.Contains("AgentHarness:DefaultGatway is not a setting; did you mean DefaultGateway?", ex.Failures);
    }

    [Fact]
    public void BindChecked_MisspeltKeyWithAnApiKeyValue_NeverShowsTheKey()
    {
        var ex = Fails(With(
            ("AgentHarness:Providers:openai:ApiKey", "sk-secret-123456"),
            ("AgentHarness:Providers:openai:MaxRetries", "sk-secret-123456"),
            ("AgentHarness:Providers:requesty:ApiKy", "rq-secret-654321"),
            ("AgentHarness:Providers:requesty:AttemptTimeout", "rq-secret-654321")));

        Assert.Contains(ex.Failures, f => f.StartsWith("AgentHarness:Providers:openai:MaxRetries is '[key removed]'; use a whole number", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.StartsWith("AgentHarness:Providers:requesty:AttemptTimeout is '[key removed]'; use a time span", StringComparison.Ordinal));
        Assert.Contains("AgentHarness:Providers:requesty:ApiKy is not a setting; did you mean ApiKey?", ex.Failures);
        Assert.DoesNotContain("secret", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BindChecked_KeysInAnotherCase_Bind()
    {
        var options = Binds(new()
        {
            ["AgentHarness:PROVIDERS:openai:BASEURL"] = "https://api.openai.com/v1",
            ["AgentHarness:providers:openai:apikey"] = "key-openai",
            ["AgentHarness:providers:openai:maxretries"] = "4",
            ["AgentHarness:policies:tools:STRATEGY"] = "weighted",
            ["AgentHarness:Policies:tools:fallbackon"] = "transient, contextwindow",
            ["AgentHarness:Policies:tools:models:0:MODEL"] = "openai/gpt-4.1-nano",
            ["AgentHarness:Policies:tools:models:0:WEIGHT"] = "5",
            ["AgentHarness:BUDGETS:per-customer-daily:LIMITUSD"] = "2.5",
            ["AgentHarness:budgets:per-customer-daily:window"] = "day",
        });

        Assert.Equal(2.5m, options.Budgets["per-customer-daily"].LimitUsd);
        Assert.Equal(4, options.Providers["openai"].MaxRetries);
        Assert.Equal(5, options.Policies["tools"].Models[0].Weight);
        Assert.Equal(FallbackTriggers.Transient | FallbackTriggers.ContextWindow, options.Policies["tools"].FallbackOn);
    }

    [Fact]
    public void BindChecked_ValueWhereSettingsBelong_FailsWithoutShowingIt()
    {
        var settings = Valid();
        settings.Remove("AgentHarness:Budgets:per-customer-daily:Dimension");
        settings.Remove("AgentHarness:Budgets:per-customer-daily:Window");
        settings.Remove("AgentHarness:Budgets:per-customer-daily:LimitUsd");
        settings["AgentHarness:Budgets:per-customer-daily"] = "20";

        var ex = Fails(settings);

        Assert.Contains("AgentHarness:Budgets:per-customer-daily has a value, but it takes settings (Dimension, Value, Window, LimitUsd), not a single value.", ex.Failures);
    }

    [Fact]
    public void BindChecked_SectionUnderAValue_Fails()
    {
        var ex = Fails(With(("AgentHarness:Providers:openai:MaxRetries:Count", "2")));

        Assert.Contains("AgentHarness:Providers:openai:MaxRetries:Count is not a setting; AgentHarness:Providers:openai:MaxRetries takes a single value, not a section.", ex.Failures);
    }

    [Fact]
    public void BindChecked_EmptyNullableValue_BindsAsNotSet()
    {
        var options = Binds(With(("AgentHarness:Policies:tools:Models:0:ContextWindow", ""), ("AgentHarness:Catalog:Models:openai/gpt-4.1:ContextWindow", "1047576"), ("AgentHarness:Catalog:Models:openai/gpt-4.1:InputPerToken", "")));

        Assert.Null(options.Policies["tools"].Models[0].ContextWindow);
        Assert.Equal(1047576, options.Catalog.Models["openai/gpt-4.1"].ContextWindow);
        Assert.Null(options.Catalog.Models["openai/gpt-4.1"].InputPerToken);
    }

    [Fact]
    public void BindChecked_JsonNullForAValueType_FailsInsteadOfBindingTheTypesDefault()
    {
        // The binder would make the daily budget a per-run one (Window's first value) and the provider retry nothing.
        const string Json = """
            { "AgentHarness": {
                "Providers": { "openai": { "BaseUrl": "https://api.openai.com/v1", "ApiKey": "key-openai", "MaxRetries": null } },
                "Budgets": { "daily": { "Window": null, "LimitUsd": 5 } } } }
            """;
        using var provider = BuildJson(Json);

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value);

        Assert.Contains("AgentHarness:Budgets:daily:Window is null; use Run, Hour, Day or Month, or leave it out for its default.", ex.Failures);
        Assert.Contains("AgentHarness:Providers:openai:MaxRetries is null; use a whole number from -2147483648 to 2147483647, for example 3, or leave it out for its default.", ex.Failures);
    }

    [Fact]
    public void BindChecked_JsonNullsForOptionalSettingsAndEmptySections_Bind()
    {
        const string Json = """
            { "AgentHarness": { "DefaultProvider": null, "Catalog": {}, "Budgets": {}, "BudgetThresholds": [],
                "Providers": { "openai": { "BaseUrl": "https://api.openai.com/v1", "ApiKey": "key-openai", "MetadataHeaderPrefix": null } },
                "Policies": { "p": { "Models": [ { "Model": "openai/gpt-4.1", "ContextWindow": null } ] } } } }
            """;
        using var provider = BuildJson(Json);

        var options = provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value;

        Assert.Null(options.Policies["p"].Models[0].ContextWindow);
        Assert.Equal(2, options.Providers["openai"].MaxRetries);
    }

    [Fact]
    public void BindChecked_BadUrlValue_ShownWithoutQueryOrUserInformation()
    {
        var ex = Fails(With(("AgentHarness:Providers:openai:BaseUrl", "https://user:sk-secret-123456@[bad/v1?api_key=sk-secret-123456")));

        Assert.Contains(ex.Failures, f => f.StartsWith("AgentHarness:Providers:openai:BaseUrl is 'https://[bad/v1'; use a URL", StringComparison.Ordinal));
        Assert.DoesNotContain("sk-secret-123456", ex.Message, StringComparison.Ordinal);
    }

    // ---- Options set in code are not checked; the environment still fills keys ----

    [Fact]
    public void BindChecked_ApiKeyFromEnvironmentWithBoundSection_StillFillsTheKey()
    {
        const string Variable = "AGENTHARNESS_TEST_CHECKED_KEY_5B21";
        Environment.SetEnvironmentVariable(Variable, "key-from-environment");
        try
        {
            var settings = Valid();
            settings.Remove("AgentHarness:Providers:openai:ApiKey");
            settings["AgentHarness:Providers:openai:ApiKeyEnvironmentVariable"] = Variable;

            var options = Binds(settings);

            Assert.Equal("key-from-environment", options.Providers["openai"].ApiKey);
        }
        finally
        {
            Environment.SetEnvironmentVariable(Variable, null);
        }
    }

    [Fact]
    public void BindChecked_SectionAndOptionsSetInCode_BothApply()
    {
        using var provider = Build(Valid(), (_, b) => b.Configure(o => o.UsageLedgerCapacity = 77));

        var options = provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value;

        Assert.Equal(77, options.UsageLedgerCapacity);
        Assert.Equal(2, options.Policies["tools"].Models.Count);
    }

    // ---- Other packages' sections ----

    [Fact]
    public void BindChecked_SqliteSectionInsideTheHarnessSection_CheckedByItsOwnOptions()
    {
        var settings = With(("AgentHarness:Sqlite:Path", "usage.db"), ("AgentHarness:Sqlite:BatchSize", "many"), ("AgentHarness:Sqlite:QueueCapasity", "10"));
        using var provider = Build(settings, (c, b) => b.AddSqliteUsageLedger(c.GetSection("AgentHarness:Sqlite")));

        // The harness's own options do not count the ledger's section as unknown.
        _ = provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value;
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<SqliteUsageLedgerOptions>>().Value);

        Assert.Contains("AgentHarness:Sqlite:BatchSize is 'many'; use a whole number from -2147483648 to 2147483647, for example 3.", ex.Failures);
        Assert.Contains("AgentHarness:Sqlite:QueueCapasity is not a setting; did you mean QueueCapacity?", ex.Failures);
    }

    [Fact]
    public void BindChecked_SqliteSectionNotBound_IsNotASettingOfTheHarness()
    {
        var ex = Fails(With(("AgentHarness:Sqlite:Path", "usage.db")));

        Assert.Contains(ex.Failures, f => f.StartsWith("AgentHarness:Sqlite is not a setting;", StringComparison.Ordinal));
    }

    [Fact]
    public void BindChecked_RequestyUsageSection_ChecksValuesAndKeys()
    {
        var settings = With(("RequestyUsage:QueryForm", "Json"), ("RequestyUsage:Provder", "requesty"));
        using var provider = Build(settings, (c, b) => b.AddRequestyUsageClient(c.GetSection("RequestyUsage")));

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<RequestyUsageOptions>>().Value);

        Assert.Contains("RequestyUsage:QueryForm is 'Json'; use JsonBody or QueryString.", ex.Failures);
        Assert.Contains("RequestyUsage:Provder is not a setting; did you mean Provider?", ex.Failures);
    }

    [Fact]
    public void BindChecked_ValidSqliteAndRequestySections_Bind()
    {
        var settings = With(
            ("AgentHarness:Sqlite:Path", "data/usage.db"),
            ("AgentHarness:Sqlite:QueueCapacity", "10000"),
            ("AgentHarness:Sqlite:BatchSize", "256"),
            ("RequestyUsage:BaseAddress", "https://api-v2.requesty.ai"),
            ("RequestyUsage:Provider", "requesty"),
            ("RequestyUsage:QueryForm", "QueryString"));
        using var provider = Build(settings, (c, b) =>
        {
            b.AddSqliteUsageLedger(c.GetSection("AgentHarness:Sqlite"));
            b.AddRequestyUsageClient(c.GetSection("RequestyUsage"));
        });

        provider.GetRequiredService<IStartupValidator>().Validate();

        Assert.Equal(256, provider.GetRequiredService<IOptions<SqliteUsageLedgerOptions>>().Value.BatchSize);
        Assert.Equal(RequestyQueryForm.QueryString, provider.GetRequiredService<IOptions<RequestyUsageOptions>>().Value.QueryForm);
    }

    // ---- No false positives ----

    [Fact]
    public void BindChecked_ValidConfiguration_BindsEveryEntry()
    {
        using var provider = Build(Valid());

        provider.GetRequiredService<IStartupValidator>().Validate();
        var options = provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value;

        Assert.Equal(TimeSpan.FromSeconds(30), options.Providers["openai"].AttemptTimeout);
        Assert.Equal(3, options.Policies["tools"].Models[0].Weight);
        Assert.Equal(FallbackTriggers.Transient | FallbackTriggers.ContextWindow, options.Policies["tools"].FallbackOn);
        Assert.Equal(1.5m, options.Budgets["per-customer-daily"].LimitUsd);
    }

    [Fact]
    public void BindChecked_SampleAppSettings_BindClean()
    {
        var json = File.ReadAllText(Path.Combine(Repository.Root, "samples", "CodeReviewAgent", "appsettings.json"));

        // As the sample runs without a key: its configuration on the offline sandbox.
        using var provider = BuildJson(json, static (_, b) => b.UseSandbox());

        provider.GetRequiredService<IStartupValidator>().Validate();

        Assert.Equal(5.00m, provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value.Budgets["per-agent-daily"].LimitUsd);
    }

    [Fact]
    public void BindChecked_ReadmeExamples_BindClean()
    {
        // The configuration examples of README.md, together in one file.
        const string Json = """
            {
              "AgentHarness": {
                "Providers": {
                  "requesty": {
                    "BaseUrl": "https://router.requesty.ai/v1",
                    "ApiKey": "key-requesty",
                    "ApiKeyEnvironmentVariable": "REQUESTY_API_KEY",
                    "IsGateway": true,
                    "MetadataHeaderPrefix": "X-Requesty-"
                  },
                  "openai": {
                    "BaseUrl": "https://api.openai.com/v1",
                    "ApiKey": "key-openai",
                    "ApiKeyEnvironmentVariable": "OPENAI_API_KEY"
                  }
                },
                "Policies": {
                  "claude-4": {
                    "Strategy": "Fallback",
                    "Models": [
                      { "Model": "anthropic/claude-sonnet-4-5", "ContextWindow": 200000 },
                      { "Model": "anthropic/claude-haiku-4-5", "ContextWindow": 200000 },
                      { "Model": "openai/gpt-4.1", "ContextWindow": 1047576 }
                    ],
                    "AttemptsPerModel": 3,
                    "FallbackOn": "Transient, ContextWindow, Authentication, Quota, ModelNotFound"
                  },
                  "classifier": {
                    "Strategy": "Weighted",
                    "Sticky": true,
                    "StickyKey": "customer",
                    "Models": [ { "Model": "openai/gpt-4.1-nano", "Weight": 3 }, { "Model": "google/gemini-2.5-flash-lite", "Weight": 1 } ]
                  }
                },
                "Sqlite": { "Path": "data/usage.db", "QueueCapacity": 10000, "BatchSize": 256 },
                "Catalog": {
                  "Models": {
                    "policy/claude-4": { "InputPerToken": 0.000003, "OutputPerToken": 0.000015, "CachedInputPerToken": 0.0000003, "MaxOutputTokens": 64000 },
                    "openai/gpt-4.1":  { "ContextWindow": 1047576 }
                  },
                  "UnpricedModels": "Refuse"
                },
                "Budgets": {
                  "per-customer-daily": { "Dimension": "customer", "Window": "Day", "LimitUsd": 20 },
                  "acme-monthly":       { "Dimension": "customer", "Value": "acme", "Window": "Month", "LimitUsd": 300 },
                  "per-run":            { "Dimension": "agent", "Value": "code-review-agent", "Window": "Run", "LimitUsd": 0.50 },
                  "everything":         { "Dimension": "global", "Window": "Day", "LimitUsd": 100 }
                },
                "BudgetThresholds": [ 0.5, 0.8, 1.0 ]
              }
            }
            """;
        using var provider = BuildJson(Json, (c, b) => b.AddSqliteUsageLedger(c.GetSection("AgentHarness:Sqlite")));

        provider.GetRequiredService<IStartupValidator>().Validate();
        var options = provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value;

        Assert.Equal(3, options.Policies["claude-4"].Models.Count);
        Assert.Equal(4, options.Budgets.Count);
        Assert.Equal([0.5, 0.8, 1.0], options.BudgetThresholds!);
        Assert.Equal("data/usage.db", provider.GetRequiredService<IOptions<SqliteUsageLedgerOptions>>().Value.Path);
    }
}
