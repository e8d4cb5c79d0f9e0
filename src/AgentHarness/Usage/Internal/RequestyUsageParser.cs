using System.Globalization;
using System.Text;
using System.Text.Json;
using AgentHarness.Http.Internal;

namespace AgentHarness.Usage.Internal;

/// <summary>
/// Reads the answers of Requesty's management API: usage (<c>{"usage":{"&lt;period&gt;":{…}}}</c>)
/// into a <see cref="UsageReport"/>, and an API key's description into a <see cref="RequestyApiKeyInfo"/>.
/// </summary>
/// <remarks>
/// <para>
/// Read leniently, as the catalog reads a provider's price list: numbers may be JSON numbers or
/// numeric strings and are read as exact decimals, missing and null fields count as zero, unknown
/// fields are skipped. A period is keyed by an RFC 3339 date-time, <c>yyyy-MM-dd</c>, an hour
/// (<c>yyyy-MM-dd HH:mm</c>, <c>yyyy-MM-ddTHH</c>) or <c>yyyy-MM</c>; <c>grouped_data</c> is an
/// array of rows or an object whose values are rows, and a row's <c>group_by_values</c> an object
/// (keyed as sent) or an array (in <c>group_by</c> order).
/// </para>
/// <para>
/// What cannot be read without guessing fails the whole answer with an
/// <see cref="InvalidDataException"/>, because a report with a silently dropped period or row would
/// understate spend: a body that is not a JSON object with a <c>usage</c> member, a period key that is
/// not a date, a value that is not a number, a row whose values do not match the group keys.
/// </para>
/// </remarks>
internal static class RequestyUsageParser
{
    /// <summary>Requesty's name for <see cref="UsageGroupKeys.Provider"/>.</summary>
    public const string ProviderUsed = "provider_used";

    private const int MaxFractionDigits = 7;

    private static readonly string[] PeriodFormats =
    [
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
        "yyyy-MM-dd'T'HH:mmK",
        "yyyy-MM-dd'T'HHK",
        "yyyy-MM-dd HH:mm:ss.FFFFFFFK",
        "yyyy-MM-dd HH:mmK",
        "yyyy-MM-dd HHK",
        "yyyy-MM-dd",
        "yyyy-MM",
    ];

    /// <summary>Returns the name Requesty gives a group key: <c>provider_used</c> for <c>provider</c>, any other key as it is.</summary>
    public static string ToWire(string key) => key == UsageGroupKeys.Provider ? ProviderUsed : key;

    /// <summary>Reads a usage answer into a report of <paramref name="query"/>.</summary>
    /// <param name="json">The body, UTF-8.</param>
    /// <param name="query">The query that was sent; its group keys give the rows' values their order.</param>
    /// <param name="source">The request, for messages, for example <c>GET /v1/manage/org/usage</c>.</param>
    /// <param name="redact">Removes the key from text quoted in a message.</param>
    /// <exception cref="InvalidDataException">The body is not a usage answer, or part of it cannot be read.</exception>
    public static UsageReport ParseUsage(ReadOnlySpan<byte> json, UsageQuery query, string source, Func<string, string> redact)
    {
        var builder = new UsageReportBuilder(query);
        var context = new Context(query, source, redact);
        var body = WithoutByteOrderMark(json);
        var reader = new Utf8JsonReader(body);
        var sawUsage = false;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw NotUsage(source, body, redact, null);
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (!reader.ValueTextEquals("usage"u8))
                {
                    reader.Skip();
                    continue;
                }

                reader.Read();
                if (reader.TokenType == JsonTokenType.Null)
                {
                    // A service that serializes an empty map as null (Go does) means no usage.
                    sawUsage = true;
                    continue;
                }

                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    throw NotUsage(source, body, redact, null);
                }

