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
}
