using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace AgentHarness.Internal;

/// <summary>
/// Removes API keys from text that came from outside (error bodies, model lists, usage answers) before it is quoted in
/// a reason, a record, an exception, a log or an error body handed back to the caller. It knows every configured key,
/// of every provider and of the Requesty usage client, not only the one a request was sent with: a gateway can echo
/// any of them. Each key is looked for as it is, JSON-escaped and URL-encoded (any mix of them, ignoring case, so that
/// <c>\u002b</c> and <c>%2f</c> match as well as <c>\u002B</c> and <c>%2F</c>). Text shaped like a well-known key
/// (<c>sk-...</c>, <c>AIza...</c>) is masked too, configured or not.
/// </summary>
internal sealed partial class KeyRedactor
{
    /// <summary>What a removed key is replaced with.</summary>
    public const string Mask = "[key removed]";

    /// <summary>
    /// Keys shorter than this are not looked for: no real key is that short, and masking every occurrence of a
    /// two-letter test key would make text unreadable.
    /// </summary>
    private const int MinKeyLength = 8;

    // Built on first use: a non-backtracking regex takes tens of milliseconds to construct, and most processes never
    // see a body to redact; a call that does pays it once, not every process at its start.
    private readonly Lazy<Regex>? _keys;

    // A piece of each key that any echo of it holds as it is (see Anchor); null when a key has none, and text must
    // then always go through the regex.
    private readonly string[]? _anchors;

    // The anchors and the shapes' prefixes in one multi-string search: a header value is looked at in one pass.
    private readonly SearchValues<string>? _hints;

    /// <summary>Initializes a new instance of the <see cref="KeyRedactor"/> class.</summary>
    /// <param name="keys">The configured keys; <see langword="null"/>, blank and very short ones are ignored.</param>
    public KeyRedactor(IEnumerable<string?> keys)
    {
        // Longest first, so that a key that contains another goes as a whole.
        var kept = keys
            .Where(static k => !string.IsNullOrWhiteSpace(k) && k.Length >= MinKeyLength)
            .Distinct(StringComparer.Ordinal)
            .OrderByDescending(static k => k!.Length)
            .ToList();
        var patterns = kept.Select(static k => Pattern(k!)).ToList();
        var anchors = kept.Select(static k => Anchor(k!)).ToArray();
        _anchors = Array.TrueForAll(anchors, static a => a.Length > 0) ? anchors : null;
        _hints = _anchors is null ? null : SearchValues.Create([.. _anchors, "sk-", "AIza"], StringComparison.OrdinalIgnoreCase);
        _keys = patterns.Count == 0
            ? null
            : new Lazy<Regex>(() => new Regex(string.Join('|', patterns), RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.NonBacktracking));
    }

    /// <summary>Returns <paramref name="text"/> with every key, in every form, and every key-shaped token replaced by <see cref="Mask"/>.</summary>
    public string Redact(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_keys is not null && MayHoldKey(text))
        {
            text = _keys.Value.Replace(text, Mask);
        }

        // The shapes are matched case-sensitively, from these prefixes: text without them holds none.
        return text.Contains("sk-", StringComparison.Ordinal) || text.Contains("AIza", StringComparison.Ordinal)
            ? KeyShapes().Replace(text, Mask)
            : text;
    }

    /// <summary>
    /// Whether <see cref="Redact"/> may change the text: it holds a configured key's anchor or a key shape's prefix (in
    /// one vectorized pass), or a key has no anchor. Text shorter than any key holds none.
    /// </summary>
    public bool MayRedact(ReadOnlySpan<char> text) =>
        text.Length >= MinKeyLength && (_hints is null || text.IndexOfAny(_hints) >= 0);

    /// <summary>Redacts a UTF-8 body; <see langword="null"/> when it holds nothing to remove, so that its bytes are kept as they came.</summary>
    public byte[]? RedactUtf8(byte[] body)
    {
        if (body.Length == 0)
        {
            return null;
        }

        var text = Encoding.UTF8.GetString(body);
        var redacted = Redact(text);
        return ReferenceEquals(redacted, text) || string.Equals(redacted, text, StringComparison.Ordinal) ? null : Encoding.UTF8.GetBytes(redacted);
    }

    /// <summary>Whether the text may hold a configured key: it holds some key's anchor (a regex run costs far more than these searches).</summary>
    private bool MayHoldKey(string text)
    {
        if (_anchors is null)
        {
            return true;
        }

        foreach (var anchor in _anchors)
        {
            if (text.Contains(anchor, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The longest run of a key's characters that every match of its pattern holds as they are, up to ASCII case:
    /// letters and digits are never escaped (see <see cref="Pattern"/>). Letters the regex's case-insensitive
    /// matching also pairs with non-ASCII ones (k with the Kelvin sign, s with the long s, i) end a run, so that an
    /// ordinal case-insensitive search finds the anchor in everything the pattern matches.
    /// </summary>
    private static string Anchor(string key)
    {
        var best = string.Empty;
        var start = 0;
        for (var i = 0; i <= key.Length; i++)
        {
            if (i < key.Length && char.IsAsciiLetterOrDigit(key[i]) && "kKsSiI".IndexOf(key[i], StringComparison.Ordinal) < 0)
            {
                continue;
            }

            if (i - start > best.Length)
            {
                best = key[start..i];
            }

            start = i + 1;
        }

        return best;
    }

    /// <summary>
    /// A pattern matching one key however its characters were escaped, each one separately: as it is, JSON-escaped
    /// (<c>\u002B</c>, and <c>\/</c> for a slash) or percent-encoded (<c>%2B</c>, UTF-8 bytes for other than ASCII).
    /// Letters and digits are never escaped by encoders, so only the other characters get alternatives.
    /// </summary>
    private static string Pattern(string key)
    {
        var pattern = new StringBuilder(key.Length * 4);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var c in key)
        {
            if (char.IsAsciiLetterOrDigit(c) || char.IsSurrogate(c))
            {
                pattern.Append(Regex.Escape(c.ToString()));
                continue;
            }

            pattern.Append("(?:").Append(Regex.Escape(c.ToString()))
                .Append(@"|\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture))
                .Append('|');
            var length = Encoding.UTF8.GetBytes([c], utf8);
            foreach (var b in utf8[..length])
            {
                pattern.Append('%').Append(b.ToString("x2", CultureInfo.InvariantCulture));
            }

            if (c == '/')
            {
                pattern.Append(@"|\\/");
            }

            pattern.Append(')');
        }

        return pattern.ToString();
    }

    /// <summary>
    /// Well-known key shapes: OpenAI, Anthropic, OpenRouter, Requesty and similar <c>sk-</c> keys (<c>sk-proj-</c>,
    /// <c>sk-ant-</c>, <c>sk-or-v1-</c>...) with at least 16 characters after the prefix, and Google's 39-character
    /// <c>AIza</c> keys. Partly masked echoes such as <c>sk-live-****abcd</c> are too short to match and stay readable.
    /// </summary>
    [GeneratedRegex(@"(?<![A-Za-z0-9_-])(?:sk-[A-Za-z0-9_-]{16,}|AIza[0-9A-Za-z_-]{35})", RegexOptions.CultureInvariant)]
    private static partial Regex KeyShapes();
}
