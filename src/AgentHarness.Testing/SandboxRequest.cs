using System.Net.Http.Headers;
using System.Text.Json;

namespace AgentHarness.Testing;

/// <summary>A request received by a <see cref="SandboxProvider"/>, with the fields of an OpenAI request already read out.</summary>
/// <remarks>Fields the body does not carry, or carries with an unexpected JSON type, read as empty or <see langword="null"/>.</remarks>
public sealed class SandboxRequest
{
    private SandboxRequest(
        string method,
        string path,
        string body,
        IReadOnlyDictionary<string, IReadOnlyList<string>> headers,
        DateTimeOffset receivedAt,
        AttemptTarget? target)
    {
        Method = method;
        Path = path;
        Body = body;
        Headers = headers;
        ReceivedAt = receivedAt;
        RequestedModel = target?.RequestedModel;
        Provider = target?.Provider;
        CandidateId = target?.CandidateId;
    }

    /// <summary>Gets the HTTP method, such as <c>POST</c>.</summary>
    public string Method { get; }

    /// <summary>Gets the path as received, such as <c>/v1/chat/completions</c>, without the query string.</summary>
    public string Path { get; }

    /// <summary>Gets the <c>model</c> of the body (the model as sent to the provider), or <see langword="null"/> when it has none.</summary>
    public string? Model { get; private init; }

    /// <summary>
    /// Gets the model id the caller asked the harness for, such as <c>policy/claude-4</c> when the body's
    /// <see cref="Model"/> is the member <c>claude-sonnet-4-5</c> that serves it; <see langword="null"/> for a request that
    /// did not come through a harness (<see cref="AttemptTarget"/>) or names no model.
    /// </summary>
    public string? RequestedModel { get; }

    /// <summary>
    /// Gets the name of the configured provider the harness sent the request to, such as <c>openai</c>;
    /// <see langword="null"/> for a request that did not come through a harness.
    /// </summary>
    public string? Provider { get; }

    /// <summary>Gets a value indicating whether the body asks for a streamed answer (<c>"stream": true</c>).</summary>
    public bool Stream { get; private init; }

    /// <summary>Gets the answer's token limit: <c>max_completion_tokens</c>, else <c>max_tokens</c>, else <see langword="null"/>.</summary>
    public int? MaxTokens { get; private init; }

    /// <summary>Gets the chat messages of the body, in order; empty for other requests.</summary>
    public IReadOnlyList<SandboxMessage> Messages { get; private init; } = [];

    /// <summary>Gets the text of the <c>system</c> and <c>developer</c> messages joined by new lines, or <see langword="null"/> when there are none.</summary>
    public string? SystemPrompt { get; private init; }

    /// <summary>Gets the text of the last <c>user</c> message, or <see langword="null"/> when there is none.</summary>
    public string? LastUserMessage { get; private init; }

    /// <summary>Gets the texts to embed: the <c>input</c> string, or the strings of the <c>input</c> array; empty for other requests.</summary>
    public IReadOnlyList<string> Inputs { get; private init; } = [];

    /// <summary>Gets the body as received, empty when the request had none.</summary>
    public string Body { get; }

    /// <summary>
    /// Gets the request and content headers, by case-insensitive name, with every value as received:
    /// a header sent twice has two values.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Headers { get; }

    /// <summary>
    /// Gets the input tokens by <see cref="SandboxTokens.Count"/>: for chat, each message's content plus 3 per message;
    /// for embeddings, the sum over <see cref="Inputs"/>; otherwise <c>0</c>.
    /// </summary>
    public int InputTokens { get; private init; }

    /// <summary>Gets the time, from the provider's <see cref="TimeProvider"/>, at which the request arrived.</summary>
    public DateTimeOffset ReceivedAt { get; }

    /// <summary>Gets the attempt's candidate as <c>provider/model</c> (<see cref="AttemptTarget.CandidateId"/>), or <see langword="null"/>.</summary>
    internal string? CandidateId { get; }

    internal bool IsJsonObject { get; private init; }

    internal bool IncludeUsage { get; private init; }

    internal int? Dimensions { get; private init; }

    internal string? EncodingFormat { get; private init; }

    /// <summary>Gets a value indicating whether the body offers the model tools (a non-empty <c>tools</c> array).</summary>
    internal bool OffersTools { get; private init; }

    /// <summary>Gets how many assistant messages with tool calls follow the last <c>user</c> message: the tool turns answered so far.</summary>
    internal int ToolTurns { get; private init; }

    internal static async Task<SandboxRequest> ReadAsync(
        HttpRequestMessage message,
        DateTimeOffset receivedAt,
        CancellationToken cancellationToken)
    {
        message.Options.TryGetValue(AttemptTarget.OptionsKey, out var target);
        var body = message.Content is null
            ? string.Empty
            : await message.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        var method = message.Method.Method;
        var path = PathOf(message.RequestUri);
        var headers = HeadersOf(message);

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            return new SandboxRequest(method, path, body, headers, receivedAt, target);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new SandboxRequest(method, path, body, headers, receivedAt, target);
            }

