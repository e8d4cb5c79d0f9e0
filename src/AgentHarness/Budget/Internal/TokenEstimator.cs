using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.ML.Tokenizers;

namespace AgentHarness.Budget.Internal;

/// <summary>
/// Estimates, before a request is sent, how many input tokens an OpenAI-style request body
/// (<c>chat/completions</c>, <c>responses</c>, <c>completions</c> or <c>embeddings</c>) will be billed for,
/// so a budget guard can price the worst case. Text is counted with the <c>o200k_base</c> encoding
/// (GPT-4o and later); models on other encodings come out close enough for a budget.
/// </summary>
/// <remarks>
/// <para>
/// The body is walked once with <see cref="Utf8JsonReader"/> (no DOM, no LINQ); only the values
/// that become prompt text are unescaped and tokenized, everything else is skipped without
/// allocating. The rules, and why:
/// </para>
/// <list type="bullet">
/// <item><description>
/// Chat (<c>messages</c>): each message counts the text it carries (<c>content</c> as a string, or
/// the <c>text</c>/<c>refusal</c> of each content part, which covers <c>input_text</c> and
/// <c>output_text</c> parts; <c>name</c>; <c>refusal</c>; the <c>name</c> and <c>arguments</c> of
/// <c>tool_calls[].function</c> and of the legacy <c>function_call</c>), plus
/// <see cref="MessageFramingTokens"/> per message and <see cref="ReplyPrimingTokens"/> once for the
/// reply priming: the rule of OpenAI's cookbook ("How to count tokens with tiktoken"), which is
/// what the model actually sees around the text.
/// </description></item>
/// <item><description>
/// Roles, types, ids, URLs and base64 payloads (<c>image_url.url</c>, <c>file_data</c>,
/// <c>input_audio.data</c>) are not tokenized: they are not billed as text, and tokenizing a
/// multi-megabyte data URL would both waste time and wildly over-count.
/// </description></item>
/// <item><description>
/// An image part (<c>type</c> <c>image_url</c> or <c>input_image</c>) counts
/// <see cref="ImageTokens"/>, the price of a 1024×1024 image at high detail: a worst case for the
/// common sizes without decoding the image. Audio (<c>input_audio</c>) and file (<c>file</c>,
/// <c>input_file</c>) parts are billed by content this estimator does not decode: they count one
/// token per <see cref="PayloadBytesPerToken"/> bytes of their JSON, so a large document is never
/// estimated as nearly free.
/// </description></item>
/// <item><description>
/// Responses: <c>instructions</c> (string); <c>input</c> as a string (its text only) or an array of
/// items, each item counting its <c>content</c> (string or parts, as above), a
/// <c>function_call</c>'s <c>name</c> and <c>arguments</c>, a <c>function_call_output</c>'s
/// <c>output</c>, plus <see cref="MessageFramingTokens"/> per item.
/// </description></item>
/// <item><description>
/// Completions (<c>prompt</c>) and embeddings (<c>input</c>): a string, an array of strings, or
/// token arrays; an integer counts one token (it is one), an array of arrays likewise.
/// </description></item>
/// <item><description>
/// Tools and structured output: the raw JSON text of the top-level <c>tools</c>, <c>functions</c>,
/// <c>tool_choice</c> (when an object), <c>response_format</c> and (Responses) <c>text</c> is
/// tokenized as written. The provider renders these into the prompt in its own compact form, so the
/// raw JSON over-counts slightly, which is the safe side for a worst case.
/// </description></item>
/// <item><description>
/// Every other field is ignored. A body that is not a JSON object, or is malformed, counts as the
/// tokens of the whole body decoded as UTF-8 text: a safe over-estimate, and the method never throws.
/// </description></item>
/// </list>
/// <para>
/// The tokenizer recognizes special tokens such as <c>&lt;|endoftext|&gt;</c> inside the text and
/// counts each as one token, so text quoting them is slightly under-counted; this is negligible.
/// </para>
/// </remarks>
internal static class TokenEstimator
{
    /// <summary>Tokens of framing per chat message or Responses item (OpenAI cookbook).</summary>
    public const int MessageFramingTokens = 3;

