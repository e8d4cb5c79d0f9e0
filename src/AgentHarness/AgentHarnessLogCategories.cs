namespace AgentHarness;

/// <summary>
/// The log categories the harness writes under. They are stable names, not type names, so they
/// can be filtered in configuration (<c>"Logging": { "LogLevel": { "AgentHarness.Routing": "Debug" } }</c>);
/// every one starts with <see cref="Prefix"/>, so <c>"AgentHarness": "Warning"</c> sets them all.
/// </summary>
/// <remarks>
/// The harness's <see cref="HttpClient"/> also logs through <c>IHttpClientFactory</c>, under
/// <c>System.Net.Http.HttpClient.AgentHarness.*</c> (and <c>System.Net.Http.HttpClient.AgentHarness.Requesty.*</c>
/// for the Requesty usage client): those are the factory's categories, one request line per attempt.
/// </remarks>
public static class AgentHarnessLogCategories
{
    /// <summary>The start of every category below: <c>AgentHarness</c>.</summary>
    public const string Prefix = "AgentHarness";

    /// <summary>
    /// Model calls: the end of each call (Debug), a failed or refused call, a fallback to the next
    /// candidate and an implausible reported cost (Warning), a usage ledger that failed to add a record (Error).
    /// </summary>
    public const string Routing = "AgentHarness.Routing";

    /// <summary>
    /// Budgets: a spend checkpoint asked and decided (Information), a call waiting for another call's question (Debug),
    /// a failed <see cref="IBudgetGuard.ThresholdReached"/> handler, checkpoint callback or settlement (Error).
    /// </summary>
    public const string Budget = "AgentHarness.Budget";

    /// <summary>The Requesty usage client: each answer of the usage API (Debug).</summary>
    public const string Usage = "AgentHarness.Usage";

    /// <summary>Options checked at start: settings that are accepted but look wrong, such as a base URL without a version path (Warning).</summary>
    public const string Configuration = "AgentHarness.Configuration";

    /// <summary>Provider credentials: an access token fetched (Debug), a token that could not be fetched (Warning while the current one is still good, else Error). Tokens are never logged.</summary>
    public const string Credentials = "AgentHarness.Credentials";

    /// <summary>The SQLite usage ledger (package AgentHarness.Sqlite): opening the file, dropped records and failed writes.</summary>
    public const string Sqlite = "AgentHarness.Sqlite";

    /// <summary>The Redis budget store (package AgentHarness.Redis): Redis unreachable or back, calls refused or let through without it, settles retried or lost.</summary>
    public const string Redis = "AgentHarness.Redis";
}
