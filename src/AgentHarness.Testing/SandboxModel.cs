using System.Diagnostics.CodeAnalysis;

namespace AgentHarness.Testing;

/// <summary>The script of one model of a <see cref="SandboxProvider"/>: how it answers and which faults it injects.</summary>
/// <remarks>
/// Every method returns this instance so that calls chain. All members are thread safe; a change applies to requests
/// that arrive after it. Faults apply to chat and embedding requests, in this order: latency, then counted failures,
/// then the context window, then the answer.
/// </remarks>
public sealed class SandboxModel
{
    private readonly Lock gate = new();
    private ModelScript script = ModelScript.Default;
    private ScriptedFailure? failure;
    private int failuresLeft;

    internal SandboxModel(string id, DateTimeOffset createdAt)
    {
        Id = id;
        CreatedAt = createdAt;
    }

    /// <summary>Gets the model id this script answers for; <c>*</c> for <see cref="SandboxProvider.Default"/>.</summary>
    public string Id { get; }

    internal DateTimeOffset CreatedAt { get; }

    internal ModelScript Script
    {
        get
        {
            lock (gate)
            {
                return script;
            }
        }
    }

    /// <summary>Answers every chat request with <paramref name="answer"/>.</summary>
    /// <param name="answer">The answer's text.</param>
    /// <returns>This script.</returns>
    public SandboxModel Reply(string answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        return Reply(_ => answer);
    }

    /// <summary>Answers each chat request with the text <paramref name="answer"/> returns for it.</summary>
    /// <param name="answer">
    /// Computes the answer from the request; it may run concurrently for concurrent requests, and an exception it throws
    /// surfaces from the request's <see cref="SandboxProvider.HandleAsync"/>.
    /// </param>
    /// <returns>This script.</returns>
    public SandboxModel Reply(Func<SandboxRequest, string> answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        return Update(s => s with { Answer = answer });
    }

