using System.Globalization;
using System.Text;

namespace AgentHarness.Tests.Sqlite;

/// <summary>Compares two usage reports figure by figure (spend decimals included) and says where they first differ.</summary>
internal static class UsageReportAssert
{
    public static void Equal(UsageReport expected, UsageReport actual)
    {
        var keys = expected.Query.GroupBy;
        var where = $"query {expected.Query}";
        if (expected.Periods.Count != actual.Periods.Count)
        {
            Assert.Fail($"{where}: expected {expected.Periods.Count} periods, got {actual.Periods.Count} ({Starts(expected)} vs {Starts(actual)}).");
        }

        for (var p = 0; p < expected.Periods.Count; p++)
        {
            var e = expected.Periods[p];
            var a = actual.Periods[p];
            var at = $"{where}, period {p} ({e.Label})";
            Check(e.Start == a.Start && e.Start.Offset == a.Start.Offset, at, "start", e.Start, a.Start);
            Check(e.End == a.End, at, "end", e.End, a.End);
            Check(e.Label == a.Label, at, "label", e.Label, a.Label);
            Totals(e.Totals, a.Totals, at);
            Groups(keys, e.Groups, a.Groups, at);
        }

        Totals(expected.Totals, actual.Totals, $"{where}, report totals");
        Groups(keys, expected.Groups, actual.Groups, $"{where}, report groups");

        // Rendered output too: equal decimals give equal JSON, so a report reads the same from either source.
        Assert.Equal(expected.ToJson(), actual.ToJson());
    }

    private static void Groups(IReadOnlyList<string> keys, IReadOnlyList<UsageGroup> expected, IReadOnlyList<UsageGroup> actual, string at)
    {
        if (expected.Count != actual.Count)
        {
            Assert.Fail($"{at}: expected {expected.Count} groups, got {actual.Count}:\n  expected {Describe(keys, expected)}\n  actual   {Describe(keys, actual)}");
        }

        for (var g = 0; g < expected.Count; g++)
        {
            var e = Values(keys, expected[g]);
            var a = Values(keys, actual[g]);
            Check(e == a, at, $"group {g} values", e, a);
            Totals(expected[g].Totals, actual[g].Totals, $"{at}, group {g} [{e}]");
        }
    }

    private static void Totals(UsageTotals expected, UsageTotals actual, string at)
    {
        Check(expected == actual, at, "totals", expected, actual);
        Check(expected.SpendUsd.Scale == actual.SpendUsd.Scale, at, "spend decimals", expected.SpendUsd.ToString(CultureInfo.InvariantCulture), actual.SpendUsd.ToString(CultureInfo.InvariantCulture));
    }

    private static void Check(bool equal, string at, string what, object? expected, object? actual)
    {
        if (!equal)
        {
            Assert.Fail($"{at}: {what} differ.\n  expected {expected}\n  actual   {actual}");
        }
    }

    private static string Values(IReadOnlyList<string> keys, UsageGroup group) =>
        string.Join(", ", keys.Select(k => $"{k}={(group.Values.TryGetValue(k, out var v) ? v ?? "(null)" : "(missing)")}"));

    private static string Describe(IReadOnlyList<string> keys, IReadOnlyList<UsageGroup> groups)
    {
        var builder = new StringBuilder();
        foreach (var group in groups)
        {
            builder.Append('[').Append(Values(keys, group)).Append(": ").Append(group.Totals.Requests).Append(" req] ");
        }

        return builder.ToString();
    }

    private static string Starts(UsageReport report) =>
        report.Periods.Count == 0 ? "none" : $"{report.Periods[0].Label}..{report.Periods[^1].Label}";
}
