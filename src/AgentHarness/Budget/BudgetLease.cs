namespace AgentHarness;

/// <summary>
/// How long a budget reservation may be held without a settle, derived from the call timeouts of the
/// options: the longest <c>TotalTimeout</c> (which bounds every reservation made before a response is
/// handed over), plus the longest silence a stream may keep (a policy's <c>StreamIdleTimeout</c>, a
/// provider's <c>AttemptTimeout</c>: a stream nobody reads is closed and settled after it), plus one
/// minute for the settle to reach the store.
/// </summary>
/// <remarks>
/// A shared store drops a reservation whose lease ran out, so a process that dies mid-call holds no budget
/// past it. A stream still being read after its lease keeps going: its settle charges its full cost, but
/// from the lease's end its worst case is no longer held against the limits.
/// </remarks>
public static class BudgetLease
{
    /// <summary>The margin added for the settle to reach the store: one minute.</summary>
    public static readonly TimeSpan SettleMargin = TimeSpan.FromMinutes(1);

    /// <summary>The lease of the reservations of a harness with these options.</summary>
    /// <param name="options">The harness's options.</param>
    /// <returns>The lease; 7 minutes 40 seconds with the default timeouts (5 minutes, 100 seconds, 1 minute).</returns>
    public static TimeSpan From(AgentHarnessOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        TimeSpan total = TimeSpan.Zero, idle = TimeSpan.Zero;
        foreach (var provider in options.Providers.Values)
        {
            total = Max(total, provider.TotalTimeout);
            idle = Max(idle, provider.AttemptTimeout);
        }

        foreach (var policy in options.Policies.Values)
        {
            total = Max(total, policy.TotalTimeout);
            idle = Max(idle, policy.StreamIdleTimeout);
        }

        if (total <= TimeSpan.Zero)
        {
            // No provider yet: the defaults are what the first one will have.
            var defaults = new ProviderOptions();
            (total, idle) = (defaults.TotalTimeout, defaults.AttemptTimeout);
        }

        // Each part is capped at a day: a lease is about a dead process, not a call that never ends.
        return Min(total, TimeSpan.FromDays(1)) + Min(idle, TimeSpan.FromDays(1)) + SettleMargin;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
