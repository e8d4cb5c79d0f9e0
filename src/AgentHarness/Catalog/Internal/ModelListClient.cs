using System.Text;
using AgentHarness.Http.Internal;
using AgentHarness.Internal;
using AgentHarness.Pipeline.Internal;

namespace AgentHarness.Catalog.Internal;

/// <summary>
/// Fetches and reads a configured provider's model list (<c>GET {BaseUrl}/models</c>). The one place
/// that knows how: both <see cref="ModelDiscovery"/> and <see cref="PriceCatalog"/> use it, so neither
/// needs the other.
/// </summary>
internal sealed class ModelListClient(IProviderDirectory providers, IHttpClientFactory httpClientFactory, TimeProvider timeProvider, KeyRedactor redactor)
{
    /// <summary>The named HttpClient for management calls, registered with the standard resilience handler.</summary>
    public const string ManagementClientName = "AgentHarness.Management";

    private const int MaxErrorBodyBytes = 64 * 1024;

    /// <summary>Removes every configured key, in any form, from text that came from outside.</summary>
    public string Redact(string text) => redactor.Redact(text);

    /// <summary>Gets the configured providers in configuration order.</summary>
    public IEnumerable<ProviderEndpoint> Providers => providers.Providers;

    /// <summary>Finds a configured provider by name, ignoring case.</summary>
    /// <exception cref="ArgumentException">No provider has that name; the message lists the configured ones.</exception>
    public ProviderEndpoint GetProvider(string provider)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(provider);
        return providers.FindProvider(provider)
            ?? throw new ArgumentException($"No provider named '{provider}' is configured ({Describe(providers.ProviderNames)}).", nameof(provider));
    }

    /// <summary>Reads a provider's model list.</summary>
    /// <returns>The models in list order.</returns>
    /// <exception cref="HttpRequestException">The provider answered with an error; the message has the status and a redacted excerpt of the body.</exception>
    public async Task<IReadOnlyList<DiscoveredModel>> ListAsync(ProviderEndpoint endpoint, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, endpoint.BuildUri("/models"));
        endpoint.Authorize(request);
        request.Options.Set(AttemptTarget.OptionsKey, new AttemptTarget(endpoint.Name, requestedModel: null, model: null));
        var client = httpClientFactory.CreateClient(ManagementClientName);
        using var response = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            var text = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, MaxErrorBodyBytes));
            throw new HttpRequestException(
                $"GET /models of provider '{endpoint.Name}' answered HTTP {(int)response.StatusCode}: {BodyExcerpt.Of(redactor.Redact(text))}",
                inner: null,
                response.StatusCode);
        }

        var source = $"GET /models of provider '{endpoint.Name}'";
        var listed = ModelListParser.Parse(body, source, DateOnly.FromDateTime(timeProvider.GetUtcNow().UtcDateTime));
        var models = new DiscoveredModel[listed.Count];
        for (var i = 0; i < listed.Count; i++)
        {
            var model = listed[i];
            models[i] = new DiscoveredModel
            {
                Provider = endpoint.Name,
                Id = model.Id,
                CatalogId = CatalogId(endpoint, model.Id),
                ContextWindow = model.ContextWindow,
                MaxOutputTokens = model.MaxOutputTokens,
                Price = model.Price,
            };
        }

        return models;
    }

    /// <summary>
    /// The id a call to a listed model is priced by: a gateway lists the ids it is called with;
    /// another provider lists its bare names, which the harness reaches as <c>provider/model</c>.
    /// </summary>
    public static string CatalogId(ProviderEndpoint endpoint, string listedId) =>
        endpoint.IsGateway ? listedId : endpoint.Name + "/" + listedId;

    private static string Describe(IEnumerable<string> names)
    {
        var list = string.Join(", ", names);
        return list.Length == 0 ? "none is" : "configured: " + list;
    }
}
