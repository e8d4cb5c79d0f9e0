using System.Globalization;

namespace AgentHarness.Http.Internal;

/// <summary>An upstream's answer was larger than the harness holds; the read stopped at the limit.</summary>
internal sealed class BodyTooLargeException : HttpRequestException
{
    /// <param name="setting">The option that sets the limit, for the message.</param>
    /// <param name="limit">The limit in bytes.</param>
    /// <param name="declaredLength">The <c>Content-Length</c> that gave it away before reading, or <see langword="null"/>.</param>
    public BodyTooLargeException(string setting, int limit, long? declaredLength)
        : base(HttpRequestError.ConfigurationLimitExceeded, Describe(setting, limit, declaredLength))
    {
        Limit = limit;
        Reason = string.Create(CultureInfo.InvariantCulture, $"answer larger than {setting} ({limit} bytes)");
    }

    /// <summary>Gets the limit in bytes.</summary>
    public int Limit { get; }

    /// <summary>Gets a short ASCII description for attempt records, such as <c>answer larger than MaxResponseBytes (33554432 bytes)</c>.</summary>
    public string Reason { get; }

    private static string Describe(string setting, int limit, long? declaredLength) => declaredLength is { } length
        ? string.Create(CultureInfo.InvariantCulture, $"The answer declares {length} bytes (Content-Length), more than {setting} ({limit} bytes); it was not read.")
        : string.Create(CultureInfo.InvariantCulture, $"The answer is larger than {setting} ({limit} bytes); reading stopped at the limit.");
}
