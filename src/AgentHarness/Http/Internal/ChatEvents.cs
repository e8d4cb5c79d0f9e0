using System.Buffers;
using System.Text.Json;

namespace AgentHarness.Http.Internal;

/// <summary>
/// A whole <c>chat.completion</c> as the <c>chat.completion.chunk</c> events a streamed request reads: each choice's delta
/// (role, content, reasoning, refusal, tool calls), its finish reason, the usage event and <c>[DONE]</c>. The response
/// cache replays a stored answer with it, and the transport hands a streamed request the whole answer of a server that
/// ignored <c>stream</c>.
/// </summary>
internal static class ChatEvents
{
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false, SkipValidation = true };

    /// <summary>A whole chat answer as the stream of events a streamed request gets.</summary>
    /// <exception cref="JsonException">The answer is not JSON.</exception>
    public static byte[] FromWhole(ReadOnlyMemory<byte> whole)
    {
        using var document = JsonDocument.Parse(whole);
        var root = document.RootElement;
        var output = new ArrayBufferWriter<byte>(whole.Length * 2);
        if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
        {
            foreach (var choice in choices.EnumerateArray())
            {
                var index = choice.TryGetProperty("index", out var i) && i.TryGetInt32(out var n) ? n : 0;
                Event(output, root, writer =>
                {
                    writer.WriteStartObject();
                    writer.WriteNumber("index", index);
                    writer.WritePropertyName("delta");
                    writer.WriteStartObject();
                    if (choice.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object)
                    {
                        foreach (var field in message.EnumerateObject())
                        {
                            if (field.NameEquals("tool_calls") && field.Value.ValueKind == JsonValueKind.Array)
                            {
                                writer.WritePropertyName("tool_calls");
                                writer.WriteStartArray();
                                var k = 0;
                                foreach (var call in field.Value.EnumerateArray())
                                {
                                    writer.WriteStartObject();
                                    writer.WriteNumber("index", k++);
                                    foreach (var part in call.EnumerateObject())
                                    {
                                        part.WriteTo(writer);
                                    }

                                    writer.WriteEndObject();
                                }

                                writer.WriteEndArray();
                            }
                            else if (field.Value.ValueKind != JsonValueKind.Null)
                            {
                                field.WriteTo(writer);
                            }
                        }
                    }

                    writer.WriteEndObject();
                    writer.WriteNull("logprobs");
                    writer.WriteNull("finish_reason");
                    writer.WriteEndObject();
                });
                Event(output, root, writer =>
                {
                    writer.WriteStartObject();
                    writer.WriteNumber("index", index);
                    writer.WritePropertyName("delta");
                    writer.WriteStartObject();
                    writer.WriteEndObject();
                    writer.WriteNull("logprobs");
                    writer.WritePropertyName("finish_reason");
                    if (choice.TryGetProperty("finish_reason", out var reason))
                    {
                        reason.WriteTo(writer);
                    }
                    else
                    {
                        writer.WriteStringValue("stop");
                    }

                    writer.WriteEndObject();
                });
            }
        }

        if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            Event(output, root, choice: null, usage);
        }

        output.Write("data: [DONE]\n\n"u8);
        return output.WrittenSpan.ToArray();
    }

    private static void Event(ArrayBufferWriter<byte> output, JsonElement root, Action<Utf8JsonWriter>? choice, JsonElement? usage = null)
    {
        output.Write("data: "u8);
        using (var writer = new Utf8JsonWriter(output, WriterOptions))
        {
            writer.WriteStartObject();
            Copy(writer, root, "id");
            writer.WriteString("object", "chat.completion.chunk");
            Copy(writer, root, "created");
            Copy(writer, root, "model");
            Copy(writer, root, "system_fingerprint");
            Copy(writer, root, "service_tier");
            writer.WritePropertyName("choices");
            writer.WriteStartArray();
            choice?.Invoke(writer);
            writer.WriteEndArray();
            if (usage is { } u)
            {
                writer.WritePropertyName("usage");
                u.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        output.Write("\n\n"u8);
    }

    private static void Copy(Utf8JsonWriter writer, JsonElement root, string name)
    {
        if (root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null)
        {
            writer.WritePropertyName(name);
            value.WriteTo(writer);
        }
    }
}
