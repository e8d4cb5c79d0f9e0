using AgentHarness.Sqlite;
using AgentHarness.Configuration.Internal;
using AgentHarness.Sqlite.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentHarness;

/// <summary>Replaces the harness's in-memory usage ledger with the durable <see cref="SqliteUsageLedger"/>.</summary>
public static class SqliteUsageLedgerBuilderExtensions
{
    /// <summary>Keeps usage records in a SQLite file, with options bound from a configuration section, conventionally <c>AgentHarness:Sqlite</c>.</summary>
    /// <param name="builder">The builder returned by <c>AddAgentHarness</c>.</param>
    /// <param name="section">The section holding <see cref="SqliteUsageLedgerOptions"/>; at least its <c>Path</c>.</param>
    /// <returns>The builder, to chain calls.</returns>
    /// <remarks>A value in the section that does not convert, or a key that names no setting, fails when the application starts.</remarks>
    public static IAgentHarnessBuilder AddSqliteUsageLedger(this IAgentHarnessBuilder builder, IConfigurationSection section)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(section);
        Register(builder, section.Path);
        builder.Services.AddOptions<SqliteUsageLedgerOptions>().BindChecked(section);
        return builder;
    }

    /// <summary>Keeps usage records in a SQLite file, with options set by a delegate.</summary>
    /// <param name="builder">The builder returned by <c>AddAgentHarness</c>.</param>
    /// <param name="configure">Sets the options; at least <see cref="SqliteUsageLedgerOptions.Path"/>.</param>
    /// <returns>The builder, to chain calls.</returns>
    public static IAgentHarnessBuilder AddSqliteUsageLedger(this IAgentHarnessBuilder builder, Action<SqliteUsageLedgerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        Register(builder, SqliteUsageLedgerOptionsValidator.DefaultSectionPath);
        builder.Services.Configure(configure);
        return builder;
    }

    /// <summary>Keeps usage records in the SQLite file at <paramref name="path"/>, with the default queue and batch sizes.</summary>
    /// <param name="builder">The builder returned by <c>AddAgentHarness</c>.</param>
    /// <param name="path">The database file, absolute or relative to the current directory; created when missing.</param>
    /// <returns>The builder, to chain calls.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    public static IAgentHarnessBuilder AddSqliteUsageLedger(this IAgentHarnessBuilder builder, string path)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return builder.AddSqliteUsageLedger(options => options.Path = path);
    }

    private static void Register(IAgentHarnessBuilder builder, string sectionPath)
    {
        var services = builder.Services;
        services.AddOptions<SqliteUsageLedgerOptions>().ValidateOnStart();

        // The last call wins: its section names the settings in validation messages.
        Remove(services, static d => d.ServiceType == typeof(IValidateOptions<SqliteUsageLedgerOptions>) && d.ImplementationInstance is SqliteUsageLedgerOptionsValidator);
        services.AddSingleton<IValidateOptions<SqliteUsageLedgerOptions>>(new SqliteUsageLedgerOptionsValidator(sectionPath));

        Remove(services, static d => d.ServiceType == typeof(SqliteUsageLedger));
        services.AddSingleton(sp => new SqliteUsageLedger(
            sp.GetRequiredService<IOptions<SqliteUsageLedgerOptions>>().Value,
            sectionPath,
            sp.GetService<ILoggerFactory>()?.CreateLogger(AgentHarnessLogCategories.Sqlite)));

        // AddAgentHarness registered the in-memory ledger with TryAdd: replace it.
        Remove(services, static d => d.ServiceType == typeof(IUsageLedger));
        services.AddSingleton<IUsageLedger>(static sp => sp.GetRequiredService<SqliteUsageLedger>());
    }

    private static void Remove(IServiceCollection services, Func<ServiceDescriptor, bool> match)
    {
        for (var i = services.Count - 1; i >= 0; i--)
        {
            if (match(services[i]))
            {
                services.RemoveAt(i);
            }
        }
    }
}
