using System.Globalization;

namespace AgentHarness.Internal;

/// <summary>
/// Run metadata travels as HTTP headers, so names must be header tokens and values printable
/// ASCII. Checking when a value is set (not when a request is sent) turns a header injection
/// attempt or a typo into an error at the line that caused it.
/// </summary>
internal static class MetadataRules
{
    public const int MaxLength = 1024;

    public static string ValidateValue(string value, string field)
    {
        if (DescribeInvalidValue(value) is { } problem)
        {
            throw new ArgumentException($"The run metadata '{field}' is refused: {problem}. Metadata is sent as HTTP headers and must be printable ASCII of at most {MaxLength} characters.", field);
        }

        return value;
    }

    public static string ValidateName(string name, string parameterName)
    {
        if (DescribeInvalidName(name) is { } problem)
        {
            throw new ArgumentException($"The run metadata name '{Printable(name)}' is refused: {problem}. A name becomes part of an HTTP header name.", parameterName);
        }

        return name;
    }

    public static string? DescribeInvalidValue(string value)
    {
        if (value.Length > MaxLength)
        {
            return $"it has {value.Length.ToString(CultureInfo.InvariantCulture)} characters, more than {MaxLength}";
        }

        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c is >= ' ' and < (char)0x7F)
            {
                continue;
            }

            return $"it contains {Describe(c)} at position {i.ToString(CultureInfo.InvariantCulture)}";
        }

        return null;
    }

    public static string? DescribeInvalidName(string name)
    {
        if (name.Length == 0)
        {
            return "it is empty";
        }

        if (name.Length > MaxLength)
        {
            return $"it has {name.Length.ToString(CultureInfo.InvariantCulture)} characters, more than {MaxLength}";
        }

        for (var i = 0; i < name.Length; i++)
        {
            if (!IsTokenChar(name[i]))
            {
                return $"it contains {Describe(name[i])} at position {i.ToString(CultureInfo.InvariantCulture)}, which is not allowed in a header name";
            }
        }

        return null;
    }

    /// <summary>
    /// Prefixes of standard headers: a metadata prefix among them would let a run's extra key
    /// form a header such as <c>Content-Type</c> or <c>Proxy-Authorization</c>.
    /// </summary>
    private static readonly string[] ReservedPrefixes =
        ["Content-", "Proxy-", "Accept-", "Access-Control-", "Sec-", "If-", "Transfer-", "Keep-", "Cache-", "Authorization-", "Host-", "Cookie-"];

    /// <summary>Describes why a gateway's metadata header prefix is not allowed, or returns <see langword="null"/>.</summary>
    public static string? DescribeInvalidPrefix(string prefix)
    {
        if (DescribeInvalidName(prefix) is { } problem)
        {
            return problem;
        }

        if (!prefix.EndsWith('-'))
        {
            return "it must end with '-', as in X-Requesty-, so that no metadata name can form another header";
        }

        foreach (var reserved in ReservedPrefixes)
        {
            if (reserved.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) || prefix.StartsWith(reserved, StringComparison.OrdinalIgnoreCase))
            {
                return $"headers starting with '{reserved}' are standard HTTP headers";
            }
        }

        return null;
    }

    // RFC 9110 token characters.
    private static bool IsTokenChar(char c) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9')
            or '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~';

    private static string Describe(char c) => c switch
    {
        '\r' => "a carriage return (CR)",
        '\n' => "a line feed (LF)",
        '\0' => "a NUL character",
        > (char)0x7E => $"the non-ASCII character U+{(int)c:X4}",
        < ' ' or (char)0x7F => $"the control character U+{(int)c:X4}",
        _ => $"the character '{c}'",
    };

    private static string Printable(string name) =>
        name.Length <= 64 && DescribeInvalidValue(name) is null ? name : "(not shown)";
}
