using System.Text.Json;

namespace AgentHarness.Http.Internal;

/// <summary>
/// The parts of an OpenAI request body the gateway needs, read in one pass over the buffered
/// bytes. The <c>model</c> value is located by byte offsets so it can be replaced by splicing
/// bytes, leaving the rest of the document exactly as the client wrote it.
/// </summary>
internal sealed class RequestBody
{
    private RequestBody(byte[] bytes, string? model, int modelStart, int modelLength, bool stream, int? maxOutputTokens, int choices = 1, string? modelError = null, bool namesOutputLimit = false)
    {
        NamesOutputLimit = namesOutputLimit || maxOutputTokens is not null;
        ModelError = modelError;
        Choices = choices;
        Bytes = bytes;
        Model = model;
        ModelStart = modelStart;
        ModelLength = modelLength;
        Stream = stream;
        MaxOutputTokens = maxOutputTokens;
    }

    public static RequestBody Empty { get; } = new([], null, -1, 0, false, null);

    /// <summary>Gets a value indicating whether the body is a multipart form, whose <c>model</c> field is raw text, not a JSON string.</summary>
    public bool IsForm { get; private init; }

    /// <summary>A multipart form's parts the gateway needs (<see cref="MultipartForm"/>): its <c>model</c> field's value at <paramref name="modelStart"/>, as raw bytes.</summary>
    internal static RequestBody Form(byte[] bytes, string? model, int modelStart, int modelLength, bool stream, string? modelError) =>
        new(bytes, model, modelStart, modelLength, stream, null, modelError: modelError) { IsForm = true };

    public byte[] Bytes { get; }

    /// <summary>Gets the top-level <c>model</c> value, or <see langword="null"/> when the body has none (or is not JSON).</summary>
    public string? Model { get; }

    /// <summary>
    /// Gets why the top-level <c>model</c> string cannot be read (its bytes are not valid UTF-8, or it
    /// escapes a lone surrogate), or <see langword="null"/> when it can, or there is none.
    /// </summary>
    public string? ModelError { get; }

    public bool Stream { get; }

    /// <summary>Gets the largest of <c>max_completion_tokens</c>, <c>max_output_tokens</c> and <c>max_tokens</c> present, each read as a lenient provider reads it.</summary>
    public int? MaxOutputTokens { get; }

    /// <summary>
    /// Gets a value indicating whether the body names an output limit at its top level, whatever its value
    /// (even one that could not be read): then no other limit may be added beside it.
    /// </summary>
    public bool NamesOutputLimit { get; }

    /// <summary>Gets how many answers the request has generated (the larger of <c>n</c> and <c>best_of</c>), at least 1: each can use the maximum output.</summary>
    public int Choices { get; }

    private int ModelStart { get; }

    private int ModelLength { get; }

    public static RequestBody Parse(byte[] bytes) => Parse(bytes, bytes, 0);

    /// <summary>
    /// Parses a body the official client wrote, which is well-formed JSON by construction: its leading prompt
    /// (<c>messages</c> or <c>input</c>, which the client writes first) is passed over by its brackets instead of being
    /// read token by token, and the members after it are parsed as usual. The result is the same as
    /// <see cref="Parse(byte[])"/>'s; only the time it takes no longer grows with the prompt.
    /// </summary>
    /// <param name="bytes">A body the official client serialized.</param>
    public static RequestBody ParseWellFormed(byte[] bytes)
    {
        if (LeadingPromptEnd(bytes) is not { } end)
        {
            return Parse(bytes);
        }

        // "{" and what follows the prompt's value (after its comma): a position q in it is bytes[start - 1 + q].
        var next = bytes.AsSpan(end).IndexOfAnyExcept(" \t\r\n"u8);
        var start = next >= 0 && bytes[end + next] == (byte)',' ? end + next + 1 : end;
        var rest = new byte[bytes.Length - start + 1];
        rest[0] = (byte)'{';
        bytes.AsSpan(start).CopyTo(rest.AsSpan(1));
        return Parse(bytes, rest, start - 1);
    }

    /// <summary>Where the value of a body's first member ends, when that member is the prompt; <see langword="null"/> otherwise.</summary>
    private static int? LeadingPromptEnd(ReadOnlySpan<byte> json)
    {
        var at = json.IndexOfAnyExcept(" \t\r\n"u8);
        if (at < 0 || json[at] != (byte)'{')
        {
            return null;
        }

        var rest = json[(at + 1)..];
        var name = rest.IndexOfAnyExcept(" \t\r\n"u8);
        if (name < 0 || !(rest[name..].StartsWith("\"messages\""u8) || rest[name..].StartsWith("\"input\""u8)))
        {
            return null;
        }

        var colon = rest[name..].IndexOf((byte)':');
        if (colon < 0)
        {
            return null;
        }

        var valueAt = at + 1 + name + colon + 1;
        var value = json[valueAt..].IndexOfAnyExcept(" \t\r\n"u8);
        if (value < 0 || json[valueAt + value] is not ((byte)'[' or (byte)'{'))
        {
            return null;
        }

        return SkipContainer(json, valueAt + value);
    }

