using System.Net;

namespace AgentHarness.Internal;

/// <summary>Whether an address is this machine's: the one place plain http may carry a key, as nothing leaves the host.</summary>
internal static class LoopbackAddress
{
    /// <summary>Whether <paramref name="uri"/> names a loopback host (<c>localhost</c>, <c>127.0.0.0/8</c>, <c>::1</c>).</summary>
    public static bool Is(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.DnsSafeHost, out var address) && IPAddress.IsLoopback(address));
}
