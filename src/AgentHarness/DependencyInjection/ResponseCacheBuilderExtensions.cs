using AgentHarness;
using AgentHarness.Caching.Internal;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the harness's response cache on the application's <c>HybridCache</c>.</summary>
public static class ResponseCacheBuilderExtensions
{
    /// <summary>
    /// Registers the response cache, which answers a repeated call from <c>HybridCache</c> (memory first, then the
    /// <c>IDistributedCache</c> registered under it) for the calls <see cref="AgentHarness.AgentHarnessOptions.ResponseCache"/>
    /// or a run's <see cref="AgentHarness.AgentRun.CacheMode"/> turn it on for, and makes <see cref="AgentHarness.IResponseCache"/> available.
    /// </summary>
    /// <param name="builder">The harness builder.</param>
    /// <returns>The builder.</returns>
    /// <remarks>
    /// The harness references only the abstract <c>HybridCache</c>: register the implementation with
    /// <c>services.AddHybridCache()</c> (package <c>Microsoft.Extensions.Caching.Hybrid</c>), or use
    /// <c>AddRedisResponseCache</c> from <c>AgentHarness.Redis</c>, which does both on Redis.
    /// </remarks>
    public static IAgentHarnessBuilder AddResponseCache(this IAgentHarnessBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<ResponseCacheStage>();
        builder.Services.TryAddSingleton<AgentHarness.IResponseCache>(static sp => sp.GetRequiredService<ResponseCacheStage>());

        // HybridCache asks the container for a serializer per type first: the entries' second-level form is the harness's own.
        builder.Services.TryAddSingleton<IHybridCacheSerializer<CachedAnswer>, CachedAnswerSerializer>();
        builder.Services.TryAddSingleton<IHybridCacheSerializer<RemovalStamp>, RemovalStampSerializer>();
        return builder;
    }
}
