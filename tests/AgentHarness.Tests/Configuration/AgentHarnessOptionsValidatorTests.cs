using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AgentHarness.Tests.Configuration;

public sealed class AgentHarnessOptionsValidatorTests
{
    private static OptionsValidationException Fails(Action<IAgentHarnessBuilder> configure)
    {
        var services = new ServiceCollection();
        configure(services.AddAgentHarness());
        using var provider = services.BuildServiceProvider();
        return Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value);
    }

    private static AgentHarnessOptions Bind(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddAgentHarness(configuration.GetSection("AgentHarness"));
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value;
    }

    [Fact]
    public void Validate_ResponseCacheBadSettings_NamesEachSettingAndItsValue()
    {
        var ex = Fails(b => b.Configure(static o =>
        {
            o.ResponseCache.TimeToLive = TimeSpan.Zero;
            o.ResponseCache.MaxEntryBytes = 0;
            o.ResponseCache.Models["policy/classify"] = new ResponseCacheModelOptions { TimeToLive = TimeSpan.FromSeconds(-1) };
        }));

        Assert.Contains("AgentHarness:ResponseCache:TimeToLive must be greater than zero; got 00:00:00.", ex.Message, StringComparison.Ordinal);
        Assert.Contains("AgentHarness:ResponseCache:MaxEntryBytes must be greater than zero; got 0.", ex.Message, StringComparison.Ordinal);
        Assert.Contains("AgentHarness:ResponseCache:Models:policy/classify:TimeToLive must be greater than zero; got -00:00:01.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ResponseCacheScopeByBlankEntryFromConfiguration_NamesTheValueNotAnIndexTheConfigurationDoesNotHave()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AgentHarness:ResponseCache:ScopeBy:0"] = "tenant",
            ["AgentHarness:ResponseCache:ScopeBy:1"] = " ",
        }).Build();
        var services = new ServiceCollection();
        services.AddAgentHarness(configuration.GetSection("AgentHarness"));
        using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value);

        Assert.Contains("AgentHarness:ResponseCache:ScopeBy has an entry ' ' that names no run metadata key", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ScopeBy:3", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ResponseCacheLocalTimeToLiveNotPositive_NamesTheSettingAndTheValue()
    {
        var ex = Fails(b => b.Configure(static o => o.ResponseCache.LocalTimeToLive = TimeSpan.FromSeconds(-5)));

        Assert.Contains("AgentHarness:ResponseCache:LocalTimeToLive must be greater than zero and at most 1.00:00:00; got -00:00:05.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_ResponseCacheSection_SetsModelsAndScope()
    {
        var options = Bind(new Dictionary<string, string?>
        {
            ["AgentHarness:ResponseCache:TimeToLive"] = "00:10:00",
            ["AgentHarness:ResponseCache:Models:policy/classify:Enabled"] = "true",
            ["AgentHarness:ResponseCache:Models:policy/classify:TimeToLive"] = "1.00:00:00",
        });

        Assert.Equal(TimeSpan.FromMinutes(10), options.ResponseCache.TimeToLive);
        Assert.Equal((true, TimeSpan.FromDays(1)), (options.ResponseCache.Models["policy/classify"].Enabled, options.ResponseCache.Models["policy/classify"].TimeToLive));
    }

    [Fact]
    public void Validate_TelemetryMetadataAttributeNotAKey_NamesTheSettingAndTheValue()
    {
        var ex = Fails(b => b.Configure(static o => o.Telemetry.MetadataAttributes.Add("pr number")));

        Assert.Contains("AgentHarness:Telemetry:MetadataAttributes:0 is 'pr number', which cannot be a run metadata key", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_TelemetrySection_SetsContentCaptureAndMetadataAttributes()
    {
        var options = Bind(new()
        {
            ["AgentHarness:Telemetry:CaptureMessageContent"] = "true",
            ["AgentHarness:Telemetry:MetadataAttributes:0"] = "branch",
            ["AgentHarness:Telemetry:MetadataAttributes:1"] = "Ticket",
        });

        Assert.True(options.Telemetry.CaptureMessageContent);
        Assert.Equal(["branch", "Ticket"], options.Telemetry.MetadataAttributes);
    }

    [Fact]
    public void Validate_MissingBaseUrl_NamesTheSetting()
    {
        var ex = Fails(b => b.AddProvider("openai", p => p.ApiKey = "k"));

        Assert.Contains("AgentHarness:Providers:openai:BaseUrl is missing", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_PlainHttpToRemoteHost_NamesTheSettingAndTheValue()
    {
        var ex = Fails(b => b.AddProvider("openai", p => { p.BaseUrl = new Uri("http://api.example.com/v1"); p.ApiKey = "k"; }));

        Assert.Contains("AgentHarness:Providers:openai:BaseUrl must use https", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'http://api.example.com/v1'", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080/v1")]
    [InlineData("http://localhost:11434/v1")]
    [InlineData("http://[::1]:8080/v1")]
    public void Validate_PlainHttpToLoopback_IsAllowed(string url)
    {
        var options = Bind(new()
        {
            ["AgentHarness:Providers:local:BaseUrl"] = url,
            ["AgentHarness:Providers:local:RequiresApiKey"] = "false",
        });

        Assert.Equal(new Uri(url), options.Providers["local"].BaseUrl);
    }

    [Fact]
    public void Validate_EmptyKey_NamesTheSetting()
    {
        var ex = Fails(b => b.AddProvider("openai", p => p.BaseUrl = new Uri("https://api.openai.com/v1")));

        Assert.Contains("AgentHarness:Providers:openai:ApiKey is empty", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_EmptyKeyWithUnsetEnvironmentVariable_NamesTheVariable()
    {
        var ex = Fails(b => b.AddProvider("requesty", p =>
        {
            p.BaseUrl = new Uri("https://router.example/v1");
            p.ApiKeyEnvironmentVariable = "AGENTHARNESS_TEST_UNSET_KEY_7F3A";
        }));

        Assert.Contains("environment variable AGENTHARNESS_TEST_UNSET_KEY_7F3A", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_KeyFromNamedEnvironmentVariable_IsUsed()
    {
        const string Variable = "AGENTHARNESS_TEST_KEY_5C21";
        Environment.SetEnvironmentVariable(Variable, "secret-from-env");
        try
        {
            var options = Bind(new()
            {
                ["AgentHarness:Providers:requesty:BaseUrl"] = "https://router.example/v1",
                ["AgentHarness:Providers:requesty:ApiKeyEnvironmentVariable"] = Variable,
            });

            Assert.Equal("secret-from-env", options.Providers["requesty"].ApiKey);
        }
        finally
        {
            Environment.SetEnvironmentVariable(Variable, null);
        }
    }

    [Fact]
    public void Validate_KeyWithControlCharacter_RefusedWithoutShowingTheKey()
    {
        var ex = Fails(b => b.AddProvider("openai", p => { p.BaseUrl = new Uri("https://api.openai.com/v1"); p.ApiKey = "sk-secret\r\nX: y"; }));

        Assert.Contains("AgentHarness:Providers:openai:ApiKey contains a character", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-secret", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddProvider_SameNameTwice_ThrowsNamingIt()
    {
        var builder = new ServiceCollection().AddAgentHarness();
        builder.AddProvider("openai", _ => { });

        var ex = Assert.Throws<ArgumentException>(() => builder.AddProvider("OpenAI", _ => { }));

        Assert.Contains("'OpenAI'", ex.Message, StringComparison.Ordinal);
        Assert.Equal("name", ex.ParamName);
    }

    [Theory]
    [InlineData("policy")]
    [InlineData("a/b")]
    public void AddProvider_ReservedOrSlashedName_Throws(string name)
    {
        var builder = new ServiceCollection().AddAgentHarness();

        Assert.Throws<ArgumentException>(() => builder.AddProvider(name, _ => { }));
    }

    [Fact]
    public void Validate_TwoGatewaysWithoutDefault_AsksToNameOne()
    {
        var ex = Fails(b => b
            .AddProvider("requesty", p => { p.BaseUrl = new Uri("https://r.example/v1"); p.ApiKey = "k"; p.IsGateway = true; })
            .AddProvider("litellm", p => { p.BaseUrl = new Uri("https://l.example/v1"); p.ApiKey = "k"; p.IsGateway = true; }));

        Assert.Contains("AgentHarness:DefaultGateway is not set and several providers are gateways", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_UnknownDefaultProvider_NamesTheValue()
    {
        var ex = Fails(b => b.Configure(o => o.DefaultProvider = "azure"));

        Assert.Contains("AgentHarness:DefaultProvider is 'azure'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_PrefixOnDirectProviderAndBadTimeouts_AllReported()
    {
        var ex = Fails(b => b.AddProvider("openai", p =>
        {
            p.BaseUrl = new Uri("https://api.openai.com/v1");
            p.ApiKey = "k";
            p.MetadataHeaderPrefix = "X-Requesty-";
            p.AttemptTimeout = TimeSpan.FromMinutes(10);
            p.TotalTimeout = TimeSpan.FromMinutes(1);
            p.MaxRetries = 11;
        }));

        Assert.Contains("AgentHarness:Providers:openai:MetadataHeaderPrefix is 'X-Requesty-' but", ex.Message, StringComparison.Ordinal);
        Assert.Contains("AgentHarness:Providers:openai:AttemptTimeout (00:10:00) must not exceed", ex.Message, StringComparison.Ordinal);
        Assert.Contains("AgentHarness:Providers:openai:MaxRetries must be between 0 and 10; got 11", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_InvalidHeaderPrefix_Refused()
    {
        var ex = Fails(b => b.AddProvider("gw", p =>
        {
            p.BaseUrl = new Uri("https://gw.example/v1");
            p.ApiKey = "k";
            p.IsGateway = true;
            p.MetadataHeaderPrefix = "X Gw:";
        }));

        Assert.Contains("MetadataHeaderPrefix 'X Gw:' is not a valid metadata header prefix", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_FromConfigurationSection_MessagesUseTheSectionPath()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Llm:Gateway:Providers:requesty:ApiKey"] = "k",
        }).Build();
        var services = new ServiceCollection();
        services.AddAgentHarness(configuration.GetSection("Llm:Gateway"));
        using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IAgentHarness>());

        Assert.Contains("Llm:Gateway:Providers:requesty:BaseUrl is missing", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_FullProviderSection_BindsEverySetting()
    {
        var options = Bind(new()
        {
            ["AgentHarness:DefaultProvider"] = "openai",
            ["AgentHarness:UsageLedgerCapacity"] = "50",
            ["AgentHarness:Providers:openai:BaseUrl"] = "https://api.openai.com/v1",
            ["AgentHarness:Providers:openai:ApiKey"] = "k1",
            ["AgentHarness:Providers:requesty:BaseUrl"] = "https://router.example/v1",
            ["AgentHarness:Providers:requesty:ApiKey"] = "k2",
            ["AgentHarness:Providers:requesty:IsGateway"] = "true",
            ["AgentHarness:Providers:requesty:MetadataHeaderPrefix"] = "X-Requesty-",
            ["AgentHarness:Providers:requesty:AttemptTimeout"] = "00:00:30",
            ["AgentHarness:Providers:requesty:MaxRetries"] = "4",
        });

        Assert.Equal(("openai", 50), (options.DefaultProvider, options.UsageLedgerCapacity));
        var requesty = options.Providers["REQUESTY"];
        Assert.True(requesty.IsGateway);
        Assert.Equal(("X-Requesty-", 4, TimeSpan.FromSeconds(30)), (requesty.MetadataHeaderPrefix, requesty.MaxRetries, requesty.AttemptTimeout));
    }

    [Theory]
    [InlineData("https://x.example/openai/v1?api-key=sk-secret-123")]
    [InlineData("https://user:sk-secret-123@x.example/v1")]
    public void Validate_CredentialInBaseUrl_RefusedWithoutShowingIt(string url)
    {
        var ex = Fails(b => b.AddProvider("azure", p => { p.BaseUrl = new Uri(url); p.ApiKey = "k"; }));

        Assert.Contains("AgentHarness:Providers:azure:BaseUrl must not carry user information, a query or a fragment", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-secret-123", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Au", "must end with '-'")]
    [InlineData("X-Requesty", "must end with '-'")]
    [InlineData("Content-", "standard HTTP headers")]
    [InlineData("Proxy-", "standard HTTP headers")]
    public void Validate_PrefixThatCouldFormStandardHeaders_Refused(string prefix, string problem)
    {
        var ex = Fails(b => b.AddProvider("gw", p =>
        {
            p.BaseUrl = new Uri("https://gw.example/v1");
            p.ApiKey = "k";
            p.IsGateway = true;
            p.MetadataHeaderPrefix = prefix;
        }));

        Assert.Contains($"MetadataHeaderPrefix '{prefix}' is not a valid metadata header prefix", ex.Message, StringComparison.Ordinal);
        Assert.Contains(problem, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_AttemptTimeoutBelowTenMilliseconds_RefusedAtValidation()
    {
        var ex = Fails(b => b.AddProvider("openai", p =>
        {
            p.BaseUrl = new Uri("https://api.openai.com/v1");
            p.ApiKey = "k";
            p.AttemptTimeout = TimeSpan.FromMilliseconds(5);
        }));

        Assert.Contains("AgentHarness:Providers:openai:AttemptTimeout must be between 00:00:00.010 and 1.00:00:00; got 00:00:00.0050000", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SchemelessBaseUrlWithKeyInQuery_NoMessageShowsTheQuery()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AgentHarness:Providers:gw:BaseUrl"] = "api.example.com/v1?api_key=sk-secret-123456",
            ["AgentHarness:Providers:gw:ApiKey"] = "k",
            ["AgentHarness:Providers:gw:IsGateway"] = "true",
            ["AgentHarness:Providers:gw:MetadataHeaderPrefix"] = "X-",
            ["AgentHarness:Providers:gw:MaxRetries"] = "11",
        }).Build();
        var services = new ServiceCollection();
        services.AddAgentHarness(configuration.GetSection("AgentHarness"));
        using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<AgentHarnessOptions>>().Value);

        Assert.Contains("AgentHarness:Providers:gw:BaseUrl must be an absolute URL, for example https://api.openai.com/v1; got 'api.example.com/v1' (any query or user information left out).", ex.Failures);
        Assert.DoesNotContain("secret", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_KeyPastedIntoAnotherSetting_RemovedFromEveryMessage()
    {
        const string Key = "sk-live-4f9a7c2e81d6";
        var ex = Fails(b => b
            .AddProvider("openai", p => { p.BaseUrl = new Uri("https://api.openai.com/v1"); p.ApiKey = Key; })
            .Configure(o => o.DefaultProvider = Key));

        Assert.Contains("AgentHarness:DefaultProvider is '[key removed]', which is not a configured provider (configured: openai).", ex.Failures);
        Assert.DoesNotContain(Key, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("X-")]
    [InlineData("A-")]
    [InlineData("X-A-")]
    [InlineData("Requesty-")]
    [InlineData("X--")]
    [InlineData("X-Re.q-")]
    public void Validate_PrefixThatNamesNoVendor_RefusedStatingTheRule(string prefix)
    {
        var ex = Fails(b => b.AddProvider("gw", p =>
        {
            p.BaseUrl = new Uri("https://gw.example/v1");
            p.ApiKey = "k";
            p.IsGateway = true;
            p.MetadataHeaderPrefix = prefix;
        }));

        Assert.Contains(
            $"AgentHarness:Providers:gw:MetadataHeaderPrefix '{prefix}' is not a valid metadata header prefix: a prefix is X-, a vendor name of at least two letters or digits, and '-' (more segments may follow, each ending in '-'), for example X-Requesty-, so that no metadata name can form a standard header.",
            ex.Failures);
    }

    [Theory]
    [InlineData("X-Api-")]
    [InlineData("x-forwarded-")]
    [InlineData("X-Real-")]
    [InlineData("X-Stainless-")]
    public void Validate_PrefixOfWidelyUsedHeaders_Refused(string prefix)
    {
        var ex = Fails(b => b.AddProvider("gw", p =>
        {
            p.BaseUrl = new Uri("https://gw.example/v1");
            p.ApiKey = "k";
            p.IsGateway = true;
            p.MetadataHeaderPrefix = prefix;
        }));

        Assert.Contains(ex.Failures, f => f.StartsWith($"AgentHarness:Providers:gw:MetadataHeaderPrefix '{prefix}' is not a valid metadata header prefix: headers starting with '{prefix[..^1]}-' are widely used", StringComparison.OrdinalIgnoreCase));
    }

    [Theory]
    [InlineData("X-Requesty-")]
    [InlineData("x-portkey-")]
    [InlineData("X-Acme-Meta-")]
    [InlineData("X-AI-")]
    public void Validate_PrefixThatNamesAVendor_Accepted(string prefix)
    {
        var options = Bind(new()
        {
            ["AgentHarness:Providers:gw:BaseUrl"] = "https://gw.example/v1",
            ["AgentHarness:Providers:gw:ApiKey"] = "k",
            ["AgentHarness:Providers:gw:IsGateway"] = "true",
            ["AgentHarness:Providers:gw:MetadataHeaderPrefix"] = prefix,
        });

        Assert.Equal(prefix, options.Providers["gw"].MetadataHeaderPrefix);
    }

    [Fact]
    public void Validate_UsageLedgerCapacityAboveTheMaximum_Refused()
    {
        var ex = Fails(b => b.Configure(o => o.UsageLedgerCapacity = int.MaxValue));

        Assert.Contains("AgentHarness:UsageLedgerCapacity must be between 1 and 1000000; got 2147483647.", ex.Failures);
    }

    [Fact]
    public void Validate_UsageLedgerCapacityAtTheMaximum_Accepted()
    {
        var options = Bind(new() { ["AgentHarness:UsageLedgerCapacity"] = "1000000" });

        Assert.Equal(1_000_000, options.UsageLedgerCapacity);
    }

    [Theory]
    [InlineData(1023, "AgentHarness:MaxResponseBytes must be between 1024 and 1073741824; got 1023.")]
    [InlineData(1073741825, "AgentHarness:MaxResponseBytes must be between 1024 and 1073741824; got 1073741825.")]
    public void Validate_MaxResponseBytesOutOfRange_NamesTheSettingAndTheValue(int value, string message)
    {
        var ex = Fails(b => b.Configure(o => o.MaxResponseBytes = value));

        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, "AgentHarness:MaxStreamEventBytes must be between 1024 and 1073741824; got 0.")]
    [InlineData(-5, "AgentHarness:MaxStreamEventBytes must be between 1024 and 1073741824; got -5.")]
    public void Validate_MaxStreamEventBytesOutOfRange_NamesTheSettingAndTheValue(int value, string message)
    {
        var ex = Fails(b => b.Configure(o => o.MaxStreamEventBytes = value));

        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_BodyLimits_DefaultsAndConfiguredValues()
    {
        var defaults = Bind([]);
        var configured = Bind(new()
        {
            ["AgentHarness:MaxResponseBytes"] = "1048576",
            ["AgentHarness:MaxStreamEventBytes"] = "65536",
        });

        Assert.Equal((32 * 1024 * 1024, 4 * 1024 * 1024), (defaults.MaxResponseBytes, defaults.MaxStreamEventBytes));
        Assert.Equal((1_048_576, 65_536), (configured.MaxResponseBytes, configured.MaxStreamEventBytes));
    }
}
