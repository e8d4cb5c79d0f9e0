using System.Buffers;
using System.Text;
using System.Text.Json;

namespace AgentHarness.Caching.Internal;

/// <summary>
/// The shapes of a chat answer the cache moves between: a whole <c>chat.completion</c> and its stream of
/// <c>chat.completion.chunk</c> events. A stream is stored as the whole answer it adds up to, and a whole answer is
/// replayed to a streamed request as the events the official client reads: each choice's delta (role, content,
/// reasoning, refusal, tool calls), its finish reason, the usage event and <c>[DONE]</c>.
/// </summary>
internal static class AnswerShapes
{
    public const string ChatOperation = "chat/completions";
    public const string EmbeddingsOperation = "embeddings";

    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false, SkipValidation = true };

    /// <summary>Whether the cache serves and stores this operation; only chat completions stream.</summary>
    public static bool Cacheable(string operation, bool stream) =>
        operation == ChatOperation || (!stream && operation == EmbeddingsOperation);

    /// <summary>
    /// Whether a whole answer is good enough to serve again: no error, and for chat no choice stopped by a content filter and
    /// at least one choice with content or a tool call; for embeddings at least one vector.
    /// </summary>
    public static bool IsGood(string operation, ReadOnlySpan<byte> body)
    {
        try
        {
            using var document = JsonDocument.Parse(body.ToArray());
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || (root.TryGetProperty("error", out var error) && error.ValueKind != JsonValueKind.Null))
            {
                return false;
            }

            if (operation == EmbeddingsOperation)
            {
                return root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array && data.GetArrayLength() > 0;
            }

            if (!root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array)
            {
                return false;
            }

            // A choice the provider's content filter stopped is a refusal of the moment (filters and their settings change),
            // not an answer to keep serving, whatever the other choices hold.
            var answered = false;
            foreach (var choice in choices.EnumerateArray())
            {
                if (choice.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }

                if (choice.TryGetProperty("finish_reason", out var reason) && reason.ValueKind == JsonValueKind.String && reason.ValueEquals("content_filter"u8))
                {
                    return false;
                }

                answered |= choice.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object
                    && ((message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String && content.GetString()!.Length > 0)
                        || (message.TryGetProperty("tool_calls", out var tools) && tools.ValueKind == JsonValueKind.Array && tools.GetArrayLength() > 0));
            }

            return answered;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Adds a chat stream's events up to the whole answer they stand for, or returns <see langword="null"/> when they are not a chat stream.</summary>
    public static byte[]? Assemble(ReadOnlySpan<byte> events)
    {
        var answer = new Assembled();
        try
        {
            foreach (var line in Encoding.UTF8.GetString(events).Split('\n'))
            {
                var text = line.TrimEnd('\r');
                if (!text.StartsWith("data:", StringComparison.Ordinal))
                {
                    continue;
                }

                var data = text[5..].TrimStart(' ');
                if (data == "[DONE]")
                {
                    answer.Done = true;
                    break;
                }

                using var chunk = JsonDocument.Parse(data);
                answer.Add(chunk.RootElement);
            }
        }
        catch (JsonException)
        {
            return null;
        }

        return answer.Done ? answer.ToWhole() : null;
    }

    /// <summary>A stream's chunks added up: the first chunk's identity, each choice's text and tool calls, the last usage.</summary>
    private sealed class Assembled
    {
        private readonly SortedDictionary<int, Choice> _choices = [];
        private string? _id;
        private long? _created;
        private string? _model;
        private string? _fingerprint;
        private string? _serviceTier;
        private string? _usage;

        public bool Done { get; set; }

        public void Add(JsonElement chunk)
        {
            if (chunk.ValueKind != JsonValueKind.Object)
            {
                return;
            }

            _id ??= String(chunk, "id");
            _created ??= chunk.TryGetProperty("created", out var c) && c.TryGetInt64(out var created) ? created : null;
            _model ??= String(chunk, "model");
            _fingerprint ??= String(chunk, "system_fingerprint");
            _serviceTier ??= String(chunk, "service_tier");
            if (chunk.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                _usage = usage.GetRawText();
            }

            if (!chunk.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array)
            {
                return;
            }

            foreach (var item in choices.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }

                var index = item.TryGetProperty("index", out var i) && i.TryGetInt32(out var n) ? n : 0;
                if (!_choices.TryGetValue(index, out var choice))
                {
                    _choices[index] = choice = new Choice();
                }

                if (String(item, "finish_reason") is { } reason)
                {
                    choice.FinishReason = reason;
                }

                if (item.TryGetProperty("delta", out var delta) && delta.ValueKind == JsonValueKind.Object)
                {
                    choice.Add(delta);
                }
            }
        }

        public byte[] ToWhole()
        {
            var output = new ArrayBufferWriter<byte>();
            using (var writer = new Utf8JsonWriter(output, WriterOptions))
            {
                writer.WriteStartObject();
                if (_id is not null)
                {
                    writer.WriteString("id", _id);
                }

                writer.WriteString("object", "chat.completion");
                writer.WriteNumber("created", _created ?? 0);
                if (_model is not null)
                {
                    writer.WriteString("model", _model);
                }

                if (_fingerprint is not null)
                {
                    writer.WriteString("system_fingerprint", _fingerprint);
                }

                if (_serviceTier is not null)
                {
                    writer.WriteString("service_tier", _serviceTier);
                }

                writer.WritePropertyName("choices");
                writer.WriteStartArray();
                foreach (var (index, choice) in _choices)
                {
                    choice.Write(writer, index);
                }

                writer.WriteEndArray();
                if (_usage is not null)
                {
                    writer.WritePropertyName("usage");
                    writer.WriteRawValue(_usage, skipInputValidation: true);
                }

                writer.WriteEndObject();
            }

            return output.WrittenSpan.ToArray();
        }

        private static string? String(JsonElement element, string name) =>
            element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }

    /// <summary>One choice of a stream, added up.</summary>
    private sealed class Choice
    {
        private readonly StringBuilder _content = new();
        private readonly StringBuilder _refusal = new();
        private readonly StringBuilder _reasoning = new();
        private readonly SortedDictionary<int, ToolCall> _tools = [];
        private bool _hasContent;
        private bool _hasRefusal;
        private string? _reasoningName;

        public string? FinishReason { get; set; }

        public void Add(JsonElement delta)
        {
            foreach (var field in delta.EnumerateObject())
            {
                if (field.Value.ValueKind == JsonValueKind.String && field.NameEquals("content"))
                {
                    _hasContent = true;
                    _content.Append(field.Value.GetString());
                }
                else if (field.Value.ValueKind == JsonValueKind.String && field.NameEquals("refusal"))
                {
                    _hasRefusal = true;
                    _refusal.Append(field.Value.GetString());
                }
                else if (field.Value.ValueKind == JsonValueKind.String && (field.NameEquals("reasoning_content") || field.NameEquals("reasoning")))
                {
                    _reasoningName ??= field.Name;
                    _reasoning.Append(field.Value.GetString());
                }
                else if (field.NameEquals("tool_calls") && field.Value.ValueKind == JsonValueKind.Array)
                {
                    foreach (var call in field.Value.EnumerateArray())
                    {
                        var index = call.TryGetProperty("index", out var i) && i.TryGetInt32(out var n) ? n : _tools.Count;
                        if (!_tools.TryGetValue(index, out var tool))
                        {
                            _tools[index] = tool = new ToolCall();
                        }

                        tool.Add(call);
                    }
                }
            }
        }

        public void Write(Utf8JsonWriter writer, int index)
        {
            writer.WriteStartObject();
            writer.WriteNumber("index", index);
            writer.WritePropertyName("message");
            writer.WriteStartObject();
            writer.WriteString("role", "assistant");
            if (_hasContent)
            {
                writer.WriteString("content", _content.ToString());
            }
            else
            {
                writer.WriteNull("content");
            }

            if (_reasoningName is not null)
            {
                writer.WriteString(_reasoningName, _reasoning.ToString());
            }

            if (_hasRefusal)
            {
                writer.WriteString("refusal", _refusal.ToString());
            }

            if (_tools.Count > 0)
            {
                writer.WritePropertyName("tool_calls");
                writer.WriteStartArray();
                foreach (var tool in _tools.Values)
                {
                    tool.Write(writer);
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
            writer.WriteNull("logprobs");
            // A stream that named no reason still ended at its marker: a whole answer always has one.
            writer.WriteString("finish_reason", FinishReason ?? (_tools.Count > 0 ? "tool_calls" : "stop"));

            writer.WriteEndObject();
        }
    }

    /// <summary>One tool call of a stream's choice, added up: its id, type and name, and its arguments' pieces.</summary>
    private sealed class ToolCall
    {
        private readonly StringBuilder _arguments = new();
        private string? _id;
        private string? _type;
        private string? _name;

        public void Add(JsonElement call)
        {
            _id ??= call.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null;
            _type ??= call.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String ? type.GetString() : null;
            if (call.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object)
            {
                if (function.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
                {
                    _name = (_name ?? string.Empty) + name.GetString();
                }

                if (function.TryGetProperty("arguments", out var arguments) && arguments.ValueKind == JsonValueKind.String)
                {
                    _arguments.Append(arguments.GetString());
                }
            }
        }

        public void Write(Utf8JsonWriter writer)
        {
            writer.WriteStartObject();
            if (_id is not null)
            {
                writer.WriteString("id", _id);
            }

            writer.WriteString("type", _type ?? "function");
            writer.WritePropertyName("function");
            writer.WriteStartObject();
            writer.WriteString("name", _name ?? string.Empty);
            writer.WriteString("arguments", _arguments.ToString());
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
    }
}
