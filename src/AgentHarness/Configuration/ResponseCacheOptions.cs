namespace AgentHarness;

/// <summary>
/// Settings of the response cache (<c>AddResponseCache</c>): which calls it answers, for how long, how large an answer
/// it keeps, and which run metadata keeps tenants apart.
/// </summary>
/// <remarks>
/// The cache is off unless <c>AddResponseCache</c> is called; then it serves the calls it is turned on for: every call
/// (<see cref="Enabled"/>), the calls to one model id or policy (<see cref="Models"/>), or the calls of a run
/// (<see cref="AgentRun.CacheMode"/>).
/// </remarks>
public sealed class ResponseCacheOptions
{
    /// <summary>Gets or sets a value indicating whether every call is cached, unless its model or run says otherwise.</summary>
    /// <value>The default value is <see langword="false"/>: only the models, policies and runs that turn it on.</value>
    public bool Enabled { get; set; }

    /// <summary>Gets or sets how long an answer is served from the cache.</summary>
    /// <value>The default value is one hour.</value>
    public TimeSpan TimeToLive { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Gets or sets how long a process serves an entry from its own memory before it reads it from the cache's second level
    /// again (when the <c>HybridCache</c> has one, such as Redis): the longest a replica goes on serving an entry that
    /// another replica removed (<see cref="IResponseCache"/>). Without a second level, memory is the only copy and this is
    /// not used.
    /// </summary>
    /// <value>The default value is one minute; at most one day.</value>
    public TimeSpan LocalTimeToLive { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Gets or sets the largest answer (its bytes as the provider sent them) the cache keeps; a larger one is not stored.</summary>
    /// <value>The default value is 1 MiB, the largest entry <c>HybridCache</c> keeps by default.</value>
    public int MaxEntryBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Gets the run metadata keys whose values are part of every entry's key (its scope): two calls whose runs differ in
    /// any of them never share an answer. A call outside any run, or without the key, is in the scope without that value.
    /// An extra key (<see cref="AgentRun.SetExtra"/>) may be written as its name or as <c>extra.&lt;name&gt;</c>.
    /// </summary>
    /// <value>The default value is <c>customer</c> and <c>team</c>. Clear it to let every tenant share answers.</value>
    public IList<string> ScopeBy { get; } = ["customer", "team"];

    /// <summary>
    /// Gets or sets a value indicating whether an answer given by a fallback (after another candidate failed or was
    /// skipped) is stored. It is stored under the requested id with the model that answered, and served only to calls
    /// for that same id: a policy's calls accept any member.
    /// </summary>
    /// <value>
    /// The default value is <see langword="false"/>: only the first candidate tried (retries of it included) stores its
    /// answer, so that a fallback's answer never stands in for the primary's for as long as the entry lives.
    /// </value>
    public bool StoreFallbackAnswers { get; set; }

    /// <summary>
    /// Gets settings keyed by the model id or policy the caller asks for (<c>openai/gpt-4.1-nano</c>,
    /// <c>policy/classify</c>): whether its calls are cached, and for how long.
    /// </summary>
    /// <value>The default value is an empty dictionary.</value>
    public IDictionary<string, ResponseCacheModelOptions> Models { get; } =
        new Dictionary<string, ResponseCacheModelOptions>(StringComparer.OrdinalIgnoreCase);
}

/// <summary>The response cache's settings for the calls to one model id or policy.</summary>
public sealed class ResponseCacheModelOptions
{
    /// <summary>Gets or sets a value indicating whether the calls to this id are cached.</summary>
    /// <value>The default value is <see langword="null"/>: as <see cref="ResponseCacheOptions.Enabled"/> says.</value>
    public bool? Enabled { get; set; }

    /// <summary>Gets or sets how long an answer of this id is served.</summary>
    /// <value>The default value is <see langword="null"/>: <see cref="ResponseCacheOptions.TimeToLive"/>.</value>
    public TimeSpan? TimeToLive { get; set; }
}

/// <summary>What the response cache does for the calls of a run (<see cref="AgentRun.CacheMode"/>).</summary>
public enum ResponseCacheMode
{
    /// <summary>Serve from the cache, and store a good answer on a miss.</summary>
    ReadWrite,

    /// <summary>Serve from the cache; a miss is not stored.</summary>
    ReadOnly,

    /// <summary>Never serve from the cache, but store a good answer (refreshing an entry).</summary>
    WriteOnly,

    /// <summary>Neither serve nor store: the call goes to the provider as if there were no cache.</summary>
    Bypass,
}
