namespace AgentHarness.Usage.Internal;

/// <summary>Requesty's usage of one API key, or of the organisation, behind <see cref="IUsageSource"/>.</summary>
/// <param name="client">The client that sends the queries.</param>
/// <param name="apiKeyId">The key's id, or <see langword="null"/> for the organisation.</param>
internal sealed class RequestyUsageSource(RequestyUsageClient client, string? apiKeyId) : IUsageSource
{
    public Task<UsageReport> GetUsageAsync(UsageQuery query, CancellationToken cancellationToken = default) =>
        apiKeyId is null
            ? client.GetOrganizationUsageAsync(query, cancellationToken)
            : client.GetApiKeyUsageAsync(apiKeyId, query, cancellationToken);

    public override string ToString() => apiKeyId is null ? "Requesty usage of the organisation" : $"Requesty usage of API key {apiKeyId}";
}