            var messages = MessagesOf(root);
            var inputs = InputsOf(root);
            var systemTexts = messages.Where(m => m.Role is "system" or "developer").Select(m => m.Content).ToList();
            return new SandboxRequest(method, path, body, headers, receivedAt, target)
            {
                IsJsonObject = true,
                Model = StringOf(root, "model"),
                Stream = root.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True,
                MaxTokens = IntOf(root, "max_completion_tokens") ?? IntOf(root, "max_tokens"),
                Messages = messages,
                SystemPrompt = systemTexts.Count == 0 ? null : string.Join('\n', systemTexts),
                LastUserMessage = messages.LastOrDefault(m => m.Role == "user")?.Content,
                Inputs = inputs,
                InputTokens = messages.Sum(m => SandboxTokens.Count(m.Content) + 3) + inputs.Sum(SandboxTokens.Count),
                IncludeUsage = root.TryGetProperty("stream_options", out var options)
                    && options.ValueKind == JsonValueKind.Object
                    && options.TryGetProperty("include_usage", out var includeUsage)
                    && includeUsage.ValueKind == JsonValueKind.True,
                Dimensions = IntOf(root, "dimensions"),
                EncodingFormat = StringOf(root, "encoding_format"),
                OffersTools = root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array && tools.GetArrayLength() > 0,
                ToolTurns = ToolTurnsOf(root),
            };
        }
    }

    private static string PathOf(Uri? uri)
    {
        if (uri is null)
        {
            return "/";
        }

        if (uri.IsAbsoluteUri)
        {
            return uri.AbsolutePath;
        }

        var text = uri.OriginalString;
        var query = text.IndexOfAny(['?', '#']);
        return query < 0 ? text : text[..query];
    }

    private static Dictionary<string, IReadOnlyList<string>> HeadersOf(HttpRequestMessage message)
    {
        var headers = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);

        // NonValidated gives the values as the sender added them, without HttpHeaders re-parsing or merging them.
        void Add(HttpHeadersNonValidated source)
        {
            foreach (var (name, values) in source)
            {
                headers[name] = [.. values];
            }
        }

        Add(message.Headers.NonValidated);
        if (message.Content is not null)
        {
            Add(message.Content.Headers.NonValidated);
        }

        return headers;
    }

    private static List<SandboxMessage> MessagesOf(JsonElement root)
    {
        var messages = new List<SandboxMessage>();
        if (!root.TryGetProperty("messages", out var array) || array.ValueKind != JsonValueKind.Array)
        {
            return messages;
        }

        foreach (var message in array.EnumerateArray())
        {
            if (message.ValueKind == JsonValueKind.Object)
            {
                messages.Add(new SandboxMessage(StringOf(message, "role") ?? string.Empty, ContentOf(message)));
            }
        }

        return messages;
    }

    private static int ToolTurnsOf(JsonElement root)
    {
        if (!root.TryGetProperty("messages", out var array) || array.ValueKind != JsonValueKind.Array)
        {
            return 0;
        }

        var turns = 0;
        foreach (var message in array.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            var role = StringOf(message, "role");
            if (role == "user")
            {
                // A new question starts the scripted tool turns over.
                turns = 0;
            }
            else if (role == "assistant"
                && message.TryGetProperty("tool_calls", out var calls)
                && calls.ValueKind == JsonValueKind.Array
                && calls.GetArrayLength() > 0)
            {
                turns++;
            }
        }

        return turns;
    }

    private static string ContentOf(JsonElement message)
    {
        if (!message.TryGetProperty("content", out var content))
        {
            return string.Empty;
        }

        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!;
        }

        if (content.ValueKind != JsonValueKind.Array)
        {
            return string.Empty;
        }

        var texts = content.EnumerateArray()
            .Where(part => part.ValueKind == JsonValueKind.Object && StringOf(part, "type") == "text")
            .Select(part => StringOf(part, "text"))
            .OfType<string>();
        return string.Join('\n', texts);
    }

    private static List<string> InputsOf(JsonElement root)
    {
        if (!root.TryGetProperty("input", out var input))
        {
            return [];
        }

        return input.ValueKind switch
        {
            JsonValueKind.String => [input.GetString()!],

            // Token-id arrays are valid for OpenAI but carry no text to record, so only an all-string array counts.
            JsonValueKind.Array when input.EnumerateArray().All(item => item.ValueKind == JsonValueKind.String) =>
                [.. input.EnumerateArray().Select(item => item.GetString()!)],
            _ => [],
        };
    }

    private static string? StringOf(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static int? IntOf(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number)
            ? number
            : null;
}
