using System.Text.Json;

namespace AgentHarness.Telemetry.Internal;

/// <summary>
/// Reads why a whole answer's generation stopped: each choice's <c>finish_reason</c> (chat and text completions), or
/// the Responses API's <c>status</c>. Only a span that records reads it, so the call path never pays for it.
/// </summary>
internal static class FinishReasons
{
    private static readonly string[] Known = ["stop", "length", "tool_calls", "content_filter", "function_call", "completed", "incomplete"];

    /// <summary>The reasons of a whole answer, in choice order; empty when it names none or is not JSON.</summary>
    public static string[] Read(ReadOnlySpan<byte> answer)
    {
        List<string>? reasons = null;
        var reader = new Utf8JsonReader(answer);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return [];
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("choices"u8))
                {
                    reader.Read();
                    ReadChoices(ref reader, ref reasons);
                }
                else if (reader.ValueTextEquals("status"u8))
                {
                    reader.Read();
                    Add(ref reader, ref reasons);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            // A malformed answer is the client's to report; what was read so far stands.
        }

        return reasons is null ? [] : [.. reasons];
    }

    /// <summary>The reason a stream's last choice event named, as an array, or empty.</summary>
    public static string[] Of(string? reason) => reason is null ? [] : [reason];

    private static void ReadChoices(ref Utf8JsonReader reader, ref List<string>? reasons)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isReason = reader.ValueTextEquals("finish_reason"u8);
                reader.Read();
                if (isReason)
                {
                    Add(ref reader, ref reasons);
                }
                else
                {
                    reader.Skip();
                }
            }
        }
    }

    private static void Add(ref Utf8JsonReader reader, ref List<string>? reasons)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            reader.Skip();
            return;
        }

        // The usual reasons are shared strings; anything else is a provider's own word, kept short.
        string? reason = null;
        foreach (var known in Known)
        {
            if (reader.ValueTextEquals(known))
            {
                reason = known;
                break;
            }
        }

        reason ??= Shorten(reader.GetString());
        if (reason is not null)
        {
            (reasons ??= new List<string>(1)).Add(reason);
        }
    }

    private static string? Shorten(string? value) => value is { Length: > 64 } ? value[..64] : value;
}
