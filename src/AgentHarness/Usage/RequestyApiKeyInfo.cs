namespace AgentHarness;

/// <summary>What Requesty says about an API key (<c>GET /v1/manage/apikey/{id}</c>): its name, spend this month, limit and permissions.</summary>
/// <remarks>It never holds the key itself.</remarks>
public sealed record RequestyApiKeyInfo
{
    /// <summary>Gets the key's id, the id <see cref="RequestyUsageClient.GetApiKeyUsageAsync"/> takes.</summary>
    public required string Id { get; init; }

    /// <summary>Gets the key's name, or <see langword="null"/> when it has none.</summary>
    public string? Name { get; init; }

    /// <summary>Gets a value indicating whether Requesty logs the requests made with the key.</summary>
    public bool Logging { get; init; }

    /// <summary>Gets the key's spend this month in US dollars.</summary>
    public decimal MonthlySpendUsd { get; init; }

    /// <summary>Gets the key's monthly spending limit in US dollars; 0 means no limit.</summary>
    public decimal MonthlyLimitUsd { get; init; }

    /// <summary>Gets the key's permission on the management API (<c>none</c>, <c>read</c> or <c>write</c>), or <see langword="null"/> when the answer did not say.</summary>
    public string? ManagePermission { get; init; }

    /// <summary>Gets the key's permission on completions (<c>none</c>, <c>read</c> or <c>write</c>), or <see langword="null"/> when the answer did not say.</summary>
    public string? CompletionsPermission { get; init; }
}
