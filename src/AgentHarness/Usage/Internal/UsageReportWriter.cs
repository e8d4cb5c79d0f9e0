using System.Globalization;
using System.Text;
using System.Text.Json;

namespace AgentHarness.Usage.Internal;

/// <summary>Renders a <see cref="UsageReport"/> as a console table, CSV and JSON.</summary>
internal static class UsageReportWriter
{
    private const string None = "(none)";

    public static string ToTable(UsageReport report)
    {
        var keys = report.Query.GroupBy;
        var header = new List<string>(keys.Count + 6) { "Period" };
        header.AddRange(keys);
        header.AddRange(["Requests", "Input tokens", "Output tokens", "Total tokens", "Spend (USD)"]);
        var numeric = keys.Count + 1;

        var rows = new List<string[]>();
        foreach (var period in report.Periods)
        {
            if (keys.Count == 0)
            {
                if (period.Totals.Requests > 0 || period.Totals.SpendUsd != 0)
                {
                    rows.Add(Row(period.Label, [], period.Totals));
                }

                continue;
            }

            foreach (var group in period.Groups)
            {
                rows.Add(Row(period.Label, keys.Select(k => group.Values.TryGetValue(k, out var v) ? v ?? None : None), group.Totals));
            }
        }

        var total = Row("Total", keys.Select(static _ => string.Empty), report.Totals);
        var widths = new int[header.Count];
        foreach (var row in rows.Append(header.ToArray()).Append(total))
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        var text = new StringBuilder();
        AppendLine(text, header.ToArray(), widths, numeric);
        AppendRule(text, widths);
        if (rows.Count == 0)
        {
            text.Append("(no usage in ").Append(report.Query.ToString()).Append(')').AppendLine();
        }

        foreach (var row in rows)
        {
            AppendLine(text, row, widths, numeric);
        }

        AppendRule(text, widths);
        AppendLine(text, total, widths, numeric);
        return text.ToString().TrimEnd();
    }

    public static string ToCsv(UsageReport report)
    {
        var keys = report.Query.GroupBy;
        var text = new StringBuilder();
        var header = new List<string> { "period", "period_start", "period_end" };
        header.AddRange(keys);
        header.AddRange(["requests", "completions_requests", "input_tokens", "output_tokens", "total_tokens", "spend_usd"]);
        AppendCsv(text, header);
        foreach (var period in report.Periods)
        {
            if (keys.Count == 0)
            {
                AppendCsv(text, CsvRow(period, [], period.Totals));
                continue;
            }

            foreach (var group in period.Groups)
            {
                AppendCsv(text, CsvRow(period, keys.Select(k => group.Values.TryGetValue(k, out var v) ? v : null), group.Totals));
            }
        }

        return text.ToString();
    }

    public static string ToJson(UsageReport report)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            var query = report.Query;
            writer.WriteStartObject();
            writer.WriteString("start", UsageQuery.Format(query.Start));
            writer.WriteString("end", UsageQuery.Format(query.End));
            writer.WriteString("resolution", ResolutionName(query.Resolution));
            writer.WriteStartArray("group_by");
            foreach (var key in query.GroupBy)
            {
                writer.WriteStringValue(key);
            }

            writer.WriteEndArray();
            writer.WritePropertyName("totals");
            WriteTotals(writer, report.Totals, null);
            writer.WriteStartArray("groups");
            foreach (var group in report.Groups)
            {
                WriteTotals(writer, group.Totals, group.Values);
            }