    /// <summary>
    /// Adds a turn in which the model calls the tool <paramref name="name"/> with <paramref name="arguments"/> instead of
    /// answering with text. Each call adds one turn: a request is answered with the first turn its conversation has not
    /// had yet, and with the text answer (<see cref="Reply(string)"/>, or the default answer) once it has had them all.
    /// </summary>
    /// <remarks>
    /// <para>
    /// The turns a conversation has had are the assistant messages with <c>tool_calls</c> after its last <c>user</c>
    /// message: a request that carries the tool call and the tool's result (a <c>tool</c> message) gets the next turn, and
    /// a new user message starts the turns over. The answer is stateless, so retries, fallbacks and concurrent
    /// conversations each get the turn their own messages call for.
    /// </para>
    /// <para>
    /// Only a request that offers tools (a non-empty <c>tools</c> array) gets a tool call; the tool's name is not checked
    /// against them, so a test can also script a call of a tool the request does not offer. The answer has
    /// <c>finish_reason</c> <c>tool_calls</c>, no content, and one <c>tool_calls</c> entry with an id of the form
    /// <c>call_sbx_&lt;n&gt;</c>; streamed, it comes as OpenAI sends it: a first chunk with the call's index, id, type,
    /// name and empty arguments, then chunks of four characters of the arguments, then the finish reason.
    /// Its completion tokens count the name and the arguments; it is never cut to <c>max_tokens</c>.
    /// </para>
    /// </remarks>
    /// <example>
    /// <code>
    /// sandbox.Model("policy/claude-4")
    ///     .ReplyWithToolCall("get_diff", """{"path":"a.py"}""")
    ///     .Reply(request => $"Reviewed: {request.Messages[^1].Content}");   // the tool's result
    /// </code>
    /// </example>
    /// <param name="name">The tool (function) name.</param>
    /// <param name="arguments">The call's arguments, normally a JSON object, sent as written.</param>
    /// <returns>This script.</returns>
    public SandboxModel ReplyWithToolCall(string name, string arguments = "{}")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(arguments);
        var call = new ScriptedToolCall(name, arguments);
        return Update(s => s with { ToolCalls = [.. s.ToolCalls, call] });
    }

    /// <summary>Reports <paramref name="modelName"/> as the <c>model</c> of responses instead of the requested id.</summary>
    /// <param name="modelName">The model the responses name, such as the concrete model behind a routing alias.</param>
    /// <returns>This script.</returns>
    public SandboxModel AnswerAs(string modelName)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelName);
        return Update(s => s with { AnswerAs = modelName });
    }

    /// <summary>
    /// Reports each chat answer's cost in <c>usage.cost</c>, as gateways such as Requesty do:
    /// its prompt and completion tokens at these prices (US dollars per token).
    /// </summary>
    /// <param name="inputPerToken">The price of one prompt token.</param>
    /// <param name="outputPerToken">The price of one completion token.</param>
    /// <returns>This script.</returns>
    public SandboxModel ReportCost(decimal inputPerToken, decimal outputPerToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(inputPerToken);
        ArgumentOutOfRangeException.ThrowIfNegative(outputPerToken);
        return Update(s => s with { ReportedPrice = new ModelPrice { InputPerToken = inputPerToken, OutputPerToken = outputPerToken } });
    }

    /// <summary>
    /// Rejects requests whose <see cref="SandboxRequest.InputTokens"/> exceed <paramref name="tokens"/> with OpenAI's
    /// 400 <c>context_length_exceeded</c> error.
    /// </summary>
    /// <param name="tokens">The context window in tokens, as counted by <see cref="SandboxTokens.Count"/>.</param>
    /// <returns>This script.</returns>
    public SandboxModel WithContextWindow(int tokens)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tokens);
        return Update(s => s with { ContextWindow = tokens });
    }

    /// <summary>Waits <paramref name="latency"/> on the provider's <see cref="TimeProvider"/> before answering each request.</summary>
    /// <param name="latency">The wait; <see cref="TimeSpan.Zero"/> answers at once. Cancelling the request ends the wait.</param>
    /// <returns>This script.</returns>
    public SandboxModel WithLatency(TimeSpan latency)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(latency, TimeSpan.Zero);
        return Update(s => s with { Latency = latency });
    }

    /// <summary>
    /// Fails the next <paramref name="times"/> requests with <paramref name="statusCode"/> and an OpenAI-shaped error body,
    /// then answers normally again. Replaces any failure scripted before.
    /// </summary>
    /// <param name="statusCode">The HTTP status, from 400 to 599; 429 and 5xx carry OpenAI's rate-limit and server error bodies.</param>
    /// <param name="retryAfter">When set, sent as a <c>Retry-After</c> header in whole seconds, rounded up.</param>
    /// <param name="times">How many requests fail; the default fails all of them. Concurrent requests consume exactly this many.</param>
    /// <returns>This script.</returns>
    public SandboxModel FailWith(int statusCode, TimeSpan? retryAfter = null, int times = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(statusCode, 400);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(statusCode, 599);
        if (retryAfter is { } delay)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero, nameof(retryAfter));
        }

        return Fail(new ScriptedFailure(statusCode, retryAfter, ContextLengthExceeded: false), times);
    }

    /// <summary>
    /// Fails the next <paramref name="times"/> requests with OpenAI's 400 <c>context_length_exceeded</c> error whatever
    /// their size, then answers normally again. Replaces any failure scripted before.
    /// </summary>
    /// <remarks>
    /// The message names the context window set by <see cref="WithContextWindow"/>, or 8192 tokens when none is set, and
    /// the request's input tokens, raised to one more than the window for smaller requests as the real error always
    /// reports an excess.
    /// </remarks>
    /// <param name="times">How many requests fail; the default fails all of them.</param>
    /// <returns>This script.</returns>
    public SandboxModel FailWithContextLengthExceeded(int times = int.MaxValue) =>
        Fail(new ScriptedFailure(400, RetryAfter: null, ContextLengthExceeded: true), times);

    /// <summary>Ends streamed answers after <paramref name="events"/> data events, without <c>[DONE]</c> or usage.</summary>
    /// <remarks>
    /// Every <c>data:</c> event counts, <c>[DONE]</c> included, so a count at or above the full stream's length leaves it whole.
    /// Answers that are not streamed are unaffected.
    /// </remarks>
    /// <param name="events">How many data events are sent before the body ends.</param>
    /// <returns>This script.</returns>
    public SandboxModel CutStreamAfter(int events)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(events);
        return Update(s => s with { CutStreamAfter = events });
    }

    /// <summary>Clears every answer, tool call, fault and name scripted on this model.</summary>
    /// <returns>This script.</returns>
    public SandboxModel Reset()
    {
        lock (gate)
        {
            script = ModelScript.Default;
            failure = null;
            failuresLeft = 0;
        }

        return this;
    }

    internal bool TryConsumeFailure([NotNullWhen(true)] out ScriptedFailure? consumed)
    {
        lock (gate)
        {
            if (failure is null || failuresLeft == 0)
            {
                consumed = null;
                return false;
            }

            // int.MaxValue stands for "always", so it is never counted down.
            if (failuresLeft != int.MaxValue)
            {
                failuresLeft--;
            }

            consumed = failure;
            return true;
        }
    }

    private SandboxModel Fail(ScriptedFailure scripted, int times)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(times);
        lock (gate)
        {
            failure = scripted;
            failuresLeft = times;
        }

        return this;
    }

    private SandboxModel Update(Func<ModelScript, ModelScript> change)
    {
        lock (gate)
        {
            script = change(script);
        }

        return this;
    }
}

/// <summary>An immutable snapshot of a model's answer settings, so that one request sees one consistent script.</summary>
internal sealed record ModelScript(
    Func<SandboxRequest, string>? Answer,
    string? AnswerAs,
    int? ContextWindow,
    TimeSpan Latency,
    int? CutStreamAfter,
    ModelPrice? ReportedPrice = null)
{
    public static ModelScript Default { get; } = new(null, null, null, TimeSpan.Zero, null);

    /// <summary>Gets the scripted tool turns, in order.</summary>
    public IReadOnlyList<ScriptedToolCall> ToolCalls { get; init; } = [];
}

/// <summary>One scripted tool call: the function's name and its arguments as sent.</summary>
internal sealed record ScriptedToolCall(string Name, string Arguments);

internal sealed record ScriptedFailure(int StatusCode, TimeSpan? RetryAfter, bool ContextLengthExceeded);
