using System.Text;
using System.Text.Json;
using System.Text.Unicode;

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

    /// <summary>Input tokens written to the provider's prompt cache (<c>cache_creation_input_tokens</c>, Requesty's <c>caching_tokens</c>), a part of <see cref="InputTokens"/>.</summary>
    public int CacheWriteInputTokens;

    /// <summary>The cost the provider or gateway reported (<c>usage.cost</c>, a number or a string), or <see langword="null"/>.</summary>
    public decimal? ReportedCost;

    /// <summary>Whether a <c>usage</c> object was read.</summary>
    public bool HasUsage;

    /// <summary>
    /// Whether a <c>usage</c> object held an input count that is one (<c>prompt_tokens</c> or <c>input_tokens</c>, a whole
    /// number from zero up): an empty usage object, or one whose counts are strings, fractions or negative, reports none.
    /// </summary>
    public bool HasInputTokens;

    /// <summary>Whether a <c>usage</c> object held an output count that is one (<c>completion_tokens</c> or <c>output_tokens</c>).</summary>
    public bool HasOutputTokens;

    /// <summary>The last <c>finish_reason</c> a stream's choices named, for the call's span; read only when <see cref="Deltas"/> is set.</summary>
    public string? FinishReason;

    /// <summary>When set, receives the text of every output delta of a stream, to charge a stream cut short by what it carried.</summary>
    public OutputText? Deltas;

    /// <summary>Whether the document was a terminal stream event of the Responses API (<c>response.completed</c>, ...), which has no <c>[DONE]</c> after it.</summary>
    public bool Terminal;

    /// <summary>Whether the document carried a top-level <c>error</c> (or was of type <c>error</c>): an error event in a stream.</summary>
    public bool HasError;

    /// <summary>
    /// Whether a stream event carried output: text, a refusal, reasoning, a tool call, or any other
    /// non-empty delta. A role-only or empty delta is not output. Read only when <see cref="Deltas"/> is set.
    /// </summary>
    public bool HasOutput;

    /// <summary>
    /// Whether the document last read was one whole JSON object, whatever its strings held: text that is not UTF-8
    /// inside a string leaves it one, bytes outside any string (a compressed body, a page, a cut) do not.
    /// </summary>
    public bool WasJsonObject;

    // The model the last answer named, with its UTF-8 bytes: a provider names the same model in every answer and event,
    // so the string is kept, and the bytes compared with it as they are instead of transcoding the string for each event.
    private static LastModel? _lastModel;

    // Whether a string value of the document being read could not be decoded: it was left out.
    private bool _undecodable;

    /// <summary>
    /// Reads one JSON document; a document that is not a JSON object leaves the reading as it was.
    /// Bytes that are not UTF-8 make the document malformed, but do not lose what can be read: a
    /// string value that cannot be decoded is left out, and the token counts around it still count.
    /// </summary>
    /// <returns><see langword="true"/> when the document is a well-formed JSON object.</returns>
    public bool Read(ReadOnlySpan<byte> json)
    {
        _undecodable = false;
        WasJsonObject = false;
        var reader = new Utf8JsonReader(json);
        try
        {
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                ReadObject(ref reader, nested: false);
                WasJsonObject = reader.TokenType == JsonTokenType.EndObject && !reader.Read();
                return WasJsonObject && !_undecodable && Utf8.IsValid(json);
            }
        }
        catch (JsonException)
        {
            // A malformed body is reported by the client that parses it; usage stays as read so far.
        }
        catch (InvalidOperationException)
        {
            // Undecodable text the reading missed; treated like any other malformed body.
        }

        return false;
    }

    private void ReadObject(ref Utf8JsonReader reader, bool nested)
    {
        // A stream event of a "*.delta" type (speech.audio.delta...) or a partial image is output unless its "delta" is empty.
        var deltaType = false;
        bool? emptyDelta = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = NameOf(ref reader);
            if (!nested && name == Name.Type)
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String
                    && (reader.ValueTextEquals("response.completed"u8) || reader.ValueTextEquals("response.incomplete"u8) || reader.ValueTextEquals("response.failed"u8)))
                {
                    Terminal = true;
                }
                else if (reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("error"u8))
                {
                    // The Responses API's error event: {"type":"error","code":...,"message":...}.
                    HasError = true;
                }
                else if (reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped
                    && (reader.ValueSpan.EndsWith(".delta"u8) || reader.ValueSpan.EndsWith(".partial_image"u8)))
                {
                    deltaType = true;
                }

                reader.Skip();
            }
            else if (name == Name.Model)
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    Model = ReadModel(ref reader) ?? Model;
                }

                reader.Skip();
            }
            else if (name == Name.Usage)
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
            else if (!nested && name == Name.Error)
            {
                reader.Read();
                HasError |= reader.TokenType is not JsonTokenType.Null;
                reader.Skip();
            }
            else if (!nested && Deltas is { } deltas && name == Name.Choices)
            {
                reader.Read();
                ReadChoices(ref reader, deltas);
            }
            else if (!nested && Deltas is { } items && name == Name.Output)
            {
                // A whole Responses answer: its output items' text and function call arguments.
                reader.Read();
                CollectText(ref reader, items);
            }
            else if (!nested && Deltas is { } text && name == Name.Delta)
            {
                // Responses stream events carry their output text (and function arguments) as a top-level "delta".
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    emptyDelta = reader.ValueSpan.IsEmpty && !reader.HasValueSequence;
                    Append(ref reader, text);
                }
                else
                {
                    emptyDelta = IsEmptyValue(ref reader);
                }
            }
            else if (!nested && name == Name.Response)
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

        if (emptyDelta == false || (deltaType && emptyDelta is null))
        {
            HasOutput = true;
        }
    }

    private void ReadUsage(ref Utf8JsonReader reader)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("prompt_tokens"u8) || reader.ValueTextEquals("input_tokens"u8))
            {
                if (ReadCount(ref reader) is { } input)
                {
                    InputTokens = input;
                    HasInputTokens = true;
                }
            }
            else if (reader.ValueTextEquals("completion_tokens"u8) || reader.ValueTextEquals("output_tokens"u8))
            {
                if (ReadCount(ref reader) is { } output)
                {
                    OutputTokens = output;
                    HasOutputTokens = true;
                }
            }
            else if (reader.ValueTextEquals("cache_creation_input_tokens"u8) || reader.ValueTextEquals("caching_tokens"u8))
            {
                CacheWriteInputTokens = ReadCount(ref reader) ?? CacheWriteInputTokens;
            }
            else if (reader.ValueTextEquals("cost"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetDecimal(out var number) && number >= 0)
                {
                    ReportedCost = number;
                }
                else if (reader.TokenType == JsonTokenType.String
                    && decimal.TryParse(TryGetString(ref reader), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var parsed)
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
                        CachedInputTokens = ReadCount(ref reader) ?? CachedInputTokens;
                    }
                    else if (reader.ValueTextEquals("caching_tokens"u8) || reader.ValueTextEquals("cache_write_tokens"u8) || reader.ValueTextEquals("cache_creation_input_tokens"u8))
                    {
                        CacheWriteInputTokens = ReadCount(ref reader) ?? CacheWriteInputTokens;
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

    /// <summary>
    /// Collects the output text of chat stream chunks: <c>choices[].delta</c> content, refusal, reasoning
    /// and tool call arguments, and the <c>text</c> of legacy completions' choices.
    /// </summary>
    private void ReadChoices(ref Utf8JsonReader reader, OutputText text)
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
                var name = NameOf(ref reader);
                if (name is Name.Delta or Name.Message)
                {
                    // A stream chunk's delta, or a whole answer's message: the same fields.
                    reader.Read();
                    ReadDelta(ref reader, text);
                }
                else if (name == Name.Text)
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        HasOutput |= reader.ValueSpan.Length > 0 || reader.HasValueSequence;
                        Append(ref reader, text);
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (name == Name.FinishReason)
                {
                    // Named once, in the stream's last choice event; the usual reasons are shared strings.
                    reader.Read();
                    FinishReason = reader.TokenType != JsonTokenType.String ? FinishReason
                        : reader.ValueTextEquals("stop"u8) ? "stop"
                        : reader.ValueTextEquals("length"u8) ? "length"
                        : reader.ValueTextEquals("tool_calls"u8) ? "tool_calls"
                        : TryGetString(ref reader) ?? FinishReason;
                    reader.Skip();
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
    private void CollectText(ref Utf8JsonReader reader, OutputText text)
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
                    Append(ref reader, text);
                }
                else
                {
                    reader.Skip();
                }
            }
        }
    }

    /// <summary>
    /// Collects the text of a delta (or message) object, and notes whether it carried output: any
    /// field but <c>role</c> with a value that is not null, an empty string or an empty array or object.
    /// </summary>
    private void ReadDelta(ref Utf8JsonReader reader, OutputText text)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = NameOf(ref reader);
            if (name is Name.Content or Name.Refusal or Name.ReasoningContent or Name.Reasoning or Name.Arguments or Name.FunctionName)
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    HasOutput |= reader.ValueSpan.Length > 0 || reader.HasValueSequence;
                    Append(ref reader, text);
                }
                else
                {
                    HasOutput |= !IsEmptyValue(ref reader);
                }
            }
            else if (name == Name.ToolCalls)
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    HasOutput |= !IsEmptyValue(ref reader);
                    continue;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                {
                    // A tool call delta is output, even before its name or arguments arrive.
                    HasOutput = true;
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
            else if (name == Name.Role)
            {
                reader.Read();
                reader.Skip();
            }
            else
            {
                // Audio, a legacy function call, or a field yet to come: output when it has a value.
                reader.Read();
                HasOutput |= !IsEmptyValue(ref reader);
            }
        }
    }

    /// <summary>The property names the reading looks for, wherever they appear.</summary>
    private enum Name
    {
        Other,
        Type,
        Model,
        Usage,
        Error,
        Choices,
        Output,
        Delta,
        Response,
        Message,
        Text,
        FinishReason,
        Content,
        Refusal,
        ReasoningContent,
        Reasoning,
        Arguments,
        FunctionName,
        ToolCalls,
        Role,
    }

    /// <summary>
    /// Which of the names the reading looks for the property name the reader is on is. Every event of a stream is read,
    /// and most of its names are none of them: telling them apart by length first costs one comparison where asking
    /// for each name in turn cost up to eight.
    /// </summary>
    private static Name NameOf(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            // A document is read from one span, so the name is always the value span.
            return NameOf(reader.ValueSpan);
        }

        // Rare: an escaped name is unescaped first. No known name takes more than 128 bytes even with every
        // character escaped (6 bytes each), so a longer one is none of them.
        Span<byte> unescaped = stackalloc byte[128];
        if (reader.ValueSpan.Length > unescaped.Length)
        {
            return Name.Other;
        }

        try
        {
            return NameOf(unescaped[..reader.CopyString(unescaped)]);
        }
        catch (InvalidOperationException)
        {
            // An escape that is not text (a lone surrogate) names nothing the reading looks for.
            return Name.Other;
        }
    }

    private static Name NameOf(ReadOnlySpan<byte> name) => name.Length switch
    {
        4 => name.SequenceEqual("type"u8) ? Name.Type : name.SequenceEqual("text"u8) ? Name.Text : name.SequenceEqual("role"u8) ? Name.Role : name.SequenceEqual("name"u8) ? Name.FunctionName : Name.Other,
        5 => name.SequenceEqual("model"u8) ? Name.Model : name.SequenceEqual("usage"u8) ? Name.Usage : name.SequenceEqual("error"u8) ? Name.Error : name.SequenceEqual("delta"u8) ? Name.Delta : Name.Other,
        6 => name.SequenceEqual("output"u8) ? Name.Output : Name.Other,
        7 => name.SequenceEqual("choices"u8) ? Name.Choices : name.SequenceEqual("message"u8) ? Name.Message : name.SequenceEqual("content"u8) ? Name.Content : name.SequenceEqual("refusal"u8) ? Name.Refusal : Name.Other,
        8 => name.SequenceEqual("response"u8) ? Name.Response : Name.Other,
        9 => name.SequenceEqual("reasoning"u8) ? Name.Reasoning : name.SequenceEqual("arguments"u8) ? Name.Arguments : Name.Other,
        10 => name.SequenceEqual("tool_calls"u8) ? Name.ToolCalls : Name.Other,
        13 => name.SequenceEqual("finish_reason"u8) ? Name.FinishReason : Name.Other,
        17 => name.SequenceEqual("reasoning_content"u8) ? Name.ReasoningContent : Name.Other,
        _ => Name.Other,
    };

    /// <summary>Whether the value the reader is on is null, an empty string, or an empty array or object; skips it.</summary>
    private static bool IsEmptyValue(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.String:
                return reader.ValueSpan.IsEmpty && !reader.HasValueSequence;
            case JsonTokenType.StartObject or JsonTokenType.StartArray:
                // Inner tokens are deeper than the container's own; its closing token is not.
                var depth = reader.CurrentDepth;
                reader.Read();
                if (reader.CurrentDepth == depth)
                {
                    return true;
                }

                while (reader.CurrentDepth > depth && reader.Read())
                {
                }

                return false;
            default:
                reader.Skip();
                return false;
        }
    }

    /// <summary>Appends a string value to the output text; a value that cannot be decoded is counted by its size and marks the document.</summary>
    private void Append(ref Utf8JsonReader reader, OutputText text)
    {
        if (!text.Append(ref reader))
        {
            _undecodable = true;
        }
    }

    /// <summary>Reads the model the reader is on, as the same string as the last one when it is the same model.</summary>
    private string? ReadModel(ref Utf8JsonReader reader)
    {
        var last = Volatile.Read(ref _lastModel);
        if (last is not null && !reader.ValueIsEscaped && !reader.HasValueSequence && reader.ValueSpan.SequenceEqual(last.Utf8))
        {
            return last.Text;
        }

        var model = TryGetString(ref reader);
        if (model is not null)
        {
            Volatile.Write(ref _lastModel, new LastModel(model, Encoding.UTF8.GetBytes(model)));
        }

        return model;
    }

    private sealed record LastModel(string Text, byte[] Utf8);

    /// <summary>Decodes the string token the reader is on; a value that is not text (invalid UTF-8, a lone surrogate) is left out.</summary>
    private string? TryGetString(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString();
        }
        catch (InvalidOperationException)
        {
            // The token is a string, so only undecodable bytes make it throw.
            _undecodable = true;
            return null;
        }
    }

    /// <summary>
    /// Reads a token count. A count that is not a whole number, does not fit, or is negative is no
    /// count at all: it is treated as absent rather than recorded, summed into reports and priced.
    /// </summary>
    private static int? ReadCount(ref Utf8JsonReader reader)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var value) && value >= 0)
        {
            return value;
        }

        reader.Skip();
        return null;
    }
}
