using System.Buffers;
using System.Text;
using System.Text.Json;

namespace AgentHarness.Telemetry.Internal;

/// <summary>
/// The messages of a chat completions call in the GenAI conventions' format (<c>gen_ai.input.messages</c>,
/// <c>gen_ai.output.messages</c>: role, parts, finish reason), for a span whose application turned on
/// <see cref="TelemetryOptions.CaptureMessageContent"/>. Never read otherwise.
/// </summary>
internal static class MessageContent
{
    /// <summary>The request's <c>messages</c>, or <see langword="null"/> when the body has none it can read.</summary>
    public static string? Input(ReadOnlySpan<byte> body) => Convert(body, "messages"u8, output: false);

    /// <summary>A whole answer's <c>choices</c>, or <see langword="null"/>.</summary>
    public static string? Output(ReadOnlySpan<byte> answer) => Convert(answer, "choices"u8, output: true);

    /// <summary>A stream's output as one assistant message with the text it carried.</summary>
    public static string StreamOutput(string text, string? finishReason)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            writer.WriteStartObject();
            writer.WriteString("role"u8, "assistant"u8);
            writer.WriteStartArray("parts"u8);
            TextPart(writer, text);
            writer.WriteEndArray();
            if (finishReason is not null)
            {
                writer.WriteString("finish_reason"u8, finishReason);
            }

            writer.WriteEndObject();
            writer.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string? Convert(ReadOnlySpan<byte> json, ReadOnlySpan<byte> property, bool output)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var reader = new Utf8JsonReader(json);
        try
        {
            using var writer = new Utf8JsonWriter(buffer);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            var found = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var match = reader.ValueTextEquals(property);
                reader.Read();
                if (!match || reader.TokenType != JsonTokenType.StartArray || found)
                {
                    reader.Skip();
                    continue;
                }

                found = true;
                writer.WriteStartArray();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        using var item = JsonDocument.ParseValue(ref reader);
                        Message(writer, item.RootElement, output);
                    }
                    else
                    {
                        reader.Skip();
                    }
                }

                writer.WriteEndArray();
            }

            if (!found)
            {
                return null;
            }
        }
        catch (JsonException)
        {
            return null;
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Writes one message: a request's message, or an answer's choice (its <c>message</c> and <c>finish_reason</c>).</summary>
    private static void Message(Utf8JsonWriter writer, JsonElement item, bool output)
    {
        var message = output && item.TryGetProperty("message", out var inner) && inner.ValueKind == JsonValueKind.Object ? inner : item;
        writer.WriteStartObject();
        writer.WriteString("role"u8, message.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String ? role.GetString() : output ? "assistant" : "user");
        writer.WriteStartArray("parts"u8);
        if (message.TryGetProperty("content", out var content))
        {
            if (message.TryGetProperty("tool_call_id", out var callId) && callId.ValueKind == JsonValueKind.String)
            {
                writer.WriteStartObject();
                writer.WriteString("type"u8, "tool_call_response"u8);
                writer.WriteString("id"u8, callId.GetString());
                writer.WritePropertyName("response"u8);
                content.WriteTo(writer);
                writer.WriteEndObject();
            }
            else if (content.ValueKind == JsonValueKind.String)
            {
                TextPart(writer, content.GetString()!);
            }
            else if (content.ValueKind == JsonValueKind.Array)
            {
                foreach (var part in content.EnumerateArray())
                {
                    Part(writer, part);
                }
            }
        }

        if (message.TryGetProperty("refusal", out var refusal) && refusal.ValueKind == JsonValueKind.String)
        {
            TextPart(writer, refusal.GetString()!);
        }

        if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
        {
            foreach (var call in calls.EnumerateArray())
            {
                writer.WriteStartObject();
                writer.WriteString("type"u8, "tool_call"u8);
                if (call.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String)
                {
                    writer.WriteString("id"u8, id.GetString());
                }

                if (call.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object)
                {
                    if (function.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
                    {
                        writer.WriteString("name"u8, name.GetString());
                    }

                    if (function.TryGetProperty("arguments", out var arguments))
                    {
                        writer.WritePropertyName("arguments"u8);
                        arguments.WriteTo(writer);
                    }
                }

                writer.WriteEndObject();
            }
        }

        writer.WriteEndArray();
        if (output && item.TryGetProperty("finish_reason", out var reason) && reason.ValueKind == JsonValueKind.String)
        {
            writer.WriteString("finish_reason"u8, reason.GetString());
        }

        writer.WriteEndObject();
    }

    /// <summary>A part of a message's content array: text as text, anything else (images, audio, files) by its type only.</summary>
    private static void Part(Utf8JsonWriter writer, JsonElement part)
    {
        if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
        {
            return;
        }

        if (type.ValueEquals("text"u8) && part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
        {
            TextPart(writer, text.GetString()!);
            return;
        }

        // Binary content is not copied into a span: its type says what was sent.
        writer.WriteStartObject();
        writer.WriteString("type"u8, type.GetString());
        writer.WriteEndObject();
    }

    private static void TextPart(Utf8JsonWriter writer, string text)
    {
        writer.WriteStartObject();
        writer.WriteString("type"u8, "text"u8);
        writer.WriteString("content"u8, text);
        writer.WriteEndObject();
    }
}