                sawUsage = true;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var period = reader.GetString()!;
                    var instant = ParsePeriod(period)
                        ?? throw new InvalidDataException($"{source} answered a period '{Clip(period)}', which is not an RFC 3339 date-time, a date (yyyy-MM-dd), an hour (yyyy-MM-dd HH:mm) or a month (yyyy-MM).");
                    reader.Read();
                    ReadPeriod(ref reader, context, period, instant, builder);
                }
            }

            // Reading past the end throws on trailing garbage: a body that is not one JSON document.
            reader.Read();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string that is not text (invalid UTF-8), malformed like any other body.
            throw NotUsage(source, body, redact, e);
        }

        if (!sawUsage)
        {
            throw NotUsage(source, body, redact, null);
        }

        return builder.Build();
    }

    /// <summary>Reads an API key's description.</summary>
    /// <param name="json">The body, UTF-8.</param>
    /// <param name="source">The request, for messages.</param>
    /// <param name="redact">Removes the key from text quoted in a message.</param>
    /// <exception cref="InvalidDataException">The body is not a JSON object with an <c>id</c>, or a field cannot be read.</exception>
    public static RequestyApiKeyInfo ParseApiKeyInfo(ReadOnlySpan<byte> json, string source, Func<string, string> redact)
    {
        var body = WithoutByteOrderMark(json);
        var reader = new Utf8JsonReader(body);
        string? id = null;
        string? name = null;
        var logging = false;
        decimal spend = 0;
        decimal limit = 0;
        string? manage = null;
        string? completions = null;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw NotKeyInfo(source, body, redact, null);
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    id = ReadText(ref reader);
                }
                else if (reader.ValueTextEquals("name"u8))
                {
                    reader.Read();
                    name = ReadText(ref reader);
                }
                else if (reader.ValueTextEquals("logging"u8))
                {
                    reader.Read();
                    logging = ReadBoolean(ref reader, source, "logging");
                }
                else if (reader.ValueTextEquals("monthly_spend"u8))
                {
                    spend = ReadDecimal(ref reader, source, "monthly_spend", null);
                }
                else if (reader.ValueTextEquals("monthly_limit"u8))
                {
                    limit = ReadDecimal(ref reader, source, "monthly_limit", null);
                }
                else if (reader.ValueTextEquals("permissions"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        reader.Skip();
                        continue;
                    }

                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        if (reader.ValueTextEquals("manage"u8))
                        {
                            reader.Read();
                            manage = ReadText(ref reader);
                        }
                        else if (reader.ValueTextEquals("completions"u8))
                        {
                            reader.Read();
                            completions = ReadText(ref reader);
                        }
                        else
                        {
                            reader.Skip();
                        }
                    }
                }
                else
                {
                    reader.Skip();
                }
            }

            reader.Read();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw NotKeyInfo(source, body, redact, e);
        }

        if (string.IsNullOrEmpty(id))
        {
            throw NotKeyInfo(source, body, redact, null);
        }

        return new RequestyApiKeyInfo
        {
            Id = id,
            Name = name,
            Logging = logging,
            MonthlySpendUsd = spend,
            MonthlyLimitUsd = limit,
            ManagePermission = manage,
            CompletionsPermission = completions,
        };
    }

    /// <summary>
    /// Reads a period key as the instant it starts at, UTC when it has no offset; <see langword="null"/>
    /// when it is none of the accepted forms.
    /// </summary>
    internal static DateTimeOffset? ParsePeriod(string key)
    {
        var text = TrimFraction(key.Trim()).ToUpperInvariant();
        return DateTimeOffset.TryParseExact(text, PeriodFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var instant)
            ? instant
            : null;
    }

    /// <summary>Cuts a fraction of a second to the 7 digits <see cref="DateTimeOffset"/> holds (Go writes 9).</summary>
    private static string TrimFraction(string text)
    {
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0)
        {
            return text;
        }

        var end = dot + 1;
        while (end < text.Length && char.IsAsciiDigit(text[end]))
        {
            end++;
        }

        return end - dot - 1 > MaxFractionDigits ? string.Concat(text.AsSpan(0, dot + 1 + MaxFractionDigits), text.AsSpan(end)) : text;
    }

    /// <summary>Reads one period's entry; the reader starts on its value and ends on its last token.</summary>
    private static void ReadPeriod(ref Utf8JsonReader reader, Context context, string period, DateTimeOffset instant, UsageReportBuilder builder)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new InvalidDataException($"{context.Source} answered period '{Clip(period)}' with a {reader.TokenType} instead of an object.");
        }

        var totals = default(TotalsFields);
        List<(string?[] Values, UsageTotals Totals)>? rows = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (TryReadTotalsField(ref reader, ref totals, context.Source, period))
            {
                continue;
            }

            if (reader.ValueTextEquals("grouped_data"u8) && context.Keys.Count > 0)
            {
                rows ??= [];
                ReadGroupedData(ref reader, context, period, rows);
            }
            else
            {
                reader.Skip();
            }
        }

        var periodTotals = totals.ToTotals();
        if (!totals.Any && rows is not null)
        {
            // An entry that gives only its rows: the period's totals are theirs.
            foreach (var row in rows)
            {
                periodTotals += row.Totals;
            }
        }

        builder.AddPeriodTotals(instant, periodTotals);
        if (rows is not null)
        {
            foreach (var (values, rowTotals) in rows)
            {
                builder.AddGroupOnly(instant, values, rowTotals);
            }
        }
    }

    /// <summary>Reads <c>grouped_data</c>; the reader starts on its property name.</summary>
    private static void ReadGroupedData(ref Utf8JsonReader reader, Context context, string period, List<(string?[] Values, UsageTotals Totals)> rows)
    {
        reader.Read();
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return;
            case JsonTokenType.StartArray:
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    ReadRow(ref reader, context, period, rows);
                }

                return;
            case JsonTokenType.StartObject:
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    reader.Read();
                    ReadRow(ref reader, context, period, rows);
                }

                return;
            default:
                throw new InvalidDataException($"{context.Source} answered grouped_data of period '{Clip(period)}' as a {reader.TokenType}, not an array or object of rows.");
        }
    }

    /// <summary>Reads one group row; the reader starts on its value and ends on its last token.</summary>
    private static void ReadRow(ref Utf8JsonReader reader, Context context, string period, List<(string?[] Values, UsageTotals Totals)> rows)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new InvalidDataException($"{context.Source} answered a row of grouped_data in period '{Clip(period)}' as a {reader.TokenType}, not an object.");
        }

        var totals = default(TotalsFields);
        var values = new string?[context.Keys.Count];
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (TryReadTotalsField(ref reader, ref totals, context.Source, period))
            {
                continue;
            }

            if (reader.ValueTextEquals("group_by_values"u8))
            {
                ReadGroupValues(ref reader, context, period, values);
            }
            else
            {
                reader.Skip();
            }
        }

        rows.Add((values, totals.ToTotals()));
    }

    /// <summary>Reads <c>group_by_values</c> into <paramref name="values"/>, in query order; the reader starts on its property name.</summary>
    private static void ReadGroupValues(ref Utf8JsonReader reader, Context context, string period, string?[] values)
    {
        reader.Read();
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return;
            case JsonTokenType.StartObject:
                var found = new bool[values.Length];
                List<string>? reported = null;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var name = reader.GetString()!;
                    (reported ??= []).Add(name);
                    reader.Read();
                    var value = ReadText(ref reader);
                    var index = context.IndexOf(name);
                    if (index >= 0)
                    {
                        values[index] = value;
                        found[index] = true;
                    }
                }

                // A key the row does not carry under any spelling, while it carries others, is a
                // naming the parser does not know: null groups would misreport every row in silence.
                if (reported is not null && Array.IndexOf(found, false) is var missing and >= 0)
                {
                    throw new InvalidDataException(
                        $"{context.Source} answered a row in period '{Clip(period)}' whose group_by_values ({Clip(context.Redact(string.Join(", ", reported)))}) have no value for the group key {context.WireKeys[missing]} (looked for as {string.Join(" or ", context.Spellings(missing))}, in any case).");
                }

                return;
            case JsonTokenType.StartArray:
                var count = 0;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    var value = ReadText(ref reader);
                    if (count < values.Length)
                    {
                        values[count] = value;
                    }

                    count++;
                }

                if (count != values.Length)
                {
                    throw new InvalidDataException(
                        $"{context.Source} answered a row in period '{Clip(period)}' with {count.ToString(CultureInfo.InvariantCulture)} group_by_values for {values.Length.ToString(CultureInfo.InvariantCulture)} group keys ({string.Join(", ", context.WireKeys)}).");
                }

                return;
            default:
                throw new InvalidDataException($"{context.Source} answered group_by_values in period '{Clip(period)}' as a {reader.TokenType}, not an object or array.");
        }
    }

    /// <summary>Reads a numeric field of a period or row if the reader is on one; the reader starts on the property name.</summary>
    private static bool TryReadTotalsField(ref Utf8JsonReader reader, ref TotalsFields totals, string source, string period)
    {
        if (reader.ValueTextEquals("spend"u8))
        {
            totals.Spend = ReadDecimal(ref reader, source, "spend", period);
        }
        else if (reader.ValueTextEquals("input_tokens"u8))
        {
            totals.InputTokens = ReadCount(ref reader, source, "input_tokens", period);
        }
        else if (reader.ValueTextEquals("output_tokens"u8))
        {
            totals.OutputTokens = ReadCount(ref reader, source, "output_tokens", period);
        }
        else if (reader.ValueTextEquals("total_tokens"u8))
        {
            totals.TotalTokens = ReadCount(ref reader, source, "total_tokens", period);
        }
        else if (reader.ValueTextEquals("total_requests"u8))
        {
            totals.Requests = ReadCount(ref reader, source, "total_requests", period);
        }
        else if (reader.ValueTextEquals("completions_requests"u8))
        {
            totals.CompletionsRequests = ReadCount(ref reader, source, "completions_requests", period);
        }
        else
        {
            return false;
        }

        totals.Any = true;
        return true;
    }

    /// <summary>
    /// Reads the value after a property name as an exact decimal: a JSON number, a numeric string, or
    /// null or an empty string (zero). Parsed from the text, never through a double.
    /// </summary>
    private static decimal ReadDecimal(ref Utf8JsonReader reader, string source, string field, string? period)
    {
        reader.Read();
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return 0;
            case JsonTokenType.Number when reader.TryGetDecimal(out var number):
                return number;
            case JsonTokenType.String:
                var text = reader.GetString()!.Trim();
                if (text.Length == 0)
                {
                    return 0;
                }

                if (decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed))
                {
                    return parsed;
                }

                throw NotANumber(source, field, period, "'" + Clip(text) + "'");
            case JsonTokenType.Number:
                throw NotANumber(source, field, period, Encoding.UTF8.GetString(reader.ValueSpan));
            default:
                var kind = reader.TokenType;
                reader.Skip();
                throw NotANumber(source, field, period, "a " + kind);
        }
    }

    /// <summary>Reads a count as <see cref="ReadDecimal"/> does; it must be a whole number.</summary>
    private static long ReadCount(ref Utf8JsonReader reader, string source, string field, string period)
    {
        var value = ReadDecimal(ref reader, source, field, period);
        if (value != decimal.Truncate(value) || value < long.MinValue || value > long.MaxValue)
        {
            throw new InvalidDataException($"{source} answered {field} {value.ToString(CultureInfo.InvariantCulture)} in period '{Clip(period)}', which is not a whole number.");
        }

        return (long)value;
    }

    private static bool ReadBoolean(ref Utf8JsonReader reader, string source, string field)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.True:
                return true;
            case JsonTokenType.False:
            case JsonTokenType.Null:
                return false;
            case JsonTokenType.String when bool.TryParse(reader.GetString(), out var value):
                return value;
            default:
                var kind = reader.TokenType;
                reader.Skip();
                throw new InvalidDataException($"{source} answered {field} as a {kind}, not true or false.");
        }
    }

    /// <summary>Reads a value as text: a string as it is, a number or boolean as written, null as null; an object or array is skipped as null.</summary>
    private static string? ReadText(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return reader.GetString();
            case JsonTokenType.Number:
                return Encoding.UTF8.GetString(reader.ValueSpan);
            case JsonTokenType.True:
                return "true";
            case JsonTokenType.False:
                return "false";
            case JsonTokenType.Null:
                return null;
            default:
                reader.Skip();
                return null;
        }
    }

    private static InvalidDataException NotANumber(string source, string field, string? period, string value) =>
        new(period is null
            ? $"{source} answered {field} {value}, which is not a number."
            : $"{source} answered {field} {value} in period '{Clip(period)}', which is not a number.");

    private static InvalidDataException NotUsage(string source, ReadOnlySpan<byte> body, Func<string, string> redact, Exception? inner) =>
        new($"{source} answered with success but its body is not a usage answer (a JSON object with a 'usage' map of periods): {Excerpt(body, redact)}", inner);

    private static InvalidDataException NotKeyInfo(string source, ReadOnlySpan<byte> body, Func<string, string> redact, Exception? inner) =>
        new($"{source} answered with success but its body is not an API key's description (a JSON object with an 'id'): {Excerpt(body, redact)}", inner);

    /// <summary>The start of a body for a message, the key removed before it is cut.</summary>
    internal static string Excerpt(ReadOnlySpan<byte> body, Func<string, string> redact)
    {
        if (body.IsEmpty)
        {
            return "(empty body)";
        }

        var text = Encoding.UTF8.GetString(body[..Math.Min(body.Length, 64 * 1024)]);
        return string.IsNullOrWhiteSpace(text) ? "(empty body)" : BodyExcerpt.Of(redact(text));
    }

    /// <summary>Shortens text from the answer quoted in a message.</summary>
    private static string Clip(string text) => text.Length > 64 ? text[..64] + "..." : text;

    private static ReadOnlySpan<byte> WithoutByteOrderMark(ReadOnlySpan<byte> json) =>
        json.StartsWith("\uFEFF"u8) ? json[3..] : json;

    /// <summary>The query's group keys, as sent and as reported.</summary>
    private sealed class Context
    {
        public Context(UsageQuery query, string source, Func<string, string> redact)
        {
            Source = source;
            Redact = redact;
            Keys = query.GroupBy;
            WireKeys = [.. query.GroupBy.Select(ToWire)];
        }

        public string Source { get; }

        /// <summary>Removes the key from text of the answer quoted in a message.</summary>
        public Func<string, string> Redact { get; }

        public IReadOnlyList<string> Keys { get; }

        public string[] WireKeys { get; }

        /// <summary>
        /// The position of a reported key among the query's keys, without regard to case: by its wire
        /// name or the harness's name, else with or without the <c>extra.</c> prefix (a row may report
        /// <c>agent</c> for <c>extra.agent</c>, or the other way round).
        /// </summary>
        public int IndexOf(string reported)
        {
            for (var i = 0; i < WireKeys.Length; i++)
            {
                if (string.Equals(WireKeys[i], reported, StringComparison.OrdinalIgnoreCase) || string.Equals(Keys[i], reported, StringComparison.OrdinalIgnoreCase))
                {
                    return i;
                }
            }

            // Only when no key matches as written: a query for both provider and extra.provider keeps them apart.
            var bare = WithoutExtraPrefix(reported);
            for (var i = 0; i < WireKeys.Length; i++)
            {
                if (string.Equals(WithoutExtraPrefix(WireKeys[i]), bare, StringComparison.OrdinalIgnoreCase) || string.Equals(WithoutExtraPrefix(Keys[i]), bare, StringComparison.OrdinalIgnoreCase))
                {
                    return i;
                }
            }

            return -1;
        }

        /// <summary>The names a row may give the key at <paramref name="index"/>, for messages.</summary>
        public IEnumerable<string> Spellings(int index) =>
            new[] { WireKeys[index], Keys[index], WithoutExtraPrefix(Keys[index]), UsageGroupKeys.ExtraPrefix + WithoutExtraPrefix(Keys[index]) }
                .Distinct(StringComparer.OrdinalIgnoreCase);

        private static string WithoutExtraPrefix(string key) =>
            key.StartsWith(UsageGroupKeys.ExtraPrefix, StringComparison.OrdinalIgnoreCase) ? key[UsageGroupKeys.ExtraPrefix.Length..] : key;
    }

    /// <summary>The numeric fields of a period or row, and whether any was present.</summary>
    private struct TotalsFields
    {
        public bool Any;
        public decimal Spend;
        public long InputTokens;
        public long OutputTokens;
        public long TotalTokens;
        public long Requests;
        public long CompletionsRequests;

        public readonly UsageTotals ToTotals() => new()
        {
            Requests = Requests,
            CompletionsRequests = CompletionsRequests,
            InputTokens = InputTokens,
            OutputTokens = OutputTokens,
            TotalTokens = TotalTokens,
            SpendUsd = Spend,
        };
    }
}
