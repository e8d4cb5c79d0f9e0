using System.Globalization;

namespace AgentHarness.Usage.Internal;

/// <summary>UTC calendar arithmetic for usage periods.</summary>
internal static class UsagePeriods
{
    /// <summary>Returns the start of the period an instant falls in.</summary>
    public static DateTimeOffset Floor(DateTimeOffset instant, UsageResolution resolution)
    {
        var utc = instant.UtcDateTime;
        return resolution switch
        {
            UsageResolution.Hour => new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, 0, 0, TimeSpan.Zero),
            UsageResolution.Day => new DateTimeOffset(utc.Year, utc.Month, utc.Day, 0, 0, 0, TimeSpan.Zero),
            UsageResolution.Month => new DateTimeOffset(utc.Year, utc.Month, 1, 0, 0, 0, TimeSpan.Zero),
            _ => throw new ArgumentOutOfRangeException(nameof(resolution), resolution, "Not one of Hour, Day, Month."),
        };
    }

    /// <summary>Returns the start of the period after the one starting at <paramref name="periodStart"/>.</summary>
    public static DateTimeOffset Next(DateTimeOffset periodStart, UsageResolution resolution) => resolution switch
    {
        UsageResolution.Hour => periodStart.AddHours(1),
        UsageResolution.Day => periodStart.AddDays(1),
        _ => periodStart.AddMonths(1),
    };

    /// <summary>Returns the first instant after the query's range: the end of the second its end falls in.</summary>
    public static DateTimeOffset EndExclusive(UsageQuery query)
    {
        var ticks = query.End.UtcTicks;
        return new DateTimeOffset(ticks - (ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero).AddSeconds(1);
    }

    /// <summary>Returns the start of the last period of the query's range.</summary>
    public static DateTimeOffset Last(UsageQuery query) => Floor(EndExclusive(query).AddTicks(-1), query.Resolution);

    /// <summary>Counts the periods of a query's range without listing them.</summary>
    public static long Count(UsageQuery query)
    {
        var first = Floor(query.Start, query.Resolution);
        var last = Last(query);
        if (last < first)
        {
            return 0;
        }

        return query.Resolution switch
        {
            UsageResolution.Hour => (long)((last - first).Ticks / TimeSpan.TicksPerHour) + 1,
            UsageResolution.Day => (long)((last - first).Ticks / TimeSpan.TicksPerDay) + 1,
            _ => ((last.Year - first.Year) * 12L) + last.Month - first.Month + 1,
        };
    }

    /// <summary>Lists the starts of every period of the query's range, in order.</summary>
    public static IEnumerable<DateTimeOffset> Enumerate(UsageQuery query)
    {
        var last = Last(query);
        for (var start = Floor(query.Start, query.Resolution); start <= last; start = Next(start, query.Resolution))
        {
            yield return start;
        }
    }

    /// <summary>Names a period as people read it: <c>2026-05-01 09:00</c>, <c>2026-05-01</c>, <c>2026-05</c>.</summary>
    public static string Label(DateTimeOffset periodStart, UsageResolution resolution) => resolution switch
    {
        UsageResolution.Hour => periodStart.UtcDateTime.ToString("yyyy-MM-dd HH':00'", CultureInfo.InvariantCulture),
        UsageResolution.Day => periodStart.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        _ => periodStart.UtcDateTime.ToString("yyyy-MM", CultureInfo.InvariantCulture),
    };
}
