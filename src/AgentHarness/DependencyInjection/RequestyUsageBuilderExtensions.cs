using AgentHarness.Configuration.Internal;
using AgentHarness.DependencyInjection.Internal;
using AgentHarness.Internal;
using AgentHarness.Usage.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentHarness;

/// <summary>Registers <see cref="RequestyUsageClient"/>, the client of Requesty's usage and key management API.</summary>
/// <remarks>
/// <para>
/// Both methods return the <see cref="IHttpClientBuilder"/> of the client's <see cref="HttpClient"/>
/// (named <see cref="RequestyUsageClient.HttpClientName"/>), which already has the standard resilience
/// handler. Use it to replace the transport, for example in tests:
/// <c>builder.AddRequestyUsageClient().ConfigurePrimaryHttpMessageHandler(() => handler)</c>.
/// </para>
/// <para>
/// The resilience handler's options are named <c>AgentHarness.Requesty-standard</c> (the client's
/// name and <c>-standard</c>); tune them with
/// <c>services.Configure&lt;HttpStandardResilienceOptions&gt;(RequestyUsageClient.HttpClientName + "-standard", o => o.Retry.Delay = TimeSpan.Zero)</c>.
/// Its waits use the <see cref="TimeProvider"/> registered in the container. A resilience handler
/// added to every client (<c>ConfigureHttpClientDefaults</c>) is removed from this one, so that a
/// request is not retried by two handlers.
/// </para>
/// </remarks>
public static class RequestyUsageBuilderExtensions
{
    private const string DefaultSectionPath = "RequestyUsage";

    /// <summary>
    /// Registers <see cref="RequestyUsageClient"/> with the default options: the default gateway's key,
    /// sent to <c>https://api-v2.requesty.ai</c>.
    /// </summary>
    /// <param name="builder">The harness builder.</param>
    /// <returns>The builder of the client's <see cref="HttpClient"/>, to replace its transport or add handlers.</returns>
    /// <remarks>The options are validated when the application starts; validation messages call them <c>RequestyUsage:…</c>.</remarks>
    public static IHttpClientBuilder AddRequestyUsageClient(this IAgentHarnessBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return Register(builder.Services, DefaultSectionPath);
    }

    /// <summary>Registers <see cref="RequestyUsageClient"/> with options set in code.</summary>
    /// <param name="builder">The harness builder.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The builder of the client's <see cref="HttpClient"/>, to replace its transport or add handlers.</returns>
    /// <remarks>The options are validated when the application starts; validation messages call them <c>RequestyUsage:…</c>.</remarks>
    public static IHttpClientBuilder AddRequestyUsageClient(this IAgentHarnessBuilder builder, Action<RequestyUsageOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var client = Register(builder.Services, DefaultSectionPath);
        builder.Services.Configure(configure);
        return client;
    }

    /// <summary>Registers <see cref="RequestyUsageClient"/> with options bound from a configuration section.</summary>
    /// <param name="builder">The harness builder.</param>
    /// <param name="section">The section holding <see cref="RequestyUsageOptions"/>, for example <c>RequestyUsage</c>.</param>
    /// <returns>The builder of the client's <see cref="HttpClient"/>, to replace its transport or add handlers.</returns>
    /// <remarks>
    /// The options are validated when the application starts; validation messages name settings by the
    /// section's path. A value in the section that does not convert, or a key that names no setting, fails too.
    /// </remarks>
    public static IHttpClientBuilder AddRequestyUsageClient(this IAgentHarnessBuilder builder, IConfigurationSection section)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(section);
        var client = Register(builder.Services, section.Path);
        builder.Services.AddOptions<RequestyUsageOptions>().BindChecked(section);
        return client;
    }

    private static IHttpClientBuilder Register(IServiceCollection services, string sectionPath)
    {
        if (services.Any(static d => d.ServiceType == typeof(RequestyUsageRegistration)))
        {
            // Registered already: hand back the same client's builder without a second resilience handler.
            return services.AddHttpClient(RequestyUsageClient.HttpClientName);
        }

        services.AddSingleton(new RequestyUsageRegistration(sectionPath));
        services.AddOptions<RequestyUsageOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RequestyUsageOptions>, RequestyUsageOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<RequestyUsageEndpoint>();

        // Answers are buffered whole: held to the harness's limit of an answer.
        var client = services.AddHttpClient(RequestyUsageClient.HttpClientName, static (sp, httpClient) =>
            httpClient.MaxResponseContentBufferSize = sp.GetRequiredService<IOptions<AgentHarnessOptions>>().Value.MaxResponseBytes);
        client.AddTypedClient(static (httpClient, sp) => new RequestyUsageClient(
            httpClient,
            sp.GetRequiredService<RequestyUsageEndpoint>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger(AgentHarnessLogCategories.Usage),
            sp.GetRequiredService<KeyRedactor>()));

        // Usage queries are idempotent reads, which the standard handler may retry, alone.
        ResilienceHandlers.RemoveApplicationWide(client);
        client.AddStandardResilienceHandler();
        return client;
    }
}
