using System.Buffers;
using System.Globalization;
using System.Text;

namespace AgentHarness.Routing.Internal;

/// <summary>
/// The rules a model id must meet before it is routed, cached, logged or quoted: on a gateway ids
/// are the caller's, so their length and characters are checked before anything else sees them.
/// </summary>
internal static class ModelIds
{
    /// <summary>The longest model id accepted; real ids (<c>provider/vendor/model-version</c>) are far shorter.</summary>
    public const int MaxLength = 256;

    /// <summary>How much of a refused id a message shows.</summary>
    private const int MaxShownLength = 64;

    /// <summary>C0 and C1 controls, DEL, and the Unicode line and paragraph separators: anything that can break a log line.</summary>
    private static readonly SearchValues<char> ControlCharacters = SearchValues.Create(
        string.Concat(
            new string([.. Enumerable.Range(0, 0x20).Select(static c => (char)c)]),
            new string([.. Enumerable.Range(0x7F, 0x21).Select(static c => (char)c)]),
            "\u2028\u2029"));

    /// <summary>Says why a model id is refused, quoting it only escaped and shortened; <see langword="null"/> when it is acceptable.</summary>
    /// <param name="model">The id as the caller sent it; <see langword="null"/> (a request that names no model) is acceptable.</param>
    public static string? Refusal(string? model)
    {
        if (model is null)
        {
            return null;
        }

        if (model.Length > MaxLength)
        {
            return string.Create(
                CultureInfo.InvariantCulture,
                $"The model id '{Show(model)}' is {model.Length:N0} characters long; the longest model id the harness accepts is {MaxLength} characters.");
        }

        return model.AsSpan().ContainsAny(ControlCharacters)
            ? $"The model id '{Show(model)}' contains control characters (shown escaped); a model id must be printable text."
            : null;
    }

    /// <summary>Gets the id to quote in exceptions and records: the id itself when acceptable, else <see cref="Show"/>.</summary>
    public static string Quotable(string model) => Refusal(model) is null ? model : Show(model);

    /// <summary>The id with control characters escaped (<c>\r</c>, <c>\n</c>, <c>\t</c>, <c>\u0085</c>...) and cut to <see cref="MaxShownLength"/> characters.</summary>
    public static string Show(string model)
    {
        var text = new StringBuilder(Math.Min(model.Length, MaxShownLength) + 8);
        foreach (var c in model)
        {
            if (text.Length >= MaxShownLength)
            {
                return text.Append("...").ToString();
            }

            _ = c switch
            {
                '\r' => text.Append("\\r"),
                '\n' => text.Append("\\n"),
                '\t' => text.Append("\\t"),
                _ when ControlCharacters.Contains(c) => text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)),
                _ => text.Append(c),
            };
        }

        return text.ToString();
    }
}