    /// <summary>The position just past the array or object that starts at <paramref name="start"/>, in well-formed JSON.</summary>
    private static int? SkipContainer(ReadOnlySpan<byte> json, int start)
    {
        var depth = 0;
        var at = start;
        while (at < json.Length)
        {
            var next = json[at..].IndexOfAny(Structural);
            if (next < 0)
            {
                return null;
            }

            at += next;
            switch (json[at])
            {
                case (byte)'"':
                    // A string: to its closing quote, stepping over escapes.
                    at++;
                    while (true)
                    {
                        var stop = json[at..].IndexOfAny((byte)'"', (byte)'\\');
                        if (stop < 0)
                        {
                            return null;
                        }

                        at += stop;
                        if (json[at] == (byte)'"')
                        {
                            break;
                        }

                        at += 2;
                    }

                    break;
                case (byte)'[' or (byte)'{':
                    depth++;
                    break;
                default:
                    if (--depth == 0)
                    {
                        return at + 1;
                    }

                    break;
            }

            at++;
        }

        return null;
    }

    private static readonly System.Buffers.SearchValues<byte> Structural = System.Buffers.SearchValues.Create("\"[]{}"u8);

    /// <param name="original">The body, which the result holds.</param>
    /// <param name="json">What is parsed: the body, or its members after the prompt.</param>
    /// <param name="offset">Where in <paramref name="original"/> a position in <paramref name="json"/> is, less one.</param>
    private static RequestBody Parse(byte[] original, byte[] json, int offset)
    {
        var bytes = original;
        string? model = null;
        int modelStart = -1, modelLength = 0;
        var stream = false;
        int? maxTokens = null;
        var choices = 1;
        string? modelError = null;
        var namesOutputLimit = false;

        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return new RequestBody(bytes, null, -1, 0, false, null);
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("model"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        model = TryGetString(ref reader);
                        modelError = model is null ? "The request's model is not valid text (invalid UTF-8 or a lone surrogate); it cannot be routed." : null;
                        modelStart = checked((int)reader.TokenStartIndex + offset);
                        modelLength = reader.ValueSpan.Length + 2;
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("stream"u8))
                {
                    reader.Read();
                    stream = reader.TokenType == JsonTokenType.True;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("max_completion_tokens"u8)
                    || reader.ValueTextEquals("max_output_tokens"u8)
                    || reader.ValueTextEquals("max_tokens"u8))
                {
                    // The largest of them, however often and in whatever order they come: providers differ on which
                    // one wins, and the worst case must hold for any of them.
                    namesOutputLimit = true;
                    reader.Read();
                    if (TryGetCount(ref reader, out var value))
                    {
                        maxTokens = maxTokens is { } seen ? Math.Max(seen, value) : value;
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("n"u8) || reader.ValueTextEquals("best_of"u8))
                {
                    // best_of (completions) is billed for every answer generated, returned or not.
                    reader.Read();
                    if (TryGetCount(ref reader, out var n) && n > choices)
                    {
                        choices = n;
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
        catch (JsonException)
        {
            // Not ours to judge: the provider answers a malformed body with its own error.
            return new RequestBody(bytes, null, -1, 0, false, null);
        }

        return new RequestBody(bytes, model, modelStart, modelLength, stream, maxTokens, choices, modelError, namesOutputLimit);
    }

    /// <summary>
    /// Reads a count as lenient providers read it: <c>2</c>, <c>2.0</c>, <c>1e3</c> or <c>"2"</c>, a fraction rounded up
    /// and a huge value held to <see cref="int.MaxValue"/>, so that no spelling makes a worst case smaller than what is sent.
    /// </summary>
    private static bool TryGetCount(ref Utf8JsonReader reader, out int count)
    {
        double value;
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (reader.TryGetInt32(out count))
            {
                return true;
            }

            if (!reader.TryGetDouble(out value))
            {
                return false;
            }
        }
        else if (reader.TokenType != JsonTokenType.String
            || reader.ValueSpan.Length > 32
            || !double.TryParse(TryGetString(ref reader), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out value))
        {
            count = 0;
            return false;
        }

        count = double.IsNaN(value) ? 0 : (int)Math.Clamp(Math.Ceiling(value), int.MinValue, int.MaxValue);
        return true;
    }

    /// <summary>Decodes the string token the reader is on, or returns <see langword="null"/> when its bytes are not text.</summary>
    private static string? TryGetString(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString();
        }
        catch (InvalidOperationException)
        {
            // The token is a string, so only undecodable bytes make it throw.
            return null;
        }
    }

    /// <summary>Returns the body with the <c>model</c> value replaced, or the same bytes when it is unchanged.</summary>
    public byte[] WithModel(string model)
    {
        if (ModelStart < 0 || string.Equals(model, Model, StringComparison.Ordinal))
        {
            return Bytes;
        }

        if (IsForm)
        {
            // A form field's value is its bytes, up to the part's boundary.
            var text = System.Text.Encoding.UTF8.GetBytes(model);
            var form = new byte[Bytes.Length - ModelLength + text.Length];
            Bytes.AsSpan(0, ModelStart).CopyTo(form);
            text.CopyTo(form.AsSpan(ModelStart));
            Bytes.AsSpan(ModelStart + ModelLength).CopyTo(form.AsSpan(ModelStart + text.Length));
            return form;
        }

        var encoded = JsonEncodedText.Encode(model).EncodedUtf8Bytes;
        var result = new byte[Bytes.Length - ModelLength + encoded.Length + 2];
        var span = result.AsSpan();
        Bytes.AsSpan(0, ModelStart).CopyTo(span);
        var at = ModelStart;
        span[at++] = (byte)'"';
        encoded.CopyTo(span[at..]);
        at += encoded.Length;
        span[at++] = (byte)'"';
        Bytes.AsSpan(ModelStart + ModelLength).CopyTo(span[at..]);
        return result;
    }
}
