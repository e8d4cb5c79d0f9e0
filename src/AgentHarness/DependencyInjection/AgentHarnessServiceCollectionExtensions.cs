using System.Diagnostics.Metrics;
using AgentHarness.DependencyInjection.Internal;
using AgentHarness;
using AgentHarness.Authentication.Internal;
using AgentHarness.Budget.Internal;
using AgentHarness.Caching.Internal;
using AgentHarness.Catalog.Internal;
using AgentHarness.Configuration.Internal;
using AgentHarness.Internal;
using AgentHarness.Metadata.Internal;
using AgentHarness.Pipeline.Internal;
using AgentHarness.Routing.Internal;
using AgentHarness.Telemetry;
using AgentHarness.Telemetry.Internal;
using AgentHarness.Usage.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers AgentHarness, the in-process LLM gateway.</summary>
/// <remarks>
/// <para>
/// The harness is registered once per service collection. Calling <c>AddAgentHarness</c> again (in
/// any form, including <c>IHostApplicationBuilder.AddAgentHarness</c>) registers nothing twice and
/// returns the same <see cref="IAgentHarnessBuilder"/>, so one part of an application can register
/// the harness and another can go on configuring it.
/// </para>
/// <para>
/// Options are built in call order: a section is bound at the call that names it, and each
/// configure delegate runs at the call that passes it, so a later call's delegate sees (and may
/// change) what earlier calls set. One configuration section feeds the harness: naming the same
/// section again (paths compare without regard to case) binds it once, and naming a different
/// section throws an <see cref="InvalidOperationException"/> that names both paths, instead of
/// merging two sections in silence.
/// </para>
/// </remarks>
public static class AgentHarnessServiceCollectionExtensions
{
    private const string DefaultSectionPath = "AgentHarness";

    /// <summary>Registers the harness with options set only in code (see <see cref="AgentHarnessBuilderExtensions"/>).</summary>
    /// <param name="services">The service collection.</param>
    /// <returns>A builder to add providers and change options; the same builder on every call for one collection.</returns>
    public static IAgentHarnessBuilder AddAgentHarness(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return Register(services);
    }

