using System.Collections.Concurrent;
using System.Globalization;
using System.Net;

namespace AgentHarness.Testing;

/// <summary>
/// An in-process, OpenAI-compatible provider with scripted answers and fault injection, for offline runs and tests.
/// </summary>
/// <remarks>
/// <para>
/// It serves <c>POST …/chat/completions</c> (whole or streamed), <c>POST …/embeddings</c> and <c>GET …/models</c>,
/// matching paths by suffix so that any base address works. Embeddings are deterministic unit vectors derived from a hash
/// of each input, with 8 dimensions unless the request asks for <c>dimensions</c>, as floats or base64 as requested.
/// Point an HTTP client at it with <see cref="CreateHandler"/>, or call <see cref="HandleAsync"/> from a server adapter.
/// </para>
/// <para>
/// Each request is answered by the script of its <c>model</c> (see <see cref="Model"/>), or by <see cref="Default"/>
/// when that model has none. A request sent by a harness (see
/// <see cref="SandboxAgentHarnessBuilderExtensions.UseSandbox"/>) is answered by the script of the first of these ids that
/// has one: the model id the caller asked for (<see cref="SandboxRequest.RequestedModel"/>), the attempt's candidate as
/// <c>provider/model</c>, the <c>model</c> as sent, then <see cref="Default"/>. Without a scripted reply the answer is
/// <c>Sandbox answer from &lt;model&gt; to: &lt;first 60 characters of the last user message&gt;</c>.
/// All members are thread safe.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// var sandbox = new SandboxProvider();
/// sandbox.Model("openai/gpt-4.1-nano").Reply("Hello!").FailWith(429, TimeSpan.FromSeconds(1), times: 1);
/// var chat = new ChatClient("openai/gpt-4.1-nano", new ApiKeyCredential("any"), new OpenAIClientOptions
/// {
///     Endpoint = new Uri("https://sandbox.test/v1"),
///     Transport = new HttpClientPipelineTransport(new HttpClient(sandbox.CreateHandler())),
/// });
/// // The first call sees a 429 with Retry-After: 1, the next one answers "Hello!".
/// </code>
/// </example>
public sealed class SandboxProvider
{
    private const int DefaultAnswerPrefixLength = 60;

    private readonly TimeProvider timeProvider;
    private readonly ConcurrentDictionary<string, SandboxModel> models = new(StringComparer.Ordinal);
    private readonly List<SandboxRequest> requests = [];
    private readonly Lock requestsGate = new();
    private long completionCount;

    /// <summary>Initializes a new instance of the <see cref="SandboxProvider"/> class.</summary>
    /// <param name="timeProvider">
    /// The clock for latency, timestamps and <c>created</c> fields; <see cref="TimeProvider.System"/> when <see langword="null"/>.
    /// Tests pass a fake clock to control latency.
    /// </param>
    public SandboxProvider(TimeProvider? timeProvider = null)
    {
        this.timeProvider = timeProvider ?? TimeProvider.System;
        Default = new SandboxModel("*", this.timeProvider.GetUtcNow());
    }

    /// <summary>Gets the script for requests whose model has no script of its own.</summary>
    public SandboxModel Default { get; }

    /// <summary>Gets a snapshot of every request received so far, failed ones included, in arrival order.</summary>
    public IReadOnlyList<SandboxRequest> Requests
    {
        get
        {
            lock (requestsGate)
            {
                return [.. requests];
            }
        }
    }

