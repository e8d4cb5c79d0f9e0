using System.Globalization;
using System.Text;

namespace AgentHarness.Http.Internal;

/// <summary>Adds an output limit to a request body that has none, for a limit the budget stage sets.</summary>
internal static class OutputLimit
{
    /// <summary>
    /// The body property that limits an operation's output, for a limit the harness sets; <see langword="null"/>
    /// for an operation it does not limit.
    /// </summary>
    public static string? Property(string operation) => operation switch
    {
        "chat/completions" => "max_completion_tokens",
        "responses" => "max_output_tokens",
        "completions" => "max_tokens",
        _ => null,
    };

    /// <summary>Returns the body with <c>"property": tokens</c> as the first member of its top-level object.</summary>
    /// <param name="body">A JSON object; the caller checked that it is one.</param>
    /// <param name="property">The limit's property name, for example <c>max_completion_tokens</c>.</param>
    /// <param name="tokens">The limit.</param>
    public static byte[] Insert(byte[] body, string property, int tokens)
    {
        var open = body.AsSpan().IndexOf((byte)'{');
        if (open < 0)
        {
            return body;
        }

        var rest = body.AsSpan(open + 1);
        var empty = rest.TrimStart(" \t\r\n"u8).StartsWith("}"u8);
        var member = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"\"{property}\":{tokens}{(empty ? string.Empty : ",")}"));
        var result = new byte[body.Length + member.Length];
        body.AsSpan(0, open + 1).CopyTo(result);
        member.CopyTo(result.AsSpan(open + 1));
        rest.CopyTo(result.AsSpan(open + 1 + member.Length));
        return result;
    }
}
