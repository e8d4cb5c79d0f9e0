using System.Text.Json;

namespace AgentHarness.Http.Internal;

/// <summary>
/// Model and token counts read from a response document or a stream event. Understands the chat
/// completions and embeddings shapes (<c>prompt_tokens</c>, <c>completion_tokens</c>) and the
/// Responses shape (<c>input_tokens</c>, <c>output_tokens</c>, and a nested <c>response</c> object
/// in stream events).
/// </summary>
internal struct UsageReading
{
    public string? Model;
    public int InputTokens;
    public int OutputTokens;
    public int CachedInputTokens;

    /// <summary>The cost the provider or gateway reported (<c>usage.cost</c>, a number or a string), or <see langword="null"/>.</summary>
    public decimal? ReportedCost;

    /// <summary>Whether a <c>usage</c> object was read.</summary>
    public bool HasUsage;

    /// <summary>When set, receives the text of every output delta of a stream, to charge a stream cut short by what it carried.</summary>
    public OutputText? Deltas;

    /// <summary>Whether the document was a terminal stream event of the Responses API (<c>response.completed</c>, ...), which has no <c>[DONE]</c> after it.</summary>
    public bool Terminal;

    /// <summary>Whether the document carried a top-level <c>error</c>: an error event in a stream.</summary>
    public bool HasError;

    /// <summary>Reads one JSON document; a document that is not a JSON object leaves the reading as it was.</summary>
    /// <returns><see langword="true"/> when the document is a well-formed JSON object.</returns>
    public bool Read(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        try
        {
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                ReadObject(ref reader, nested: false);
                return reader.TokenType == JsonTokenType.EndObject && !reader.Read();
            }
        }
        catch (JsonException)
        {
            // A malformed body is reported by the client that parses it; usage stays as read so far.
        }

        return false;
    }

    private void ReadObject(ref Utf8JsonReader reader, bool nested)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!nested && reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String
                    && (reader.ValueTextEquals("response.completed"u8) || reader.ValueTextEquals("response.incomplete"u8) || reader.ValueTextEquals("response.failed"u8)))
                {
                    Terminal = true;
                }

                reader.Skip();
            }
            else if (reader.ValueTextEquals("model"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    Model = reader.GetString();
                }

                reader.Skip();
            }
            else if (reader.ValueTextEquals("usage"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    HasUsage = true;
                    ReadUsage(ref reader);
                }
                else
                {
                    reader.Skip();
                }
            }
            else if (!nested && reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                HasError |= reader.TokenType is not JsonTokenType.Null;
                reader.Skip();
            }
            else if (!nested && Deltas is { } deltas && reader.ValueTextEquals("choices"u8))
            {
                reader.Read();
                ReadChoices(ref reader, deltas);
            }
            else if (!nested && Deltas is { } items && reader.ValueTextEquals("output"u8))
            {
                // A whole Responses answer: its output items' text and function call arguments.
                reader.Read();
                CollectText(ref reader, items);
            }
            else if (!nested && Deltas is { } text && reader.ValueTextEquals("delta"u8))
            {
                // Responses stream events carry their output text (and function arguments) as a top-level "delta".
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    text.Append(ref reader);
                }
                else
                {
                    reader.Skip();
                }
            }
            else if (!nested && reader.ValueTextEquals("response"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    ReadObject(ref reader, nested: true);
                }
                else
                {
                    reader.Skip();
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    private void ReadUsage(ref Utf8JsonReader reader)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("prompt_tokens"u8) || reader.ValueTextEquals("input_tokens"u8))
            {
                InputTokens = ReadInt(ref reader);
            }
            else if (reader.ValueTextEquals("completion_tokens"u8) || reader.ValueTextEquals("output_tokens"u8))
            {
                OutputTokens = ReadInt(ref reader);
            }
            else if (reader.ValueTextEquals("cost"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetDecimal(out var number) && number >= 0)
                {
                    ReportedCost = number;
                }
                else if (reader.TokenType == JsonTokenType.String
                    && decimal.TryParse(reader.GetString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var parsed)
                    && parsed >= 0)
                {
                    ReportedCost = parsed;
                }
                else
                {
                    reader.Skip();
                }
            }
            else if (reader.ValueTextEquals("prompt_tokens_details"u8) || reader.ValueTextEquals("input_tokens_details"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    continue;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("cached_tokens"u8))
                    {
                        CachedInputTokens = ReadInt(ref reader);
                    }
                    else
                    {
                        reader.Read();
                        reader.Skip();
                    }
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    /// <summary>Collects the output text of chat stream chunks: <c>choices[].delta</c> content, refusal, reasoning and tool call arguments.</summary>
    private static void ReadChoices(ref Utf8JsonReader reader, OutputText text)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return;
        }

        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                // A null or malformed choice is skipped: the usage after it must still be read.
                reader.Skip();
                continue;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("delta"u8) || reader.ValueTextEquals("message"u8))
                {
                    // A stream chunk's delta, or a whole answer's message: the same fields.
                    reader.Read();
                    ReadDelta(ref reader, text);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
    }

    /// <summary>Collects every <c>text</c>, <c>refusal</c> and <c>arguments</c> string under the value the reader is on.</summary>
    private static void CollectText(ref Utf8JsonReader reader, OutputText text)
    {
        if (reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray))
        {
            reader.Skip();
            return;
        }

        var depth = reader.CurrentDepth;
        while (reader.Read() && reader.CurrentDepth > depth)
        {
            if (reader.TokenType == JsonTokenType.PropertyName
                && (reader.ValueTextEquals("text"u8) || reader.ValueTextEquals("refusal"u8) || reader.ValueTextEquals("arguments"u8)))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    text.Append(ref reader);
                }
                else
                {
                    reader.Skip();
                }
            }
        }
    }

    private static void ReadDelta(ref Utf8JsonReader reader, OutputText text)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("content"u8) || reader.ValueTextEquals("refusal"u8)
                || reader.ValueTextEquals("reasoning_content"u8) || reader.ValueTextEquals("reasoning"u8)
                || reader.ValueTextEquals("arguments"u8) || reader.ValueTextEquals("name"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    text.Append(ref reader);
                }
                else
                {
                    reader.Skip();
                }
            }
            else if (reader.ValueTextEquals("tool_calls"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    reader.Skip();
                    continue;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                {
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        if (reader.ValueTextEquals("function"u8))
                        {
                            reader.Read();
                            ReadDelta(ref reader, text);
                        }
                        else
                        {
                            reader.Read();
                            reader.Skip();
                        }
                    }
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    private static int ReadInt(ref Utf8JsonReader reader)
    {
        reader.Read();
        return reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var value) ? value : 0;
    }
}
