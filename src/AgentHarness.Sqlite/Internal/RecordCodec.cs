using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AgentHarness.Usage.Internal;

namespace AgentHarness.Sqlite.Internal;

/// <summary>How a <see cref="UsageRecord"/>'s fields map to columns and back, exactly.</summary>
internal static class RecordCodec
{
    /// <summary>The largest cost an integer picodollar column can hold: 9,223,372.036854775807 USD.</summary>
    private const decimal MaxCost = long.MaxValue / 1_000_000_000_000m;

    private const decimal MinCost = long.MinValue / 1_000_000_000_000m;

    /// <summary>Splits a timestamp into Unix milliseconds (floored) and the 100 ns ticks within that millisecond.</summary>
    public static (long Milliseconds, long Ticks) SplitTimestamp(DateTimeOffset timestamp)
    {
        var ticks = timestamp.UtcTicks - LedgerSchema.UnixEpochTicks;
        var milliseconds = Math.DivRem(ticks, TimeSpan.TicksPerMillisecond, out var remainder);
        if (remainder < 0)
        {
            milliseconds--;
            remainder += TimeSpan.TicksPerMillisecond;
        }

        return (milliseconds, remainder);
    }

    public static DateTimeOffset JoinTimestamp(long milliseconds, long ticks, long offsetMinutes)
    {
        var utc = new DateTimeOffset(LedgerSchema.UnixEpochTicks + (milliseconds * TimeSpan.TicksPerMillisecond) + ticks, TimeSpan.Zero);
        return utc.ToOffset(TimeSpan.FromMinutes(offsetMinutes));
    }

    /// <summary>The cost as reports count it (<see cref="UsageReportBuilder.RoundSpend"/>), in picodollars, with its decimals; false when it does not fit a 64-bit integer.</summary>
    public static bool TryGetPicodollars(decimal costUsd, out long picodollars, out int scale)
    {
        var rounded = UsageReportBuilder.RoundSpend(costUsd);
        if (rounded is > MaxCost or < MinCost)
        {
            picodollars = 0;
            scale = 0;
            return false;
        }

        picodollars = (long)(rounded * 1_000_000_000_000m);
        scale = rounded.Scale;
        return true;
    }

    /// <summary>
    /// Returns <c>picodollars / 10^12</c> with <paramref name="scale"/> decimals: the sum of costs of at
    /// most that many decimals has exactly them, as the same sum of decimals has in memory.
    /// </summary>
    public static decimal FromPicodollars(decimal picodollars, int scale)
    {
        scale = Math.Clamp(scale, 0, UsageReportBuilder.SpendDecimals);
        var divided = picodollars / Pow10(UsageReportBuilder.SpendDecimals - scale);
        var units = decimal.Truncate(divided);
        if (units != divided)
        {
            // Not a whole number of units of that scale (cannot happen for costs this code stored): keep the value.
            return picodollars / 1_000_000_000_000m;
        }

        Span<int> bits = stackalloc int[4];
        decimal.GetBits(units, bits);
        return new decimal(bits[0], bits[1], bits[2], units < 0, (byte)scale);
    }

    public static string FormatCost(decimal costUsd) => costUsd.ToString(CultureInfo.InvariantCulture);

    public static decimal ParseCost(string text) => decimal.Parse(text, NumberStyles.Number, CultureInfo.InvariantCulture);

    public static string FormatEnum<T>(T value)
        where T : struct, Enum => value.ToString();

    public static T ParseEnum<T>(string text)
        where T : struct, Enum => Enum.Parse<T>(text, ignoreCase: false);

    /// <summary>Writes the attempts as a JSON array, for example <c>[{"provider":"openai","model":"gpt-4.1","outcome":"Succeeded","status_code":200,"error":null,"latency_ticks":125000}]</c>.</summary>
    public static string WriteAttempts(IReadOnlyList<UsageAttempt>? attempts, ArrayBufferWriter<byte> buffer, Utf8JsonWriter writer)
    {
        if (attempts is null || attempts.Count == 0)
        {
            return "[]";
        }

        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        writer.WriteStartArray();
        foreach (var attempt in attempts)
        {
            if (attempt is null)
            {
                writer.WriteNullValue();
                continue;
            }

            writer.WriteStartObject();
            writer.WriteString("provider", attempt.Provider);
            writer.WriteString("model", attempt.Model);
            writer.WriteString("outcome", FormatEnum(attempt.Outcome));
            if (attempt.StatusCode is { } status)
            {
                writer.WriteNumber("status_code", status);
            }
            else
            {
                writer.WriteNull("status_code");
            }

            writer.WriteString("error", attempt.Error);
            writer.WriteNumber("latency_ticks", attempt.Latency.Ticks);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.Flush();
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static IReadOnlyList<UsageAttempt> ReadAttempts(string json)
    {
        if (json is "[]" or "")
        {
            return [];
        }

        using var document = JsonDocument.Parse(json);
        var attempts = new List<UsageAttempt>(document.RootElement.GetArrayLength());
        foreach (var element in document.RootElement.EnumerateArray())
        {
            if (element.ValueKind == JsonValueKind.Null)
            {
                attempts.Add(null!);
                continue;
            }

            attempts.Add(new UsageAttempt(
                element.GetProperty("provider").GetString()!,
                element.GetProperty("model").GetString()!,
                ParseEnum<AttemptOutcome>(element.GetProperty("outcome").GetString()!),
                element.GetProperty("status_code") is { ValueKind: JsonValueKind.Number } status ? status.GetInt32() : null,
                element.GetProperty("error").GetString(),
                TimeSpan.FromTicks(element.GetProperty("latency_ticks").GetInt64())));
        }

        return attempts;
    }

    private static decimal Pow10(int exponent)
    {
        var result = 1m;
        for (var i = 0; i < exponent; i++)
        {
            result *= 10m;
        }

        return result;
    }
}
