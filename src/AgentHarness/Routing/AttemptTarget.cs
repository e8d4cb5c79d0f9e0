namespace AgentHarness;

/// <summary>
/// Where the harness sends one request: the provider it is for, the model it names there, and the model id the caller
/// asked for. The harness sets it on every request it sends to a provider (each attempt of a call, and its own model
/// lists), under <see cref="OptionsKey"/> in <see cref="HttpRequestMessage.Options"/>, so that a primary handler such as
/// a test double or the sandbox can tell which call and candidate a request serves without parsing its body.
/// </summary>
/// <example>
/// <code>
/// protected override Task&lt;HttpResponseMessage&gt; SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
/// {
///     if (request.Options.TryGetValue(AttemptTarget.OptionsKey, out var target))
///     {
///         // For "policy/claude-4" served by its member "anthropic/claude-sonnet-4-5":
///         // target.RequestedModel == "policy/claude-4", target.Provider == "anthropic", target.Model == "claude-sonnet-4-5".
///     }
///     ...
/// }
/// </code>
/// </example>
public sealed class AttemptTarget
{
    private string? _candidateId;

    internal AttemptTarget(string provider, string? requestedModel, string? model)
    {
        Provider = provider;
        RequestedModel = string.IsNullOrEmpty(requestedModel) ? null : requestedModel;
        Model = string.IsNullOrEmpty(model) ? null : model;
    }

    /// <summary>Gets the key under which the harness stores the target in <see cref="HttpRequestMessage.Options"/>.</summary>
    public static HttpRequestOptionsKey<AttemptTarget> OptionsKey { get; } = new("AgentHarness.AttemptTarget");

    /// <summary>Gets the name of the configured provider the request is sent to, as configured, such as <c>openai</c>.</summary>
    public string Provider { get; }

    /// <summary>
    /// Gets the model id the caller asked the harness for, such as <c>policy/claude-4</c> or <c>openai/gpt-4.1-nano</c>;
    /// <see langword="null"/> when the request names no model (a model list).
    /// </summary>
    public string? RequestedModel { get; }

    /// <summary>
    /// Gets the model the request names at the provider, as written into its body: <c>gpt-4.1-nano</c> for
    /// <c>openai/gpt-4.1-nano</c> on a provider named <c>openai</c>, the full id on a gateway; <see langword="null"/>
    /// when the request names no model.
    /// </summary>
    public string? Model { get; }

    /// <summary>
    /// Gets the candidate's id, <c>provider/model</c> (<see cref="Provider"/>, <c>/</c>, <see cref="Model"/>), such as
    /// <c>anthropic/claude-sonnet-4-5</c>, or <c>requesty/openai/gpt-4.1-nano</c> on a gateway named <c>requesty</c>;
    /// <see langword="null"/> when the request names no model.
    /// </summary>
    public string? CandidateId => Model is null ? null : _candidateId ??= Provider + "/" + Model;

    /// <inheritdoc/>
    public override string ToString() => $"{RequestedModel ?? "(no model)"} via {CandidateId ?? Provider}";
}
