using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AgentHarness.ReadmeTests.Support;

/// <summary>Binds a README JSON block through <c>AddAgentHarness</c> and starts the harness on it, as an application would.</summary>
internal static class HarnessConfiguration
{
    /// <summary>The section the harness binds.</summary>
    public const string Section = "AgentHarness";

    /// <summary>The section <c>AddSqliteUsageLedger</c> binds.</summary>
    public const string SqliteSection = "AgentHarness:Sqlite";

    /// <summary>The section <c>AddRedisBudgetStore</c> binds.</summary>
    public const string RedisSection = "AgentHarness:Redis";

    /// <summary>Gets a value indicating whether <paramref name="json"/> is a document whose root has an <c>AgentHarness</c> section.</summary>
    /// <exception cref="JsonException"><paramref name="json"/> is not a JSON document.</exception>
    public static bool IsHarnessConfiguration(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.ValueKind == JsonValueKind.Object
            && document.RootElement.EnumerateObject().Any(static p => p.Name.Equals(Section, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// Binds <paramref name="json"/> over <paramref name="baseJson"/> (the README's appsettings.json, of
    /// which the other blocks are parts) and starts the harness. Keys are not required: they come from
    /// the environment, and this checks the configuration, not the machine. A <c>Sqlite</c> section is
    /// bound by <c>AddSqliteUsageLedger</c> and a <c>Redis</c> section by <c>AddRedisBudgetStore</c>, as the README registers them,
    /// and providers with <c>"Authentication": "Token"</c> get a credential from <c>AddAzureCredential</c>.
    /// </summary>
    /// <exception cref="OptionsValidationException">A key names no setting, a value does not convert, or the options are invalid.</exception>
    public static void BindAndStart(string json, string? baseJson)
    {
        var builder = new ConfigurationBuilder();
        if (baseJson is not null)
        {
            builder.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(baseJson)));
        }

        var configuration = builder.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        var services = new ServiceCollection();
        var harness = services.AddAgentHarness(configuration.GetSection(Section));
        if (configuration.GetSection(SqliteSection).Exists())
        {
            harness.AddSqliteUsageLedger(configuration.GetSection(SqliteSection));
        }

        if (configuration.GetSection(RedisSection).Exists())
        {
            harness.AddRedisBudgetStore(configuration.GetSection(RedisSection));

            // The block's settings are validated as written; the harness then starts on a loopback
            // port nothing listens on (the store starts without its server), so no name is looked up.
            using (var check = services.BuildServiceProvider())
            {
                _ = check.GetRequiredService<IOptions<AgentHarness.Redis.RedisBudgetStoreOptions>>().Value;
            }

            services.PostConfigure<AgentHarness.Redis.RedisBudgetStoreOptions>(static o => o.ConnectionString = "127.0.0.1:1,abortConnect=false,connectTimeout=200");
        }

        if (configuration.GetSection(Section + ":Providers").GetChildren().Any(static p => string.Equals(p["Authentication"], "Token", StringComparison.OrdinalIgnoreCase)))
        {
            // Providers sent Entra ID tokens, as the README registers their credential (nothing is fetched at start here).
            harness.AddAzureCredential();
        }

        ReadmeContext.KeysNotRequired(services);
        using var provider = services.BuildServiceProvider();
        ReadmeContext.Start(provider);
    }
}
