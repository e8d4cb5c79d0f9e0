using AgentHarness.Redis;
using AgentHarness.Redis.Internal;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AgentHarness;

/// <summary>Puts the harness's response cache on Redis: <c>HybridCache</c> in memory first, Redis second, so that replicas share hits.</summary>
public static class RedisResponseCacheBuilderExtensions
{
    /// <summary>The prefix of the cache's Redis keys without a budget store; with one, it is the store's <see cref="RedisBudgetStoreOptions.KeyPrefix"/> followed by <c>:cache:</c>, which is this for the default prefix.</summary>
    public const string DefaultInstanceName = "agentharness:cache:";

    /// <summary>
    /// Registers the response cache (<c>AddResponseCache</c>) on a <c>HybridCache</c> whose second level is Redis
    /// (<c>Microsoft.Extensions.Caching.StackExchangeRedis</c>). Without a connection configured for it
    /// (<see cref="RedisCacheOptions"/>), it uses the budget store's connection when <c>AddRedisBudgetStore</c> is
    /// registered, else the <see cref="IConnectionMultiplexer"/> registered in the service collection.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddAgentHarness</c>.</param>
    /// <param name="configure">Changes the Redis cache's options (its key prefix, <see cref="RedisCacheOptions.InstanceName"/>, defaults to the budget store's <see cref="RedisBudgetStoreOptions.KeyPrefix"/> and <c>:cache:</c>, else <see cref="DefaultInstanceName"/>).</param>
    /// <returns>The builder, to chain calls.</returns>
    /// <remarks>
    /// The Redis cache becomes the application's <c>IDistributedCache</c>, and the <c>HybridCache</c> it registers
    /// is the application's too (registered once: an earlier <c>AddHybridCache</c> keeps its options).
    /// </remarks>
    public static IAgentHarnessBuilder AddRedisResponseCache(this IAgentHarnessBuilder builder, Action<RedisCacheOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddStackExchangeRedisCache(static _ => { });
        if (configure is not null)
        {
            services.Configure(configure);
        }

        services.AddOptions<RedisCacheOptions>().PostConfigure<IServiceProvider>(static (options, sp) =>
        {
            // Next to the budget store, under its key prefix: two applications that keep their budgets apart on one Redis
            // keep their answers apart too (and the tags that remove them), though their model ids are the same.
            options.InstanceName ??= sp.GetService<IServiceProviderIsService>()?.IsService(typeof(RedisBudgetStore)) == true
                ? sp.GetRequiredService<IOptions<RedisBudgetStoreOptions>>().Value.KeyPrefix + ":cache:"
                : DefaultInstanceName;
            if (options.ConnectionMultiplexerFactory is null && string.IsNullOrEmpty(options.Configuration) && options.ConfigurationOptions is null)
            {
                // One connection for budgets, cooldowns and cached answers.
                var connection = sp.GetService<RedisConnection>();
                options.ConnectionMultiplexerFactory = connection is not null
                    ? () => connection.Multiplexer
                    : () => Task.FromResult(sp.GetRequiredService<IConnectionMultiplexer>());
            }
        });
        services.AddHybridCache();
        return builder.AddResponseCache();
    }

    /// <summary>Registers the response cache on Redis over the budget store's connection, or the registered <see cref="IConnectionMultiplexer"/>.</summary>
    /// <param name="builder">The builder returned by <c>AddAgentHarness</c>.</param>
    /// <returns>The builder, to chain calls.</returns>
    public static IAgentHarnessBuilder AddRedisResponseCache(this IAgentHarnessBuilder builder) => builder.AddRedisResponseCache(configure: null);

    /// <summary>Registers the response cache on Redis, with a connection of its own.</summary>
    /// <param name="builder">The builder returned by <c>AddAgentHarness</c>.</param>
    /// <param name="connectionString">A StackExchange.Redis configuration string, for example <c>localhost:6379</c>.</param>
    /// <returns>The builder, to chain calls.</returns>
    public static IAgentHarnessBuilder AddRedisResponseCache(this IAgentHarnessBuilder builder, string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        return builder.AddRedisResponseCache(options => options.Configuration = connectionString);
    }
}