    /// <summary>Tokens that prime the assistant's reply, once per chat request (OpenAI cookbook).</summary>
    public const int ReplyPrimingTokens = 3;

    /// <summary>Tokens charged for one image part: a 1024×1024 image at high detail (85 + 4 × 170).</summary>
    public const int ImageTokens = 765;

    /// <summary>How many bytes of a part's payload that is neither text nor an image count as one token.</summary>
    public const int PayloadBytesPerToken = 4;

    private const int StackChars = 256;

    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Skip };

    /// <summary>Gets a value indicating whether the tokenizer's vocabulary is loaded.</summary>
    public static bool IsLoaded => _loaded;

    // Outside Vocabulary: reading it must not load the vocabulary.
    private static volatile bool _loaded;

    /// <summary>Returns the number of <c>o200k_base</c> tokens of <paramref name="text"/>.</summary>
    public static int CountTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Length == 0 ? 0 : Vocabulary.Tokenizer.CountTokens(text);
    }

    /// <summary>Loads the tokenizer's vocabulary now (about half a second and 40 MB), so that no call waits for it later.</summary>
    public static void Load() => _ = Vocabulary.Tokenizer;

    /// <summary>
    /// An upper bound of <see cref="EstimateInputTokens"/> that needs no tokenizer and no parse: a few vectorized passes
    /// over the bytes, so that a budget can reserve before (and usually instead of) counting.
    /// </summary>
    /// <remarks>
    /// <para>
    /// A byte-level BPE token such as <c>o200k_base</c>'s stands for at least one byte of UTF-8 text, and unescaping
    /// JSON never lengthens it, so the text the estimate counts (string values, raw tool JSON, token arrays, payloads
    /// at a quarter token per byte) has at most as many tokens as the body has bytes; three times as many when the body
    /// is not valid UTF-8, since each invalid byte decodes to U+FFFD, three bytes. The estimate's other tokens belong to
    /// objects and arrays: <see cref="MessageFramingTokens"/> per message or item, <see cref="ReplyPrimingTokens"/> per
    /// <c>messages</c> array, <see cref="ImageTokens"/> per image part. Every object and array starts with its own
    /// <c>{</c> or <c>[</c>; every image part names <c>image_url</c> or <c>input_image</c> (so holds <c>image</c>) in
    /// plain bytes unless the body escapes characters as <c>\u</c>, in which case every object is counted as an image.
    /// </para>
    /// <para>For English prose the bound is about four times the estimate.</para>
    /// </remarks>
    public static int UpperBound(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return 0;
        }

        long perByte = Utf8.IsValid(body) ? 1 : 3;
        long objects = body.Count((byte)'{');
        long arrays = body.Count((byte)'[');
        long images = body.IndexOf("\\u"u8) >= 0 ? objects : body.Count("image"u8);
        var total = (perByte * body.Length) + (MessageFramingTokens * objects) + (ReplyPrimingTokens * arrays) + (ImageTokens * images);
        return total >= int.MaxValue ? int.MaxValue : (int)total;
    }

    /// <summary>
    /// Estimates the input tokens of a UTF-8 JSON request body by the rules in the type's remarks.
    /// Never throws; an empty body is 0.
    /// </summary>
    public static int EstimateInputTokens(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return 0;
        }

        try
        {
            var reader = new Utf8JsonReader(body, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return CountUtf8(body);
            }

            long total = 0;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("messages"u8))
                {
                    reader.Read();
                    total += CountMessages(ref reader);
                }
                else if (reader.ValueTextEquals("input"u8) || reader.ValueTextEquals("prompt"u8))
                {
                    reader.Read();
                    total += CountInput(ref reader);
                }
                else if (reader.ValueTextEquals("instructions"u8))
                {
                    reader.Read();
                    total += CountText(ref reader);
                }
                else if (reader.ValueTextEquals("tools"u8)
                    || reader.ValueTextEquals("functions"u8)
                    || reader.ValueTextEquals("tool_choice"u8)
                    || reader.ValueTextEquals("response_format"u8)
                    || reader.ValueTextEquals("text"u8))
                {
                    reader.Read();
                    total += CountRaw(ref reader, body);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            // Past the root object only whitespace (or comments) may follow; anything else throws here.
            reader.Read();

            return total >= int.MaxValue ? int.MaxValue : (int)total;
        }
        catch (JsonException)
        {
            return CountUtf8(body);
        }
        catch (InvalidOperationException)
        {
            // Invalid UTF-8 inside a string value.
            return CountUtf8(body);
        }
    }

    /// <summary>Counts a chat <c>messages</c> array; the reader is on its value.</summary>
    private static long CountMessages(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return 0;
        }

        long total = ReplyPrimingTokens;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType == JsonTokenType.StartObject)
            {
                total += MessageFramingTokens + CountItem(ref reader);
            }
            else
            {
                reader.Skip();
            }
        }

        return total;
    }

    /// <summary>
    /// Counts a Responses/embeddings <c>input</c> or a completions <c>prompt</c>; the reader is on its value.
    /// </summary>
    private static long CountInput(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return CountString(ref reader);
            case JsonTokenType.StartArray:
                break;
            default:
                reader.Skip();
                return 0;
        }

        long total = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.String:
                    total += CountString(ref reader);
                    break;
                case JsonTokenType.Number:
                    total++;
                    break;
                case JsonTokenType.StartArray:
                    total += CountTokenArray(ref reader);
                    break;
                case JsonTokenType.StartObject:
                    total += MessageFramingTokens + CountItem(ref reader);
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return total;
    }

    /// <summary>Counts one token per integer of a token array (strings, if any, as text); the reader is on its start.</summary>
    private static long CountTokenArray(ref Utf8JsonReader reader)
    {
        long total = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.Number:
                    total++;
                    break;
                case JsonTokenType.String:
                    total += CountString(ref reader);
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return total;
    }

    /// <summary>
    /// Counts a chat message or a Responses input item, framing excluded; the reader is on its
    /// start and ends on its end.
    /// </summary>
    private static long CountItem(ref Utf8JsonReader reader)
    {
        long total = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("content"u8) || reader.ValueTextEquals("output"u8))
            {
                reader.Read();
                total += CountContent(ref reader);
            }
            else if (reader.ValueTextEquals("name"u8)
                || reader.ValueTextEquals("refusal"u8)
                || reader.ValueTextEquals("arguments"u8))
            {
                reader.Read();
                total += CountText(ref reader);
            }
            else if (reader.ValueTextEquals("tool_calls"u8))
            {
                reader.Read();
                total += CountToolCalls(ref reader);
            }
            else if (reader.ValueTextEquals("function_call"u8))
            {
                reader.Read();
                total += CountFunction(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return total;
    }

    /// <summary>Counts a <c>content</c>/<c>output</c> value: a string or an array of content parts.</summary>
    private static long CountContent(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return CountString(ref reader);
            case JsonTokenType.StartArray:
                break;
            default:
                reader.Skip();
                return 0;
        }

        long total = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    total += CountPart(ref reader);
                    break;
                case JsonTokenType.String:
                    total += CountString(ref reader);
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return total;
    }

    /// <summary>Counts one content part; the reader is on its start and ends on its end.</summary>
    private static long CountPart(ref Utf8JsonReader reader)
    {
        long total = 0;
        var image = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("text"u8) || reader.ValueTextEquals("refusal"u8))
            {
                reader.Read();
                total += CountText(ref reader);
            }
            else if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String
                    && (reader.ValueTextEquals("image_url"u8) || reader.ValueTextEquals("input_image"u8)))
                {
                    image = true;
                }
                else
                {
                    reader.Skip();
                }
            }
            else if (reader.ValueTextEquals("detail"u8))
            {
                // An image's detail level: part of the image's fixed count.
                reader.Read();
                reader.Skip();
            }
            else if (reader.ValueTextEquals("image_url"u8))
            {
                // Chat's {"url": ...} object or Responses' URL string: never tokenized.
                image = true;
                reader.Read();
                reader.Skip();
            }
            else
            {
                // Anything else a part carries (a file's data, input audio, an id) is billed in ways
                // this estimator cannot decode: a budget's worst case counts one token per
                // PayloadBytesPerToken bytes of it rather than nothing.
                reader.Read();
                var start = reader.TokenStartIndex;
                reader.Skip();
                total += (reader.BytesConsumed - start) / PayloadBytesPerToken;
            }
        }

        return image ? total + ImageTokens : total;
    }

    /// <summary>Counts a chat <c>tool_calls</c> array; the reader is on its value.</summary>
    private static long CountToolCalls(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return 0;
        }

        long total = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                continue;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("function"u8) || reader.ValueTextEquals("custom"u8))
                {
                    reader.Read();
                    total += CountFunction(ref reader);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }

        return total;
    }

    /// <summary>
    /// Counts the <c>name</c> and <c>arguments</c> (or a custom tool's <c>input</c>) of a function call
    /// object; the reader is on its value.
    /// </summary>
    private static long CountFunction(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return 0;
        }

        long total = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("name"u8)
                || reader.ValueTextEquals("arguments"u8)
                || reader.ValueTextEquals("input"u8))
            {
                reader.Read();
                total += CountText(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return total;
    }

    /// <summary>Counts a value when it is a string; skips it otherwise.</summary>
    private static int CountText(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return CountString(ref reader);
        }

        reader.Skip();
        return 0;
    }

    /// <summary>Counts the raw JSON of an object or array value as it stands in the body; skips anything else.</summary>
    private static int CountRaw(ref Utf8JsonReader reader, ReadOnlySpan<byte> body)
    {
        if (reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray))
        {
            reader.Skip();
            return 0;
        }

        var start = (int)reader.TokenStartIndex;
        reader.Skip();
        return CountUtf8(body[start..(int)reader.BytesConsumed]);
    }

    /// <summary>Counts the unescaped text of the current string token without allocating a string.</summary>
    private static int CountString(ref Utf8JsonReader reader)
    {
        // Unescaping never lengthens: every UTF-8 byte or escape sequence yields at most one UTF-16 char per byte.
        var maxChars = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        if (maxChars == 0)
        {
            return 0;
        }

        char[]? rented = null;
        Span<char> buffer = maxChars <= StackChars
            ? stackalloc char[StackChars]
            : (rented = ArrayPool<char>.Shared.Rent(maxChars));
        try
        {
            var length = reader.CopyString(buffer);
            return Vocabulary.Tokenizer.CountTokens(buffer[..length]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Counts UTF-8 bytes decoded as text (invalid sequences become U+FFFD).</summary>
    private static int CountUtf8(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return 0;
        }

        var buffer = ArrayPool<char>.Shared.Rent(Encoding.UTF8.GetMaxCharCount(bytes.Length));
        try
        {
            var length = Encoding.UTF8.GetChars(bytes, buffer);
            return Vocabulary.Tokenizer.CountTokens(buffer.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The vocabulary, in a type of its own so that it loads on the first count and not before: the estimator's bound
    /// and the rest of the harness never touch it.
    /// </summary>
    private static class Vocabulary
    {
        // Created once: loading the vocabulary takes about half a second; the instance is thread safe.
        public static readonly TiktokenTokenizer Tokenizer = Create();

        private static TiktokenTokenizer Create()
        {
            var tokenizer = TiktokenTokenizer.CreateForEncoding("o200k_base");
            _loaded = true;
            return tokenizer;
        }
    }
}
