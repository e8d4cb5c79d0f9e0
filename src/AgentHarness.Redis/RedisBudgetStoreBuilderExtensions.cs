using AgentHarness.Configuration.Internal;
using AgentHarness.Redis;
using AgentHarness.Redis.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AgentHarness;

/// <summary>Replaces the harness's in-memory budget store with the <see cref="RedisBudgetStore"/>, shared by every replica that uses the same Redis and key prefix.</summary>
public static class RedisBudgetStoreBuilderExtensions
{
    /// <summary>Keeps budget counters in Redis, opening a connection of the store's own.</summary>
    /// <param name="builder">The builder returned by <c>AddAgentHarness</c>.</param>
    /// <param name="connectionString">A StackExchange.Redis configuration string, for example <c>localhost:6379</c>.</param>
    /// <returns>The builder, to chain calls.</returns>
    /// <exception cref="ArgumentException"><paramref name="connectionString"/> is empty.</exception>
    public static IAgentHarnessBuilder AddRedisBudgetStore(this IAgentHarnessBuilder builder, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        return builder.AddRedisBudgetStore(options => options.ConnectionString = connectionString);
    }

    /// <summary>Keeps budget counters in Redis, with options bound from a configuration section, conventionally <c>AgentHarness:Redis</c>.</summary>
    /// <param name="builder">The builder returned by <c>AddAgentHarness</c>.</param>
    /// <param name="section">The section holding <see cref="RedisBudgetStoreOptions"/>; without a <c>ConnectionString</c>, the registered <see cref="IConnectionMultiplexer"/> is used.</param>
    /// <returns>The builder, to chain calls.</returns>
    /// <remarks>A value in the section that does not convert, or a key that names no setting, fails when the application starts.</remarks>
    public static IAgentHarnessBuilder AddRedisBudgetStore(this IAgentHarnessBuilder builder, IConfigurationSection section)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(section);
        Register(builder, section.Path);
        builder.Services.AddOptions<RedisBudgetStoreOptions>().BindChecked(section);
        return builder;
    }

    /// <summary>
    /// Keeps budget counters in Redis through the <see cref="IConnectionMultiplexer"/> registered in the
    /// service collection (the application's own, as .NET Aspire's <c>AddRedisClient</c> registers it),
    /// with the default options.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddAgentHarness</c>.</param>
    /// <returns>The builder, to chain calls.</returns>
    public static IAgentHarnessBuilder AddRedisBudgetStore(this IAgentHarnessBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        Register(builder, RedisBudgetStoreOptionsValidator.DefaultSectionPath);
        return builder;
    }

    /// <summary>
    /// Keeps budget counters in Redis, with options set by a delegate. Without a
    /// <see cref="RedisBudgetStoreOptions.ConnectionString"/>, the <see cref="IConnectionMultiplexer"/>
    /// registered in the service collection is used (the application's own, as .NET Aspire's
    /// <c>AddRedisClient</c> registers it), and left open when the harness is disposed.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddAgentHarness</c>.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The builder, to chain calls.</returns>
    public static IAgentHarnessBuilder AddRedisBudgetStore(this IAgentHarnessBuilder builder, Action<RedisBudgetStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        Register(builder, RedisBudgetStoreOptionsValidator.DefaultSectionPath);
        builder.Services.Configure(configure);
        return builder;
    }

    private static void Register(IAgentHarnessBuilder builder, string sectionPath)
    {
        var services = builder.Services;
        services.AddOptions<RedisBudgetStoreOptions>().ValidateOnStart();

        // The last call wins: its section names the settings in validation messages.
        Remove(services, static d => d.ServiceType == typeof(IValidateOptions<RedisBudgetStoreOptions>) && d.ImplementationFactory is not null && d.ImplementationFactory.Method.DeclaringType == typeof(RedisBudgetStoreBuilderExtensions));
        services.AddSingleton<IValidateOptions<RedisBudgetStoreOptions>>(sp => new RedisBudgetStoreOptionsValidator(
            sectionPath,
            () => sp.GetService<IServiceProviderIsService>()?.IsService(typeof(IConnectionMultiplexer)) == true));

        // One connection for the budgets and the cooldowns, closed with the container when it is the store's own.
        Remove(services, static d => d.ServiceType == typeof(RedisConnection));
        services.AddSingleton(static sp =>
        {
            var options = sp.GetRequiredService<IOptions<RedisBudgetStoreOptions>>().Value;
            return string.IsNullOrWhiteSpace(options.ConnectionString)
                ? RedisConnection.Shared(sp.GetRequiredService<IConnectionMultiplexer>())
                : RedisConnection.Open(options.ConnectionString);
        });

        Remove(services, static d => d.ServiceType == typeof(RedisBudgetStore));
        services.AddSingleton(sp => new RedisBudgetStore(
            sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<IOptions<RedisBudgetStoreOptions>>().Value,
            sectionPath,
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            Logger(sp),
            disposeConnection: false));

        // Asked for by the cooldown tracker: without the setting, a stand-in that keeps each replica alone.
        // An application's own registration wins.
        services.TryAddSingleton<ISharedCooldowns>(static sp =>
        {
            var options = sp.GetRequiredService<IOptions<RedisBudgetStoreOptions>>().Value;
            return options.SharedCooldowns
                ? new RedisCooldowns(
                    sp.GetRequiredService<RedisConnection>(),
                    options.KeyPrefix,
                    sp.GetService<TimeProvider>() ?? TimeProvider.System,
                    options.OperationTimeout,
                    options.LeaseTime ?? BudgetLease.From(sp.GetRequiredService<IOptions<AgentHarnessOptions>>().Value),
                    Logger(sp))
                : NoSharedCooldowns.Instance;
        });

        // AddAgentHarness registered the in-memory store with TryAdd: replace it.
        Remove(services, static d => d.ServiceType == typeof(IBudgetStore));
        services.AddSingleton<IBudgetStore>(static sp => sp.GetRequiredService<RedisBudgetStore>());
    }

    private static Microsoft.Extensions.Logging.ILogger Logger(IServiceProvider services) =>
        services.GetService<ILoggerFactory>()?.CreateLogger(AgentHarnessLogCategories.Redis) ?? NullLogger.Instance;

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