    /// <summary>Gets the script for requests whose <c>model</c> is exactly <paramref name="modelId"/>, creating it when needed.</summary>
    /// <param name="modelId">The model id, compared ordinally, such as <c>openai/gpt-4.1-nano</c>.</param>
    /// <returns>The model's script, the same instance on every call with the same id.</returns>
    public SandboxModel Model(string modelId)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelId);
        return models.GetOrAdd(modelId, static (id, clock) => new SandboxModel(id, clock.GetUtcNow()), timeProvider);
    }

    /// <summary>
    /// Gets the requests received so far that <paramref name="modelId"/> names, in arrival order: those whose
    /// <see cref="SandboxRequest.RequestedModel"/>, candidate (<c>provider/model</c>, see
    /// <see cref="AttemptTarget.CandidateId"/>) or <see cref="SandboxRequest.Model"/> is exactly <paramref name="modelId"/>.
    /// </summary>
    /// <remarks>
    /// Behind a harness, <c>RequestsFor("policy/claude-4")</c> gives every attempt of the calls to that policy, and
    /// <c>RequestsFor("anthropic/claude-sonnet-4-5")</c> the attempts sent to that member.
    /// </remarks>
    /// <param name="modelId">The model id, compared ordinally.</param>
    /// <returns>A snapshot of the matching requests.</returns>
    public IReadOnlyList<SandboxRequest> RequestsFor(string modelId)
    {
        ArgumentNullException.ThrowIfNull(modelId);
        return [.. Requests.Where(request =>
            string.Equals(request.RequestedModel, modelId, StringComparison.Ordinal)
            || string.Equals(request.CandidateId, modelId, StringComparison.Ordinal)
            || string.Equals(request.Model, modelId, StringComparison.Ordinal))];
    }

    /// <summary>Creates a message handler that serves requests from this provider in process.</summary>
    /// <returns>A new handler over this provider's shared scripts and request log; give it to an <see cref="HttpClient"/>.</returns>
    public HttpMessageHandler CreateHandler() => new SandboxHttpHandler(this);

    /// <summary>Records <paramref name="request"/> and answers it as an OpenAI-compatible server would.</summary>
    /// <param name="request">The request; its content is read to the end.</param>
    /// <param name="cancellationToken">Cancels the request, including any scripted latency.</param>
    /// <returns>The response: an answer, an OpenAI-shaped error, or a scripted fault.</returns>
    public async Task<HttpResponseMessage> HandleAsync(HttpRequestMessage request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var received = await SandboxRequest.ReadAsync(request, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        lock (requestsGate)
        {
            requests.Add(received);
        }

        var response = await RespondAsync(received, cancellationToken).ConfigureAwait(false);
        response.RequestMessage = request;
        return response;
    }

    private async Task<HttpResponseMessage> RespondAsync(SandboxRequest request, CancellationToken cancellationToken)
    {
        var endpoint = EndpointOf(request);
        if (endpoint == Endpoint.Unknown)
        {
            return OpenAIErrors.InvalidUrl(request);
        }

        if (endpoint == Endpoint.Models)
        {
            return ModelList();
        }

        if (!request.IsJsonObject)
        {
            return OpenAIErrors.InvalidJson();
        }

        if (request.Model is null)
        {
            return OpenAIErrors.InvalidRequest("you must provide a model parameter", param: null);
        }

        if (endpoint == Endpoint.Embeddings && Embeddings.Validate(request) is { } invalid)
        {
            return invalid;
        }

        var model = ScriptFor(request);
        var script = model.Script;
        if (script.Latency > TimeSpan.Zero)
        {
            await Task.Delay(script.Latency, timeProvider, cancellationToken).ConfigureAwait(false);
        }

        var isChat = endpoint == Endpoint.ChatCompletions;
        if (model.TryConsumeFailure(out var failure))
        {
            if (failure.ContextLengthExceeded)
            {
                var window = script.ContextWindow ?? OpenAIErrors.DefaultContextWindow;
                return OpenAIErrors.ContextLengthExceeded(isChat, window, Math.Max(request.InputTokens, window + 1));
            }

            return OpenAIErrors.Scripted(failure);
        }

        if (script.ContextWindow is int contextWindow && request.InputTokens > contextWindow)
        {
            return OpenAIErrors.ContextLengthExceeded(isChat, contextWindow, request.InputTokens);
        }

        var answeringModel = script.AnswerAs ?? request.Model;
        if (!isChat)
        {
            return Embeddings.CreateResponse(request, answeringModel);
        }

        var number = Interlocked.Increment(ref completionCount);
        var id = string.Create(CultureInfo.InvariantCulture, $"chatcmpl-sbx-{number}");
        var created = timeProvider.GetUtcNow().ToUnixTimeSeconds();
        var completion = request.OffersTools && request.ToolTurns < script.ToolCalls.Count
            ? ChatCompletions.CallTool(id, created, answeringModel, script.ToolCalls[request.ToolTurns], string.Create(CultureInfo.InvariantCulture, $"call_sbx_{number}"), request, script.ReportedPrice)
            : ChatCompletions.Complete(id, created, answeringModel, script.Answer?.Invoke(request) ?? DefaultAnswer(request), request, script.ReportedPrice);
        return request.Stream
            ? ChatCompletions.CreateStreamingResponse(completion, request.IncludeUsage, script.CutStreamAfter)
            : ChatCompletions.CreateResponse(completion);
    }

    /// <summary>The script of the first id that has one: the id the caller asked for, the candidate, the model as sent.</summary>
    private SandboxModel ScriptFor(SandboxRequest request)
    {
        if (request.RequestedModel is { } requested && models.TryGetValue(requested, out var model))
        {
            return model;
        }

        if (request.CandidateId is { } candidate && models.TryGetValue(candidate, out model))
        {
            return model;
        }

        return request.Model is { } sent && models.TryGetValue(sent, out model) ? model : Default;
    }

    private static string DefaultAnswer(SandboxRequest request)
    {
        var question = request.LastUserMessage ?? string.Empty;
        if (question.Length > DefaultAnswerPrefixLength)
        {
            question = question[..DefaultAnswerPrefixLength];
        }

        return $"Sandbox answer from {request.Model} to: {question}";
    }

    private static Endpoint EndpointOf(SandboxRequest request)
    {
        var path = "/" + request.Path.Trim('/');
        var method = request.Method;
        if (method == HttpMethod.Post.Method && path.EndsWith("/chat/completions", StringComparison.Ordinal))
        {
            return Endpoint.ChatCompletions;
        }

        if (method == HttpMethod.Post.Method && path.EndsWith("/embeddings", StringComparison.Ordinal))
        {
            return Endpoint.Embeddings;
        }

        return method == HttpMethod.Get.Method && path.EndsWith("/models", StringComparison.Ordinal)
            ? Endpoint.Models
            : Endpoint.Unknown;
    }

    private HttpResponseMessage ModelList()
    {
        var listed = models.Values.OrderBy(model => model.Id, StringComparer.Ordinal).ToList();
        return JsonResponse.Create(HttpStatusCode.OK, writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("object", "list");
            writer.WriteStartArray("data");
            foreach (var model in listed)
            {
                writer.WriteStartObject();
                writer.WriteString("id", model.Id);
                writer.WriteString("object", "model");
                writer.WriteNumber("created", model.CreatedAt.ToUnixTimeSeconds());
                writer.WriteString("owned_by", "sandbox");
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        });
    }

    private enum Endpoint
    {
        Unknown,
        ChatCompletions,
        Embeddings,
        Models,
    }
}
