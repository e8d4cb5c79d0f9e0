using System.Buffers;
using System.Net;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using AgentHarness.Routing.Internal;
using AgentHarness.Usage.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AgentHarness.Internal;

/// <summary>
/// Removes API keys from text that came from outside (error bodies, model lists, usage answers) before it is quoted in
/// a reason, a record, an exception, a log or an error body handed back to the caller. It knows every configured key,
/// of every provider and of the Requesty usage client, not only the one a request was sent with: a gateway can echo
/// any of them. Each key is looked for as it is, JSON-escaped and URL-encoded, ignoring case (so that <c>\u002b</c> and
/// <c>%2f</c> match as well as <c>\u002B</c> and <c>%2F</c>). Text shaped like a well-known key (<c>sk-...</c>,
/// <c>AIza...</c>) is masked too, configured or not.
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

    private static readonly JavaScriptEncoder RelaxedJson = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    private readonly string[] _forms;
    private readonly SearchValues<string>? _search;

    /// <summary>Initializes a new instance of the <see cref="KeyRedactor"/> class.</summary>
    /// <param name="keys">The configured keys; <see langword="null"/>, blank and very short ones are ignored.</param>
    public KeyRedactor(IEnumerable<string?> keys)
    {
        var forms = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var key in keys)
        {
            if (string.IsNullOrWhiteSpace(key) || key.Length < MinKeyLength)
            {
                continue;
            }

            forms.Add(key);
            forms.Add(JsonEncodedText.Encode(key).ToString());
            forms.Add(JsonEncodedText.Encode(key, RelaxedJson).ToString());
            forms.Add(key.Replace("/", "\\/", StringComparison.Ordinal));
            forms.Add(Uri.EscapeDataString(key));
            forms.Add(WebUtility.UrlEncode(key));
        }

        // Longer forms first: an escaped form that contains the raw key must go as a whole.
        _forms = [.. forms.OrderByDescending(static f => f.Length)];
        _search = _forms.Length == 0 ? null : SearchValues.Create(_forms, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Builds the redactor from every key the container configures: the providers' and the Requesty usage client's.</summary>
    public static KeyRedactor Create(IServiceProvider services)
    {
        var keys = services.GetRequiredService<ProviderRegistry>().Providers.Select(static p => p.ApiKey).ToList();
        if (services.GetService<RequestyUsageRegistration>() is { } registration)
        {
            // Resolved as the client resolves it, without throwing: a key that cannot be found fails at start anyway.
            keys.Add(RequestyUsageOptionsValidator.ResolveKey(
                services.GetRequiredService<IOptions<RequestyUsageOptions>>().Value,
                services.GetRequiredService<IOptions<AgentHarnessOptions>>().Value,
                registration.SectionPath,
                out _));
        }

        return new KeyRedactor(keys);
    }

    /// <summary>Returns <paramref name="text"/> with every key, in every form, and every key-shaped token replaced by <see cref="Mask"/>.</summary>
    public string Redact(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_search is not null && text.AsSpan().ContainsAny(_search))
        {
            foreach (var form in _forms)
            {
                text = text.Replace(form, Mask, StringComparison.OrdinalIgnoreCase);
            }
        }

        return KeyShapes().Replace(text, Mask);
    }

    /// <summary>Whether <paramref name="text"/> holds a configured key in any form (key shapes aside).</summary>
    public bool ContainsKey(string text) => _search is not null && text.AsSpan().ContainsAny(_search);

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

    /// <summary>
    /// Well-known key shapes: OpenAI, Anthropic, OpenRouter, Requesty and similar <c>sk-</c> keys (<c>sk-proj-</c>,
    /// <c>sk-ant-</c>, <c>sk-or-v1-</c>...) with at least 16 characters after the prefix, and Google's 39-character
    /// <c>AIza</c> keys. Partly masked echoes such as <c>sk-live-****abcd</c> are too short to match and stay readable.
    /// </summary>
    [GeneratedRegex(@"(?<![A-Za-z0-9_-])(?:sk-[A-Za-z0-9_-]{16,}|AIza[0-9A-Za-z_-]{35})", RegexOptions.CultureInvariant)]
    private static partial Regex KeyShapes();
}
