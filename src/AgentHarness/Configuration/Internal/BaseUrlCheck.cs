using System.Collections.Concurrent;
using AgentHarness.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentHarness.Configuration.Internal;

/// <summary>
/// Warns, when the options are checked at start, about a provider base URL that is valid but
/// almost certainly incomplete: one with no path, such as <c>https://api.openai.com</c>. Calls
/// then go to <c>/chat/completions</c> at the host's root, which OpenAI-compatible APIs answer
/// with 404, since they serve under a version path (<c>/v1</c>, Azure's <c>/openai/v1/</c>,
/// Gemini's <c>/v1beta/openai/</c>). It is a warning, not a failure, because a server of one's own
/// may serve at its root.
/// </summary>
internal sealed partial class BaseUrlCheck(string sectionPath, ILoggerFactory loggerFactory) : IValidateOptions<AgentHarnessOptions>
{
    private readonly ILogger _logger = loggerFactory.CreateLogger(AgentHarnessLogCategories.Configuration);

    // Options are validated again when they reload: an unchanged URL is not warned about twice.
    private readonly ConcurrentDictionary<(string Provider, string BaseUrl), byte> _warned = new();

    /// <summary>Whether a base URL has no path, so that calls would go to the host's root.</summary>
    /// <param name="baseUrl">The provider's base URL.</param>
    /// <returns><see langword="true"/> for an absolute http or https URL whose path is empty or <c>/</c>.</returns>
    public static bool HasNoPath(Uri baseUrl) =>
        baseUrl is { IsAbsoluteUri: true, AbsolutePath: "" or "/" } && (baseUrl.Scheme == Uri.UriSchemeHttps || baseUrl.Scheme == Uri.UriSchemeHttp);

    public ValidateOptionsResult Validate(string? name, AgentHarnessOptions options)
    {
        foreach (var (providerName, provider) in options.Providers)
        {
            if (provider?.BaseUrl is { } baseUrl && HasNoPath(baseUrl))
            {
                var shown = SafeText.Url(baseUrl);
                if (_warned.TryAdd((providerName, shown), 0))
                {
                    LogNoVersionPath(_logger, providerName, $"{sectionPath}:Providers:{providerName}:BaseUrl", shown);
                }
            }
        }

        // Only a warning: the options stand or fall by AgentHarnessOptionsValidator.
        return ValidateOptionsResult.Skip;
    }

    [LoggerMessage(EventId = 50, Level = LogLevel.Warning, Message = "Provider {Provider}: {Setting} is '{BaseUrl}', which has no path, so calls go to /chat/completions at the host's root. OpenAI-compatible APIs serve under a version path (for example https://api.openai.com/v1): add it, unless this server really serves at its root.")]
    private static partial void LogNoVersionPath(ILogger logger, string provider, string setting, string baseUrl);
}
