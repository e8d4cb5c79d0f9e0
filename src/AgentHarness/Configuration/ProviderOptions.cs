namespace AgentHarness;

/// <summary>Settings of one OpenAI-compatible endpoint: a provider such as OpenAI, or a gateway such as Requesty.</summary>
public sealed class ProviderOptions
{
    /// <summary>
    /// Gets or sets the base address of the OpenAI-compatible API, including its version segment,
    /// for example <c>https://api.openai.com/v1</c>. Must be <c>https</c> unless the host is loopback.
    /// An address with no path (<c>https://api.openai.com</c>) is accepted, but logs a warning at
    /// start under <see cref="AgentHarnessLogCategories.Configuration"/>: calls would go to
    /// <c>/chat/completions</c> at the host's root, which OpenAI-compatible APIs answer with 404.
    /// </summary>
    /// <value>The default value is <see langword="null"/>, which fails validation.</value>
    public Uri? BaseUrl { get; set; }

    /// <summary>
    /// Gets or sets the API key sent as a bearer token to this provider, and only to this provider.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? ApiKey { get; set; }

    /// <summary>
    /// Gets or sets the name of an environment variable that holds the API key when
    /// <see cref="ApiKey"/> is empty, for example <c>OPENAI_API_KEY</c> or <c>REQUESTY_API_KEY</c>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? ApiKeyEnvironmentVariable { get; set; }

    /// <summary>Gets or sets how this provider is sent its credential.</summary>
    /// <value>
    /// The default value is <see cref="ProviderAuthentication.Bearer"/>: <see cref="ApiKey"/> as
    /// <c>Authorization: Bearer &lt;key&gt;</c>.
    /// </value>
    public ProviderAuthentication Authentication { get; set; }

    /// <summary>
    /// Gets or sets the header that carries <see cref="ApiKey"/> when <see cref="Authentication"/> is
    /// <see cref="ProviderAuthentication.ApiKeyHeader"/>, for example <c>api-key</c> (Azure OpenAI) or <c>x-api-key</c>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>, which means <c>api-key</c>.</value>
    public string? ApiKeyHeader { get; set; }

    /// <summary>
    /// Gets or sets the scope asked for when <see cref="Authentication"/> is <see cref="ProviderAuthentication.Token"/>,
    /// for example <c>https://cognitiveservices.azure.com/.default</c>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the token source's own default.</value>
    public string? TokenScope { get; set; }

    /// <summary>
    /// Gets the fixed headers sent to this provider, and only to it, on every request (for example OpenRouter's
    /// <c>HTTP-Referer</c> and <c>X-Title</c>). They are set as the request leaves, like the key, and checked at start:
    /// a header that would carry a credential (<c>Authorization</c>, <c>api-key</c>, a provider's key header) or the
    /// harness's own metadata (a gateway's metadata prefix) is refused.
    /// </summary>
    /// <value>The default value is an empty dictionary; names compare without regard to case.</value>
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets or sets a value indicating whether the provider refuses requests without a key.</summary>
    /// <value>The default value is <see langword="true"/>; set it to <see langword="false"/> for a local server that needs none.</value>
    public bool RequiresApiKey { get; set; } = true;

    /// <summary>
    /// Gets or sets a value indicating whether this provider is a gateway: it accepts
    /// <c>vendor/model</c> and <c>policy/name</c> ids and, with <see cref="MetadataHeaderPrefix"/>,
    /// metadata headers.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool IsGateway { get; set; }

    /// <summary>
    /// Gets or sets the prefix of the metadata headers this gateway reads, for example
    /// <c>X-Requesty-</c>: the run's agent is then sent as <c>X-Requesty-Agent</c>. Only gateways
    /// receive metadata headers. A prefix names the gateway's vendor: <c>X-</c>, a vendor name of at
    /// least two letters or digits, and <c>-</c> (more segments may follow, each ending in <c>-</c>),
    /// so that no metadata name can form a standard header such as <c>X-Api-Key</c>.
    /// </summary>
    /// <value>
    /// The default value is <see langword="null"/>: no metadata headers are sent. Setting it to an
    /// empty string clears it, so that an empty environment variable
    /// (<c>AgentHarness__Providers__requesty__MetadataHeaderPrefix=</c>) turns off the headers set
    /// in <c>appsettings.json</c>.
    /// </value>
    public string? MetadataHeaderPrefix { get; set => field = string.IsNullOrEmpty(value) ? null : value; }

    /// <summary>
    /// Gets or sets a value indicating whether chat requests to this provider ask it to cache their prompts itself:
    /// Requesty's body field <c>"requesty": {"auto_cache": true}</c>. Only the providers that set it receive the field.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool AutoCache { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether chat requests to this provider carry OpenAI's <c>prompt_cache_key</c>, set
    /// from the run: its agent and task (<c>code-review-agent/classify</c>), so that the same prompt across runs lands on
    /// the same cache. A call outside any run, or a body that sets its own key, is sent without one.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool SendPromptCacheKey { get; set; }

    /// <summary>
    /// Gets or sets how long one attempt may take, until the response headers arrive (and, for
    /// a response that is not streamed, its whole body).
    /// </summary>
    /// <value>The default value is 100 seconds.</value>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>
    /// Gets or sets how long a call to this provider may take over all its attempts and waits, until its answer is handed
    /// over: from a stream's first output on, the stream is bounded by its idle time and the caller's token.
    /// </summary>
    /// <value>The default value is 5 minutes.</value>
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Gets or sets how many times a transient failure (a connection failure, an attempt timeout,
    /// 408, 429, 500 or above) is retried on this provider.
    /// </summary>
    /// <value>The default value is 2.</value>
    public int MaxRetries { get; set; } = 2;

    /// <summary>
    /// Gets or sets the base delay of the exponential backoff (with jitter) between retries; a
    /// <c>Retry-After</c> header from the provider takes precedence.
    /// </summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Gets or sets the longest <c>Retry-After</c> the harness waits for. A provider that asks for a
    /// longer wait is not retried: its answer (for example the 429 and its body) is returned at once.
    /// </summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(30);
}
