namespace AgentHarness;

/// <summary>
/// Settings of <see cref="RequestyUsageClient"/>, the client of Requesty's usage and key management
/// API. Validated when the application starts: an absolute <c>http</c> or <c>https</c>
/// <see cref="BaseAddress"/>, and a key that can be found.
/// </summary>
/// <remarks>
/// The key is the first of: <see cref="ApiKey"/>; the key of the harness provider named by
/// <see cref="Provider"/>; the key of the harness's default gateway
/// (<see cref="AgentHarnessOptions.DefaultGateway"/>, or the only provider with
/// <see cref="ProviderOptions.IsGateway"/> set). A provider's key may come from its
/// <see cref="ProviderOptions.ApiKeyEnvironmentVariable"/>. Usage endpoints need a key with the
/// <c>manage</c> permission (see <see cref="RequestyApiKeyInfo.ManagePermission"/>).
/// </remarks>
public sealed class RequestyUsageOptions
{
    /// <summary>
    /// Gets or sets the base address of the management API; request paths
    /// (<c>/v1/manage/…</c>) are appended to it, so it may carry a path prefix of a proxy.
    /// </summary>
    /// <value>The default value is <c>https://api-v2.requesty.ai</c>.</value>
    public Uri? BaseAddress { get; set; } = new("https://api-v2.requesty.ai");

    /// <summary>
    /// Gets or sets the key sent as the bearer token, when it is not the key of a harness provider.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the key of <see cref="Provider"/>, or of the default gateway, is used.</value>
    public string? ApiKey { get; set; }

    /// <summary>
    /// Gets or sets the name of a harness provider (see <see cref="AgentHarnessOptions.Providers"/>)
    /// whose key is used when <see cref="ApiKey"/> is not set.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the default gateway's key is used.</value>
    public string? Provider { get; set; }

    /// <summary>Gets or sets how a usage query's parameters are sent to both usage endpoints, overriding the documented form of each.</summary>
    /// <value>
    /// The default value is <see langword="null"/>: each endpoint in the form Requesty documents for it,
    /// <see cref="RequestyQueryForm.JsonBody"/> for an API key's usage and
    /// <see cref="RequestyQueryForm.QueryString"/> for the organisation's.
    /// </value>
    public RequestyQueryForm? QueryForm { get; set; }
}
