using AgentHarness.Pipeline.Internal;

namespace AgentHarness.Routing.Internal;

/// <summary>The routing loop's delays and predicates: how long to wait before a retry, and which failures a route falls back on.</summary>
internal static class RetryRules
{
    /// <summary>Whether the route tries its next candidate after a failure of this kind.</summary>
    public static bool FallsBackOn(RouteSettings settings, FailureKind kind) => kind switch
    {
        FailureKind.Transient => settings.FallbackOn.HasFlag(FallbackTriggers.Transient),
        FailureKind.ContextWindowExceeded => settings.FallbackOn.HasFlag(FallbackTriggers.ContextWindow),
        FailureKind.ContentFilter => settings.FallbackOn.HasFlag(FallbackTriggers.ContentFilter),
        FailureKind.Authentication => settings.FallbackOn.HasFlag(FallbackTriggers.Authentication),
        FailureKind.QuotaExceeded => settings.FallbackOn.HasFlag(FallbackTriggers.Quota),
        FailureKind.ModelNotFound => settings.FallbackOn.HasFlag(FallbackTriggers.ModelNotFound),
        _ => false,
    };

    /// <summary>Reads <c>retry-after-ms</c>, or <c>Retry-After</c> in seconds or as an HTTP date; <see langword="null"/> when absent.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response, TimeProvider timeProvider)
    {
        if (response.Headers.TryGetValues("retry-after-ms", out var values)
            && double.TryParse(values.FirstOrDefault(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var ms)
            && ms >= 0)
        {
            // A provider's number is not trusted to fit a TimeSpan; anything over a day is "too long" anyway.
            return ms < TimeSpan.FromDays(1).TotalMilliseconds ? TimeSpan.FromMilliseconds(ms) : TimeSpan.FromDays(1);
        }

        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - timeProvider.GetUtcNow();
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        // Seconds too many for the header's parser (past int.MaxValue) are still a wait: a very long one, not none.
        if (header is null && response.Headers.NonValidated.TryGetValues("Retry-After", out var raw)
            && raw.Count > 0 && IsAllDigits(raw.ToString().AsSpan().Trim()))
        {
            return TimeSpan.FromDays(1);
        }

        return null;
    }

    private static bool IsAllDigits(ReadOnlySpan<char> text) => !text.IsEmpty && !text.ContainsAnyExceptInRange('0', '9');

    /// <summary>The delay before retry number <paramref name="attempt"/> when the provider named none.</summary>
    public static TimeSpan Backoff(TimeSpan baseDelay, int attempt)
    {
        if (baseDelay <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        // Exponential with ±20% jitter so that clients failing together do not retry together.
        var exponential = baseDelay.TotalMilliseconds * Math.Pow(2, attempt - 1);
        var jittered = exponential * (0.8 + (Random.Shared.NextDouble() * 0.4));
        return TimeSpan.FromMilliseconds(Math.Min(jittered, TimeSpan.FromMinutes(1).TotalMilliseconds));
    }

    /// <summary>
    /// Waits before a retry, within the call's total timeout; the caller of this method sees a total timeout or the
    /// caller's cancellation on the call's deadline.
    /// </summary>
    public static async Task WaitAsync(CallContext call, TimeSpan delay)
    {
        try
        {
            var wait = Task.Delay(delay, call.Time, call.Deadline.ForCall());
            if (call.Synchronous)
            {
                // The synchronous caller's thread waits here rather than handing the rest of the call to the pool.
                wait.GetAwaiter().GetResult();
            }
            else
            {
                await wait.ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (call.Deadline.CallerCanceled)
        {
            throw new OperationCanceledException("The call was cancelled by the caller.", null, call.CallerToken);
        }
        catch (OperationCanceledException)
        {
            // The total timeout ended the wait; the caller of this method sees it on the deadline.
        }
    }
}
