using System.Net.Http.Headers;

namespace AgentHarness.Http.Internal;

/// <summary>Copies a header as it stands, neither parsing its value nor boxing it.</summary>
internal static class HeaderCopy
{
    /// <summary>Adds <paramref name="header"/> (from a <c>NonValidated</c> view) to <paramref name="target"/>.</summary>
    /// <remarks>
    /// A single value goes in as the string it is: the enumerable overload would box the values and keep them in a
    /// per-header item, the common case needs neither.
    /// </remarks>
    public static void Add(HttpHeaders target, KeyValuePair<string, HeaderStringValues> header)
    {
        if (header.Value.Count == 1)
        {
            target.TryAddWithoutValidation(header.Key, header.Value.ToString());
        }
        else
        {
            target.TryAddWithoutValidation(header.Key, header.Value);
        }
    }

    /// <summary>Copies a content's headers onto another content, but its length: the new content declares its own when asked.</summary>
    public static void AddContentHeaders(HttpContent target, HttpContent source) => AddContentHeaders(target, source, withLength: false);

    /// <summary>Copies a content's headers onto another content, the length too when <paramref name="withLength"/> says so.</summary>
    public static void AddContentHeaders(HttpContent target, HttpContent source, bool withLength)
    {
        foreach (var header in source.Headers.NonValidated)
        {
            if (withLength || !header.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                Add(target.Headers, header);
            }
        }
    }
}
