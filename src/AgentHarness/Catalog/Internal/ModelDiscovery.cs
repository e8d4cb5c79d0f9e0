using AgentHarness.Pipeline.Internal;

namespace AgentHarness.Catalog.Internal;

/// <summary>Lists the configured providers' models through <see cref="ModelListClient"/>, all providers at once.</summary>
internal sealed class ModelDiscovery(ModelListClient client) : IModelDiscovery
{
    private const int MaxFailureLength = 500;

    public async Task<ModelDiscoveryResult> DiscoverAsync(CancellationToken cancellationToken = default)
    {
        var providers = client.Providers.ToArray();
        var lists = new Task<IReadOnlyList<DiscoveredModel>>[providers.Length];
        for (var i = 0; i < providers.Length; i++)
        {
            lists[i] = client.ListAsync(providers[i], cancellationToken);
        }

        // Wait for every list, failed or not, so that one provider's error loses none of the others.
        await ((Task)Task.WhenAll(lists)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (cancellationToken.IsCancellationRequested)
        {
            // The caller gave up: that is not a provider's failure. Observe the lists' errors so
            // that none surfaces later as an unobserved task exception.
            foreach (var list in lists)
            {
                _ = list.Exception;
            }

            cancellationToken.ThrowIfCancellationRequested();
        }

        var models = new List<DiscoveredModel>();
        var failures = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < providers.Length; i++)
        {
            var list = lists[i];
            if (list.IsCompletedSuccessfully)
            {
                models.AddRange(list.Result);
                continue;
            }

            try
            {
                // Rethrows the original exception, including a timeout's TaskCanceledException.
                list.GetAwaiter().GetResult();
            }
#pragma warning disable CA1031 // Every error of one provider is reported as that provider's failure.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failures[providers[i].Name] = Describe(providers[i], ex);
            }
        }

        return new ModelDiscoveryResult(models.AsReadOnly(), failures.AsReadOnly());
    }

    public Task<IReadOnlyList<DiscoveredModel>> ListModelsAsync(string provider, CancellationToken cancellationToken = default) =>
        client.ListAsync(client.GetProvider(provider), cancellationToken);

    /// <summary>One line on what went wrong, without the provider's key.</summary>
    private string Describe(ProviderEndpoint provider, Exception ex)
    {
        if (ex is HttpRequestException { StatusCode: not null })
        {
            // The provider answered: the message has the status and a redacted excerpt already.
            return ex.Message;
        }

        // No answer (no connection, a timeout, an open circuit): say what kind of error it was.
        var text = $"GET /models of provider '{provider.Name}' failed: {ex.GetType().Name}: {ex.Message}";
        if (ex.InnerException is { } inner)
        {
            text += " " + inner.Message;
        }

        text = client.Redact(text).ReplaceLineEndings(" ");
        return text.Length > MaxFailureLength ? text[..MaxFailureLength] + "..." : text;
    }
}
