namespace AgentHarness.Configuration.Internal;

/// <summary>
/// The rule a gateway's <see cref="ProviderOptions.MetadataHeaderPrefix"/> follows on top of the
/// header-name rules: it names a vendor, <c>X-</c>, a vendor name of at least two letters or digits
/// and <c>-</c> (more segments may follow, each ending in <c>-</c>), for example <c>X-Requesty-</c>.
/// </summary>
/// <remarks>
/// A run's extra metadata key is appended to the prefix, so a prefix such as <c>X-</c> would let the
/// extra <c>api-key</c> form <c>X-Api-Key</c>, and <c>X-Forwarded-</c> the extra <c>for</c> form
/// <c>X-Forwarded-For</c>. A vendor name keeps every extra inside that vendor's own headers; the
/// vendor names of widely used non-standard headers are refused for the same reason.
/// </remarks>
internal static class VendorPrefix
{
    /// <summary>The rule, as messages state it.</summary>
    public const string Rule = "a prefix is X-, a vendor name of at least two letters or digits, and '-' (more segments may follow, each ending in '-'), for example X-Requesty-, so that no metadata name can form a standard header";

    private const int MinVendorLength = 2;

    /// <summary>First segments after <c>X-</c> of headers that proxies, servers, frameworks and SDKs use.</summary>
    private static readonly string[] CommonFamilies =
    [
        "Forwarded", "Real", "Api", "Request", "Requested", "Correlation", "Http", "Original", "Client", "Auth", "Access",
        "Content", "Frame", "Xss", "Csrf", "Xsrf", "Powered", "RateLimit", "Amz", "Goog", "Ms", "Stainless", "OpenAI",
    ];

    /// <summary>Describes why <paramref name="prefix"/> does not name a vendor, or returns <see langword="null"/>.</summary>
    /// <param name="prefix">A prefix that already passed the header-name rules.</param>
    /// <returns>The problem, to follow "is not a valid metadata header prefix: ", or <see langword="null"/>.</returns>
    public static string? Describe(string prefix)
    {
        if (prefix.Length < "X-".Length + MinVendorLength + 1 || !prefix.StartsWith("X-", StringComparison.OrdinalIgnoreCase) || !prefix.EndsWith('-'))
        {
            return Rule;
        }

        var segments = prefix[2..^1].Split('-');
        foreach (var segment in segments)
        {
            if (segment.Length == 0 || !segment.All(char.IsAsciiLetterOrDigit))
            {
                return Rule;
            }
        }

        if (segments[0].Length < MinVendorLength)
        {
            return Rule;
        }

        return CommonFamilies.Contains(segments[0], StringComparer.OrdinalIgnoreCase)
            ? $"headers starting with 'X-{segments[0]}-' are widely used (for example X-Forwarded-For, X-Api-Key, X-Real-IP); {Rule}, naming the gateway's vendor"
            : null;
    }
}
