using System.Globalization;
using System.Text.Json;

namespace AgentHarness.Catalog.Internal;

/// <summary>A model as an OpenAI-compatible <c>/v1/models</c> list describes it.</summary>
/// <param name="Id">The id the list gives the model.</param>
/// <param name="Price">Its price, or <see langword="null"/> when the list does not give both input and output prices.</param>
/// <param name="ContextWindow">Its context window in tokens, or <see langword="null"/> when not listed.</param>
/// <param name="MaxOutputTokens">The most tokens it answers with, or <see langword="null"/> when not listed.</param>
internal sealed record ListedModel(string Id, ModelPrice? Price, int? ContextWindow, int? MaxOutputTokens);

/// <summary>
/// Reads an OpenAI-compatible <c>/v1/models</c> body (<c>{"object":"list","data":[...]}</c>) and the
/// prices gateways add to it: Requesty's flat per-token fields (<c>input_price</c>, <c>output_price</c>,
/// <c>cached_price</c>, <c>context_window</c>, <c>max_output_tokens</c>) and OpenRouter's
/// <c>pricing</c> object (<c>prompt</c>, <c>completion</c>, <c>input_cache_read</c>) with
/// <c>context_length</c> and <c>top_provider.max_completion_tokens</c>.
/// </summary>
/// <remarks>
/// A list is read leniently, because it comes from a service the harness does not control: numbers may
/// be JSON numbers or strings, a negative value (OpenRouter's <c>"-1"</c>, "variable") counts as
/// unknown, unknown fields are ignored, and an entry that cannot be read is left out rather than
/// failing the whole list.
/// </remarks>
internal static class ModelListParser
{
    /// <summary>Reads the models of a list body.</summary>
    /// <param name="json">The response body, UTF-8.</param>
    /// <param name="source">What to record as <see cref="ModelPrice.Source"/> of each price read.</param>
    /// <param name="asOf">What to record as <see cref="ModelPrice.AsOf"/> of each price read.</param>
    /// <returns>The models in list order; empty when the body is not a JSON object with a <c>data</c> array.</returns>
    public static IReadOnlyList<ListedModel> Parse(ReadOnlySpan<byte> json, string source, DateOnly asOf)
    {
        // The reader rejects a byte order mark, and some servers send one before the body.
        if (json.StartsWith("\uFEFF"u8))
        {
            json = json[3..];
        }

        var models = new List<ListedModel>();
        var reader = new Utf8JsonReader(json);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return [];
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (!reader.ValueTextEquals("data"u8))
                {
                    reader.Skip();
                    continue;
                }

                reader.Read();
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    reader.Skip();
                    continue;
                }

                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        reader.Skip();
                        continue;
                    }

                    if (ReadEntry(ref reader, source, asOf) is { } model)
                    {
                        models.Add(model);
                    }
                }
            }

            // Reading past the end throws on trailing garbage: a body that is not one JSON document.
            reader.Read();
        }
        catch (JsonException)
        {
            // A truncated or garbled body is a failed fetch, not a shorter list: keep none of it.
            return [];
        }

        return models;
    }

    /// <summary>Reads one entry; the reader starts on its <c>{</c> and ends on its <c>}</c>.</summary>
    private static ListedModel? ReadEntry(ref Utf8JsonReader reader, string source, DateOnly asOf)
    {
        var fields = default(EntryFields);
        var wellFormed = true;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("id"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String && TryGetString(ref reader) is { } id)
                {
                    fields.Id = id;
                }
                else
                {
                    wellFormed = false;
                    reader.Skip();
                }
            }
            else if (reader.ValueTextEquals("input_price"u8))
            {
                wellFormed &= TryReadPrice(ref reader, out fields.FlatInput);
            }
            else if (reader.ValueTextEquals("output_price"u8))
            {
                wellFormed &= TryReadPrice(ref reader, out fields.FlatOutput);
            }
            else if (reader.ValueTextEquals("cached_price"u8))
            {
                wellFormed &= TryReadPrice(ref reader, out fields.FlatCached);
            }
            else if (reader.ValueTextEquals("caching_price"u8))
            {
                wellFormed &= TryReadPrice(ref reader, out fields.FlatCaching);
            }
            else if (reader.ValueTextEquals("context_window"u8))
            {
                wellFormed &= TryReadLimit(ref reader, out fields.FlatContextWindow);
            }
            else if (reader.ValueTextEquals("max_output_tokens"u8))
            {
                wellFormed &= TryReadLimit(ref reader, out fields.FlatMaxOutputTokens);
            }
            else if (reader.ValueTextEquals("context_length"u8))
            {
                wellFormed &= TryReadLimit(ref reader, out fields.ContextLength);
            }
            else if (reader.ValueTextEquals("pricing"u8))
            {
                wellFormed &= TryReadPricing(ref reader, ref fields);
            }
            else if (reader.ValueTextEquals("top_provider"u8))
            {
                wellFormed &= TryReadTopProvider(ref reader, ref fields);
            }
            else
            {
                reader.Skip();
            }
        }

        if (!wellFormed || string.IsNullOrWhiteSpace(fields.Id))
        {
            return null;
        }

        var contextWindow = fields.FlatContextWindow ?? fields.ContextLength ?? fields.TopProviderContextLength;
        var maxOutputTokens = fields.FlatMaxOutputTokens ?? fields.TopProviderMaxCompletionTokens;
        var input = fields.FlatInput ?? fields.PricingPrompt;
        var output = fields.FlatOutput ?? fields.PricingCompletion;
        var price = input is { } inputPrice && output is { } outputPrice
            ? new ModelPrice
            {
                InputPerToken = inputPrice,
                OutputPerToken = outputPrice,
                CachedInputPerToken = fields.FlatCached ?? fields.FlatCaching ?? fields.PricingCacheRead,
                ContextWindow = contextWindow,
                MaxOutputTokens = maxOutputTokens,
                Source = source,
                AsOf = asOf,
            }
            : null;
        return new ListedModel(fields.Id, price, contextWindow, maxOutputTokens);
    }

    /// <summary>Reads OpenRouter's <c>pricing</c> object; the reader starts on the property name.</summary>
    private static bool TryReadPricing(ref Utf8JsonReader reader, ref EntryFields fields)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return SkipNullOrFail(ref reader);
        }

        var wellFormed = true;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("prompt"u8))
            {
                wellFormed &= TryReadPrice(ref reader, out fields.PricingPrompt);
            }
            else if (reader.ValueTextEquals("completion"u8))
            {
                wellFormed &= TryReadPrice(ref reader, out fields.PricingCompletion);
            }
            else if (reader.ValueTextEquals("input_cache_read"u8))
            {
                wellFormed &= TryReadPrice(ref reader, out fields.PricingCacheRead);
            }
            else
            {
                reader.Skip();
            }
        }

        return wellFormed;
    }

    /// <summary>Reads OpenRouter's <c>top_provider</c> object; the reader starts on the property name.</summary>
    private static bool TryReadTopProvider(ref Utf8JsonReader reader, ref EntryFields fields)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return SkipNullOrFail(ref reader);
        }

        var wellFormed = true;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("max_completion_tokens"u8))
            {
                wellFormed &= TryReadLimit(ref reader, out fields.TopProviderMaxCompletionTokens);
            }
            else if (reader.ValueTextEquals("context_length"u8))
            {
                wellFormed &= TryReadLimit(ref reader, out fields.TopProviderContextLength);
            }
            else
            {
                reader.Skip();
            }
        }

        return wellFormed;
    }

    /// <summary>
    /// Reads a price per token from a number or a numeric string; the reader starts on the property
    /// name. Null and negative values read as unknown; anything else unreadable fails the entry.
    /// </summary>
    private static bool TryReadPrice(ref Utf8JsonReader reader, out decimal? price)
    {
        price = null;
        if (!TryReadDecimal(ref reader, out var value))
        {
            return false;
        }

        price = value >= 0 ? value : null;
        return true;
    }

    /// <summary>
    /// Reads a token count from a number or a numeric string; the reader starts on the property name.
    /// Null, zero and negative values read as unknown, and so does a count too large for an
    /// <see cref="int"/>; a fraction or anything unreadable fails the entry.
    /// </summary>
    private static bool TryReadLimit(ref Utf8JsonReader reader, out int? limit)
    {
        limit = null;
        if (!TryReadDecimal(ref reader, out var value))
        {
            return false;
        }

        if (value is { } count)
        {
            if (count != decimal.Truncate(count))
            {
                return false;
            }

            limit = count > 0 && count <= int.MaxValue ? (int)count : null;
        }

        return true;
    }

    /// <summary>
    /// Reads the value after a property name as an exact decimal: a JSON number, a numeric string, or
    /// null (<paramref name="value"/> null). Parsed from the text, never through a double, so
    /// <c>0.000003</c> stays exactly that.
    /// </summary>
    private static bool TryReadDecimal(ref Utf8JsonReader reader, out decimal? value)
    {
        value = null;
        reader.Read();
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.Number when reader.TryGetDecimal(out var number):
                value = number;
                return true;
            case JsonTokenType.String:
                var parsed = reader.ValueIsEscaped
                    ? decimal.TryParse(TryGetString(ref reader), NumberStyles.Float, CultureInfo.InvariantCulture, out var text)
                    : decimal.TryParse(reader.ValueSpan, NumberStyles.Float, CultureInfo.InvariantCulture, out text);
                value = parsed ? text : null;
                return parsed;
            default:
                reader.Skip();
                return false;
        }
    }

    /// <summary>Decodes the string token the reader is on, or returns <see langword="null"/> when its bytes are not text (invalid UTF-8, a lone surrogate).</summary>
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

    private static bool SkipNullOrFail(ref Utf8JsonReader reader)
    {
        var isNull = reader.TokenType == JsonTokenType.Null;
        reader.Skip();
        return isNull;
    }

    /// <summary>What one entry said, before deciding which shape's fields win.</summary>
    private struct EntryFields
    {
        public string? Id;
        public decimal? FlatInput;
        public decimal? FlatOutput;
        public decimal? FlatCached;
        public decimal? FlatCaching;
        public int? FlatContextWindow;
        public int? FlatMaxOutputTokens;
        public int? ContextLength;
        public decimal? PricingPrompt;
        public decimal? PricingCompletion;
        public decimal? PricingCacheRead;
        public int? TopProviderContextLength;
        public int? TopProviderMaxCompletionTokens;
    }
}
