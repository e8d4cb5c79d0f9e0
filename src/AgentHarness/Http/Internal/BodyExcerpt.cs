namespace AgentHarness.Http.Internal;

/// <summary>The start of a body from outside, quoted in an error message: the model list's and the usage API's.</summary>
internal static class BodyExcerpt
{
    /// <summary>How many characters of the body a message quotes.</summary>
    private const int MaxLength = 300;

    /// <summary>
    /// The start of text from outside for a message, on one line. Redact before calling, so that a
    /// key cut in two by the excerpt's end cannot show.
    /// </summary>
    public static string Of(string redacted)
    {
        var text = redacted.ReplaceLineEndings(" ");
        return text.Length > MaxLength ? text[..MaxLength] + "..." : text;
    }
}
