namespace AgentHarness.Routing.Internal;

/// <summary>
/// The judgement of the error bodies seen lately. While a provider is down or limiting, it answers call after call with
/// the same body (a 503's "overloaded", a 429's "rate limit reached"), and <see cref="FailureClassifier"/> reads the
/// whole body each time; a body seen again with the same status is judged as it was, since the classification depends
/// on nothing else.
/// </summary>
/// <remarks>
/// <para>
/// Only the statuses of an outage or a limit (429 and 5xx) and bodies of at most <see cref="MaxBodyBytes"/>: those are
/// generic, while a 4xx's body may quote the request. A body is kept only the second time its hash is seen, so a
/// stream of distinct bodies (each with its own request id) keeps nothing and allocates nothing here.
/// </para>
/// <para>
/// The table has <c>16</c> entries by hash; each entry holds the body it was judged from, compared byte for byte, so a
/// hash collision never lends one body's judgement to another. Entries are replaced without a lock: a race only means
/// one more classification. One table per harness (its routing loop); the bodies kept are the credentials handler's
/// redacted copies.
/// </para>
/// </remarks>
internal sealed class RecentFailures
{
    /// <summary>The largest body that is remembered.</summary>
    public const int MaxBodyBytes = 512;

    private const int Slots = 16;

    private readonly Entry?[] _entries = new Entry?[Slots];
    private readonly int[] _seen = new int[Slots];

    /// <summary>Classifies a failed response as <see cref="FailureClassifier.Classify(int, ReadOnlySpan{byte})"/> does.</summary>
    public Failure Classify(int statusCode, ReadOnlySpan<byte> body)
    {
        if (statusCode is not (429 or (>= 500 and < 600)) || body.Length > MaxBodyBytes)
        {
            return FailureClassifier.Classify(statusCode, body);
        }

        var hash = new HashCode();
        hash.Add(statusCode);
        hash.AddBytes(body);
        var code = hash.ToHashCode();
        var index = code & (Slots - 1);
        var known = Volatile.Read(ref _entries[index]);
        if (known is not null && known.StatusCode == statusCode && body.SequenceEqual(known.Body))
        {
            return known.Failure;
        }

        var failure = FailureClassifier.Classify(statusCode, body);
        if (Volatile.Read(ref _seen[index]) == code)
        {
            // The second time: worth keeping.
            Volatile.Write(ref _entries[index], new Entry(statusCode, body.ToArray(), failure));
        }
        else
        {
            Volatile.Write(ref _seen[index], code);
        }

        return failure;
    }

    private sealed record Entry(int StatusCode, byte[] Body, Failure Failure);
}
