namespace AgentHarness.Redis.Internal;

/// <summary>
/// Amounts as Redis holds them: whole picodollars, split into dollars and the picodollars below a dollar
/// (see <see cref="BudgetScripts"/>). Charges and reservations round up to the next picodollar, so the
/// store never counts less than was spent; limits round down, so it never allows more.
/// </summary>
internal static class Picodollars
{
    /// <summary>Picodollars in a dollar.</summary>
    public const decimal PerDollar = 1_000_000_000_000m;

    /// <summary>The most an amount can be here: a thousand times the harness's cost ceiling, well inside a double's exact integers.</summary>
    private const decimal Max = 1_000_000_000_000_000m;

    public static (long Dollars, long Picos) Up(decimal usd) => Split(decimal.Ceiling(Math.Clamp(usd, 0m, Max) * PerDollar));

    public static (long Dollars, long Picos) Down(decimal usd) => Split(decimal.Floor(Math.Clamp(usd, 0m, Max) * PerDollar));

    public static decimal Join(long dollars, long picos) => dollars + (picos / PerDollar);

    private static (long Dollars, long Picos) Split(decimal picos)
    {
        var dollars = decimal.Floor(picos / PerDollar);
        return ((long)dollars, (long)(picos - (dollars * PerDollar)));
    }
}