    /// <summary>Registers the harness with options bound from a configuration section, conventionally <c>AgentHarness</c>.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="section">The section holding <see cref="AgentHarnessOptions"/>.</param>
    /// <returns>A builder to add providers and change options; the same builder on every call for one collection.</returns>
    /// <exception cref="InvalidOperationException">An earlier call bound a different section.</exception>
    public static IAgentHarnessBuilder AddAgentHarness(this IServiceCollection services, IConfigurationSection section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        var builder = Register(services);
        if (builder.SectionPath is { } bound)
        {
            if (!bound.Equals(section.Path, StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException(
                    $"AddAgentHarness was already called with the configuration section '{bound}'; it cannot also bind '{section.Path}'. " +
                    "The harness reads one section: merge the settings into one, or set the rest in code with Configure.");
            }

            return builder;
        }

        builder.SectionPath = section.Path;
        services.AddOptions<AgentHarnessOptions>().BindChecked(section);
        return builder;
    }

    /// <summary>Registers the harness with options set by a delegate.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>A builder to add providers and change options; the same builder on every call for one collection.</returns>
    public static IAgentHarnessBuilder AddAgentHarness(this IServiceCollection services, Action<AgentHarnessOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        var builder = Register(services);
        services.Configure(configure);
        return builder;
    }

    private static AgentHarnessBuilder Register(IServiceCollection services)
    {
        var existing = services.FirstOrDefault(static d => d.ServiceType == typeof(AgentHarnessBuilder));
        if (existing?.ImplementationInstance is AgentHarnessBuilder registered)
        {
            return registered;
        }

        var builder = new AgentHarnessBuilder(services);
        services.AddSingleton(builder);

        services.AddOptions<AgentHarnessOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<AgentHarnessOptions>, ApiKeyFromEnvironment>());

        // Read when the options are first validated, after every AddAgentHarness call has run: its messages name the bound section.
        services.AddSingleton<IValidateOptions<AgentHarnessOptions>>(_ => new AgentHarnessOptionsValidator(builder.SectionPath ?? DefaultSectionPath, EmbeddedPrices.Load));
        services.AddSingleton<IValidateOptions<AgentHarnessOptions>>(sp => new BaseUrlCheck(builder.SectionPath ?? DefaultSectionPath, sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton<IValidateOptions<AgentHarnessOptions>>(sp => new ProviderTokenValidator(builder.SectionPath ?? DefaultSectionPath, sp.GetServices<ProviderTokenRegistration>()));

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IUsageLedger, InMemoryUsageLedger>();
        services.TryAddSingleton<ProviderTokens>();
        services.TryAddSingleton<ProviderRegistry>();
        services.TryAddSingleton(CreateKeyRedactor);
        services.TryAddSingleton(static sp =>
        {
            var options = sp.GetRequiredService<IOptions<AgentHarnessOptions>>().Value;
            return new CooldownTracker(sp.GetRequiredService<TimeProvider>(), options.FailuresBeforeCooldown, options.CooldownPeriod, shared: sp.GetService<ISharedCooldowns>());
        });
        services.TryAddSingleton<IBudgetStore, InMemoryBudgetStore>();
        services.TryAddSingleton<IProviderDirectory>(static sp => sp.GetRequiredService<ProviderRegistry>());
        services.TryAddSingleton<ModelListClient>();
        services.TryAddSingleton<IModelDiscovery, ModelDiscovery>();
        services.TryAddSingleton<PriceCatalog>();
        services.TryAddSingleton<IPriceCatalog>(static sp => sp.GetRequiredService<PriceCatalog>());
        services.TryAddSingleton<BudgetGuard>();
        services.TryAddSingleton<IBudgetGuard>(static sp => sp.GetRequiredService<BudgetGuard>());
        services.TryAddSingleton<CostControl>();
        services.TryAddSingleton<IAgentHarness, DefaultAgentHarness>();

        // The call path (docs/architecture.md): the routing handler builds each call's context and runs the routing
        // loop; every attempt passes the budget, request and metadata stages on its way to the transport; the budget
        // stage, the candidates' health and the recorder, in that order, see each call end.
        services.TryAddSingleton<CandidateHealth>();
        services.TryAddSingleton(static sp => new RoutingLoop(
            sp.GetRequiredService<CandidateHealth>(),
            sp.GetRequiredService<KeyRedactor>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger(AgentHarnessLogCategories.Routing)));
        services.TryAddSingleton<BudgetStage>();
        services.TryAddSingleton<RequestStage>();
        services.TryAddSingleton(static sp => new MetadataStage(sp.GetRequiredService<ProviderRegistry>().MetadataHeaderPrefixes));
        services.TryAddSingleton<CallRecorder>();

        // Telemetry: spans and metrics for whoever listens to the "AgentHarness" source and meter; its stage starts each
        // attempt's span after the budget stage and ends the call's after the recorder.
        services.AddMetrics();
        services.TryAddSingleton(static sp => new HarnessTelemetry(
            sp.GetRequiredService<IMeterFactory>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IOptions<AgentHarnessOptions>>(),
            sp.GetRequiredService<CooldownTracker>().CountCoolingDown,
            sp.GetRequiredService<IUsageLedger>()));
        services.TryAddSingleton<TelemetryStage>();
        services.TryAddSingleton(static sp =>
        {
            var budget = sp.GetRequiredService<BudgetStage>();
            var telemetry = sp.GetRequiredService<TelemetryStage>();
            IAttemptStage[] attempt = [budget, telemetry, sp.GetRequiredService<RequestStage>(), sp.GetRequiredService<MetadataStage>()];

            // Only providers that are sent access tokens need their attempts to wait for one: the stage is not there otherwise.
            return new CallStages(
                sp.GetRequiredService<ProviderRegistry>().Providers.Any(static p => p.Tokens is not null) ? [.. attempt, new TokenStage()] : attempt,
                sp.GetService<ResponseCacheStage>() is { } cache
                    ? [budget, sp.GetRequiredService<CandidateHealth>(), cache, sp.GetRequiredService<CallRecorder>(), telemetry]
                    : [budget, sp.GetRequiredService<CandidateHealth>(), sp.GetRequiredService<CallRecorder>(), telemetry],
                telemetry);
        });
        services.TryAddTransient<RoutingHandler>();

        // Under a host, what the first call would wait for is built at start (HarnessWarmUp says what, and when the tokenizer loads).
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, HarnessWarmUp>());

        // Keys are set, and redirects refused, directly above the transport of each of the harness's clients.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHttpMessageHandlerBuilderFilter, CredentialsHandlerFilter>());
        var client = services.AddHttpClient(DefaultAgentHarness.HttpClientName, static client => client.Timeout = Timeout.InfiniteTimeSpan)
            .AddHttpMessageHandler<RoutingHandler>();

        // An application-wide resilience handler would retry and time out whole logical calls on top
        // of the harness's own attempts: one call would cost several times the attempts its provider allows.
        ResilienceHandlers.RemoveApplicationWide(client)
            .ConfigurePrimaryHttpMessageHandler(static () => new SocketsHttpHandler
            {
                // The client lives as long as the harness; recycling pooled connections keeps DNS changes visible.
                PooledConnectionLifetime = TimeSpan.FromMinutes(2),

                // No Accept-Encoding, as the official client's own transport: model answers are small JSON or event
                // streams, which a compressing server would hold back to fill its blocks, and every request would pay
                // for the header and the decompression layer.
                AutomaticDecompression = System.Net.DecompressionMethods.None,

                // A redirect would re-send the prompt and its metadata to another host: a 3xx is the candidate's failure.
                AllowAutoRedirect = false,

                // An answer given up on (a timed-out attempt, a stream the caller closed) is drained for a moment at most:
                // long enough to read what has already arrived (the end of a chunked stream after its [DONE], so that the
                // connection is kept for the next call), not the two seconds that held a synchronous call's blocked read
                // past its timeout and kept a provider generating, and billing, an answer nobody reads.
                ResponseDrainTimeout = TimeSpan.FromMilliseconds(100),
            })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan);

        // Management calls (model lists) are idempotent reads: the standard resilience handler's
        // retries and timeouts suit them, unlike model calls whose retries the harness owns. One
        // pipeline per host, so a provider that keeps failing opens only its own circuit breaker.
        // The whole answer is buffered, so it is held to the same limit as a model's answer.
        services.AddHttpClient(ModelListClient.ManagementClientName, static (sp, client) =>
                client.MaxResponseContentBufferSize = sp.GetRequiredService<IOptions<AgentHarnessOptions>>().Value.MaxResponseBytes)
            .AddStandardResilienceHandler()
            .SelectPipelineByAuthority();

        return builder;
    }

    /// <summary>Builds the redactor from every key the container configures: the providers' and the Requesty usage client's.</summary>
    private static KeyRedactor CreateKeyRedactor(IServiceProvider services)
    {
        var keys = services.GetRequiredService<ProviderRegistry>().Providers.Select(static p => p.ApiKey).ToList();
        if (services.GetService<RequestyUsageRegistration>() is { } registration)
        {
            // Resolved as the client resolves it, without throwing: a key that cannot be found fails at start anyway.
            keys.Add(RequestyUsageOptionsValidator.ResolveKey(
                services.GetRequiredService<IOptions<RequestyUsageOptions>>().Value,
                services.GetRequiredService<IOptions<AgentHarnessOptions>>().Value,
                registration.SectionPath,
                out _));
        }

        return new KeyRedactor(keys);
    }
}
