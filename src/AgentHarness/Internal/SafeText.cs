namespace AgentHarness.Internal;

/// <summary>
/// Makes a configured URL safe to quote in a validation message, which ends up in a log: without
/// what may be a credential (its query, fragment and user information). Keys are removed by
/// <see cref="AgentHarness.Internal.KeyRedactor"/>.
/// </summary>
internal static class SafeText
{
    /// <summary>Shows a URL as written, without what may be a credential.</summary>
    /// <param name="uri">The URL, absolute or not.</param>
    /// <returns>The URL without user information, query or fragment.</returns>
    public static string Url(Uri uri) => Url(uri.OriginalString);

    /// <summary>Shows text meant as a URL, written with or without a scheme, as scheme, host and path.</summary>
    /// <param name="text">The text as configured, for example <c>api.example.com/v1?api_key=…</c>.</param>
    /// <returns>The text without a query, a fragment or user information (<c>user:password@</c>).</returns>
    public static string Url(string text)
    {
        var end = text.AsSpan().IndexOfAny('?', '#');
        if (end >= 0)
        {
            text = text[..end];
        }

        var scheme = text.IndexOf("://", StringComparison.Ordinal);
        var authorityStart = scheme >= 0 ? scheme + 3 : text.StartsWith("//", StringComparison.Ordinal) ? 2 : 0;
        var authorityEnd = text.IndexOf('/', authorityStart);
        if (authorityEnd < 0)
        {
            authorityEnd = text.Length;
        }

        var at = authorityEnd > authorityStart ? text.LastIndexOf('@', authorityEnd - 1, authorityEnd - authorityStart) : -1;
        return at >= 0 ? string.Concat(text.AsSpan(0, authorityStart), text.AsSpan(at + 1)) : text;
    }
}