            writer.WriteEndArray();
            writer.WriteStartArray("periods");
            foreach (var period in report.Periods)
            {
                writer.WriteStartObject();
                writer.WriteString("period", period.Label);
                writer.WriteString("start", UsageQuery.Format(period.Start));
                writer.WriteString("end", UsageQuery.Format(period.End));
                WriteTotalsFields(writer, period.Totals);
                writer.WriteStartArray("groups");
                foreach (var group in period.Groups)
                {
                    WriteTotals(writer, group.Totals, group.Values);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    public static string ResolutionName(UsageResolution resolution) => resolution switch
    {
        UsageResolution.Hour => "hour",
        UsageResolution.Day => "day",
        UsageResolution.Month => "month",
        _ => throw new ArgumentOutOfRangeException(nameof(resolution), resolution, "Not one of Hour, Day, Month."),
    };

    /// <summary>A spend as people read it: at least cents, at most eight decimals, never rounded to a misleading zero.</summary>
    public static string Money(decimal usd)
    {
        var rounded = decimal.Round(usd, 8, MidpointRounding.AwayFromZero);
        if (rounded == 0 && usd != 0)
        {
            return usd > 0 ? "<0.00000001" : "-<0.00000001";
        }

        return rounded.ToString("0.00######", CultureInfo.InvariantCulture);
    }

    private static string[] Row(string period, IEnumerable<string> values, UsageTotals totals)
    {
        var row = new List<string> { period };
        row.AddRange(values);
        row.Add(totals.Requests.ToString("N0", CultureInfo.InvariantCulture));
        row.Add(totals.InputTokens.ToString("N0", CultureInfo.InvariantCulture));
        row.Add(totals.OutputTokens.ToString("N0", CultureInfo.InvariantCulture));
        row.Add(totals.TotalTokens.ToString("N0", CultureInfo.InvariantCulture));
        row.Add("$" + Money(totals.SpendUsd));
        return [.. row];
    }

    private static void AppendLine(StringBuilder text, string[] row, int[] widths, int firstNumeric)
    {
        for (var i = 0; i < row.Length; i++)
        {
            if (i > 0)
            {
                text.Append("  ");
            }

            text.Append(i >= firstNumeric ? row[i].PadLeft(widths[i]) : row[i].PadRight(widths[i]));
        }

        TrimLineEnd(text);
        text.AppendLine();
    }

    private static void AppendRule(StringBuilder text, int[] widths)
    {
        for (var i = 0; i < widths.Length; i++)
        {
            if (i > 0)
            {
                text.Append("  ");
            }

            text.Append('-', widths[i]);
        }

        text.AppendLine();
    }

    private static void TrimLineEnd(StringBuilder text)
    {
        var end = text.Length;
        while (end > 0 && text[end - 1] == ' ')
        {
            end--;
        }

        text.Length = end;
    }

    private static IEnumerable<string?> CsvRow(UsagePeriod period, IEnumerable<string?> values, UsageTotals totals)
    {
        yield return period.Label;
        yield return UsageQuery.Format(period.Start);
        yield return UsageQuery.Format(period.End);
        foreach (var value in values)
        {
            yield return value;
        }

        yield return totals.Requests.ToString(CultureInfo.InvariantCulture);
        yield return totals.CompletionsRequests.ToString(CultureInfo.InvariantCulture);
        yield return totals.InputTokens.ToString(CultureInfo.InvariantCulture);
        yield return totals.OutputTokens.ToString(CultureInfo.InvariantCulture);
        yield return totals.TotalTokens.ToString(CultureInfo.InvariantCulture);
        yield return totals.SpendUsd.ToString(CultureInfo.InvariantCulture);
    }

    private static void AppendCsv(StringBuilder text, IEnumerable<string?> fields)
    {
        var first = true;
        foreach (var field in fields)
        {
            if (!first)
            {
                text.Append(',');
            }

            first = false;
            if (field is null)
            {
                continue;
            }

            if (field.AsSpan().IndexOfAny(",\"\r\n") >= 0)
            {
                text.Append('"').Append(field.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
            }
            else
            {
                text.Append(field);
            }
        }

        text.Append("\r\n");
    }

    private static void WriteTotals(Utf8JsonWriter writer, UsageTotals totals, IReadOnlyDictionary<string, string?>? values)
    {
        writer.WriteStartObject();
        if (values is not null)
        {
            writer.WriteStartObject("group_by_values");
            foreach (var (key, value) in values)
            {
                writer.WriteString(key, value);
            }

            writer.WriteEndObject();
        }

        WriteTotalsFields(writer, totals);
        writer.WriteEndObject();
    }

    private static void WriteTotalsFields(Utf8JsonWriter writer, UsageTotals totals)
    {
        writer.WriteNumber("total_requests", totals.Requests);
        writer.WriteNumber("completions_requests", totals.CompletionsRequests);
        writer.WriteNumber("input_tokens", totals.InputTokens);
        writer.WriteNumber("output_tokens", totals.OutputTokens);
        writer.WriteNumber("total_tokens", totals.TotalTokens);
        writer.WriteNumber("spend", totals.SpendUsd);
    }
}
