using System.Buffers;
using System.Collections.Frozen;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using AgentHarness.Pipeline.Internal;

namespace AgentHarness.Routing.Internal;

/// <summary>The classification of one failed attempt.</summary>
/// <param name="Kind">What the failure means for routing.</param>
/// <param name="StatusCode">The HTTP status of the response, or <see langword="null"/> when no response arrived.</param>
/// <param name="Reason">
/// A short ASCII description for logs and usage records, such as <c>HTTP 429 rate_limit_exceeded</c>. It is built only from the
/// status and from identifier-like codes, never from message text, which can echo the prompt or part of an API key.
/// </param>
internal readonly record struct Failure(FailureKind Kind, int? StatusCode, string Reason);

/// <summary>
/// Classifies a failed attempt (an error response or an exception) into a <see cref="FailureKind"/> that tells the router whether
/// to retry, fall back to another candidate, or stop.
/// </summary>
/// <remarks>
/// <para>
/// The HTTP status alone is not enough: a 400 is the caller's error unless it says the prompt is too long for this model (another
/// model may take it) or that the account has run out of credit (another provider may serve it); a 429 is a rate limit worth a
/// retry unless it says the quota is spent. So the classifier reads the error body that OpenAI, Azure OpenAI, Anthropic, Google,
/// Mistral, DeepSeek, Groq, xAI, Cohere and gateways such as LiteLLM and OpenRouter send, and falls back to the status when the
/// body says nothing it recognises.
/// </para>
/// <para>
/// The body is read with <see cref="Utf8JsonReader"/>, without building a document, and only its first 64 KB: error objects are a
/// few hundred bytes, and a longer body is a request echo that must not cost more to read than the error it carries.
/// </para>
/// </remarks>
internal static class FailureClassifier
{
    /// <summary>The longest prefix of a body that is read; see the class remarks.</summary>
    private const int MaxScannedBytes = 64 * 1024;

    /// <summary>
    /// How deep below the envelope codes are looked for: deep enough for Azure's <c>error.innererror.code</c>, LiteLLM's
    /// <c>error.provider_specific_fields.innererror.code</c> and Google's <c>error.details[].reason</c>, and no deeper, so that a
    /// request echoed inside a validation error cannot pass for the provider's own code.
    /// </summary>
    private const int MaxCodeDepth = 4;

    /// <summary>The longest code that is quoted in a reason; real codes are far shorter, and a longer value is not a code.</summary>
    private const int MaxIdentifierLength = 48;

    /// <summary>Values of short strings are decoded on the stack; longer ones, such as messages, into a pooled buffer.</summary>
    private const int StackBufferLength = 256;

    /// <summary>The suffix of OpenAI's and gateways' spend-limit codes (<c>organization_</c>, <c>project_</c>, <c>api_key_</c>...).</summary>
    private const string SpendLimitSuffix = "spend_limit_exceeded";

    /// <summary>
    /// Codes that decide the kind, matched case-insensitively against the error's <c>code</c>, <c>type</c>, <c>status</c> and
    /// <c>reason</c> values and against an <c>error</c> given as a bare string; the value keeps the spelling quoted in reasons.
    /// </summary>
    private static readonly FrozenDictionary<string, (FailureKind Kind, string Name)> Codes = new (string Name, FailureKind Kind)[]
    {
        // OpenAI and Azure OpenAI (code), DALL-E (code), Azure's innererror.code, OpenAI reasoning models' flagged prompt.
        ("content_filter", FailureKind.ContentFilter),
        ("content_policy_violation", FailureKind.ContentFilter),
        ("ResponsibleAIPolicyViolation", FailureKind.ContentFilter),
        ("invalid_prompt", FailureKind.ContentFilter),

        // OpenAI and Groq.
        ("context_length_exceeded", FailureKind.ContextWindowExceeded),

        // OpenAI (type and code), OpenAI images (400), LiteLLM proxy budgets (type, 400 or 429), Moonshot (type, 429).
        ("insufficient_quota", FailureKind.QuotaExceeded),
        ("billing_hard_limit_reached", FailureKind.QuotaExceeded),
        ("budget_exceeded", FailureKind.QuotaExceeded),
        ("exceeded_current_quota_error", FailureKind.QuotaExceeded),

        // Google answers a bad key with 400 INVALID_ARGUMENT, which would otherwise stop the fallback.
        ("API_KEY_INVALID", FailureKind.Authentication),
    }.ToFrozenDictionary(code => code.Name, code => (code.Kind, code.Name), StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenDictionary<string, (FailureKind Kind, string Name)>.AlternateLookup<ReadOnlySpan<char>> CodeLookup =
        Codes.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Wording of prompts too long for the model, for providers and gateways that give no code for it.</summary>
    private static readonly SearchValues<string> ContextWindowPhrases = SearchValues.Create(
        [
            "ContextWindowExceededError", // LiteLLM
            "maximum context length", // OpenAI, DeepSeek, vLLM, OpenRouter, Mistral
            "reduce the length", // OpenAI, Groq, DeepSeek
            "prompt is too long", // Anthropic
            "exceed context limit", // Anthropic, input plus max_tokens
            "exceeds the maximum number of tokens allowed", // Gemini
            "maximum prompt length", // xAI
            "input is too long", // Amazon Bedrock
            "too many tokens", // Cohere
        ],
        StringComparison.OrdinalIgnoreCase);

    /// <summary>Wording of spent quotas and credit, for providers that give no code for it or reuse a rate-limit code.</summary>
    private static readonly SearchValues<string> QuotaPhrases = SearchValues.Create(
        [
            "exceeded your current quota", // OpenAI, Google Gemini
            "credit balance is too low", // Anthropic
            "budget has been exceeded", // LiteLLM, wrapped by a gateway
            "spending limit", // xAI
            "insufficient credits", // OpenRouter and other gateways
            "billing hard limit", // OpenAI
        ],
        StringComparison.OrdinalIgnoreCase);

    /// <summary>Wording of safety refusals, for gateways that put the provider's refusal in a message with a numeric code.</summary>
    private static readonly SearchValues<string> ContentFilterPhrases = SearchValues.Create(
        [
            "content management policy", // Azure OpenAI
            "ContentPolicyViolationError", // LiteLLM
        ],
        StringComparison.OrdinalIgnoreCase);

    /// <summary>Classifies an error response.</summary>
    /// <param name="statusCode">The non-success HTTP status.</param>
    /// <param name="body">The buffered body; it may be empty, not JSON, truncated or huge.</param>
    /// <returns>The classification, whose <see cref="Failure.StatusCode"/> is <paramref name="statusCode"/>.</returns>
    /// <remarks>
    /// <para>Evidence is weighed in this order, the first that applies deciding:</para>
    /// <list type="number">
    /// <item><description>
    /// A redirect (3xx) is <see cref="FailureKind.ModelNotFound"/> whatever the body says: it is never followed.
    /// </description></item>
    /// <item><description>
    /// A safety refusal (<c>content_filter</c>, <c>content_policy_violation</c>, <c>ResponsibleAIPolicyViolation</c>,
    /// <c>invalid_prompt</c>, or a gateway's wording of them) is <see cref="FailureKind.ContentFilter"/> whatever the status.
    /// </description></item>
    /// <item><description>
    /// The code <c>context_length_exceeded</c> is <see cref="FailureKind.ContextWindowExceeded"/> whatever the status.
    /// </description></item>
    /// <item><description>
    /// A spent quota (<c>insufficient_quota</c>, <c>*spend_limit_exceeded</c>, <c>budget_exceeded</c>,
    /// <c>billing_hard_limit_reached</c>, <c>exceeded_current_quota_error</c>, or wording such as "exceeded your current quota"
    /// and "credit balance is too low") is <see cref="FailureKind.QuotaExceeded"/>, on a 429 too: retrying a spent quota only
    /// burns the retry budget, and Google's <c>RESOURCE_EXHAUSTED</c> is a quota only when its message says so.
    /// </description></item>
    /// <item><description>
    /// Context-window wording ("prompt is too long", "maximum context length"...) is
    /// <see cref="FailureKind.ContextWindowExceeded"/>, except on a 429: rate-limit messages speak of tokens in the same words
    /// (Bedrock's "Too many tokens, please wait"), so wording alone does not override a rate limit.
    /// </description></item>
    /// <item><description>
    /// Google's rejected key (<c>API_KEY_INVALID</c>) is <see cref="FailureKind.Authentication"/> although it comes as a 400.
    /// </description></item>
    /// <item><description>
    /// Otherwise the status decides: 408, 429, every 5xx (529 included) and anything outside 4xx are
    /// <see cref="FailureKind.Transient"/>; 401 and 403 are <see cref="FailureKind.Authentication"/>; 402 is
    /// <see cref="FailureKind.QuotaExceeded"/>; 413 is <see cref="FailureKind.ContextWindowExceeded"/>, because the request is
    /// too large for this endpoint (Anthropic's byte limit, Groq's per-minute token limit) yet may fit another candidate, so
    /// neither a retry nor stopping the fallback helps; every other 4xx is <see cref="FailureKind.InvalidRequest"/>.
    /// </description></item>
    /// </list>
    /// <para>
    /// Codes are read from the error object (<c>error</c>, or the body itself for Mistral, Cohere and xAI, inside the array that
    /// Google's streaming endpoints send) and from objects nested in it; messages only from the error object itself, and from
    /// <c>error</c> when it is a bare string. JSON escapes are decoded before matching, and matching ignores case.
    /// </para>
    /// </remarks>
    public static Failure Classify(int statusCode, ReadOnlySpan<byte> body)
    {
        if (statusCode is >= 300 and < 400)
        {
            // Redirects are never followed (that would re-send the prompt to another host): the candidate failed, and as
            // with a 404, a retry would be redirected again while another candidate may answer. The body is not read.
            return new Failure(FailureKind.ModelNotFound, statusCode, string.Create(CultureInfo.InvariantCulture, $"HTTP {statusCode} (redirect not followed)"));
        }

        var evidence = Evidence.Read(body);

        if (evidence.ContentFilterCode is not null || evidence.ContentFilterText)
        {
            return Found(FailureKind.ContentFilter, statusCode, evidence.ContentFilterCode, evidence);
        }

        if (evidence.ContextWindowCode is not null)
        {
            return Found(FailureKind.ContextWindowExceeded, statusCode, evidence.ContextWindowCode, evidence);
        }

        if (evidence.QuotaCode is not null || evidence.QuotaText)
        {
            return Found(FailureKind.QuotaExceeded, statusCode, evidence.QuotaCode, evidence);
        }

        if (evidence.ContextWindowText && statusCode != 429)
        {
            return Found(FailureKind.ContextWindowExceeded, statusCode, code: null, evidence);
        }

        if (evidence.AuthenticationCode is not null)
        {
            return Found(FailureKind.Authentication, statusCode, evidence.AuthenticationCode, evidence);
        }

        var kind = KindOf(statusCode);
        var reason = evidence.Identifier is { } identifier
            ? string.Create(CultureInfo.InvariantCulture, $"HTTP {statusCode} {identifier}")
            : string.Create(CultureInfo.InvariantCulture, $"HTTP {statusCode}");
        if (kind == FailureKind.InvalidRequest && evidence.Param is { } param)
        {
            // The parameter at fault is what a caller needs to fix the request.
            reason += " (param " + param + ")";
        }

        return new Failure(kind, statusCode, reason);
    }

    /// <summary>Classifies an exception thrown by an attempt instead of a response.</summary>
    /// <param name="exception">The exception.</param>
    /// <param name="callerCanceled">Whether the caller's own cancellation token is cancelled.</param>
    /// <param name="attemptTimeout">The attempt timeout, quoted in the reason of a timed-out attempt.</param>
    /// <returns>The classification, whose <see cref="Failure.StatusCode"/> is <see langword="null"/>.</returns>
    /// <remarks>
    /// <para>
    /// A cancelled caller wins over whatever was thrown (<see cref="FailureKind.Canceled"/>): cancellation surfaces as many
    /// exception types, and nobody is waiting for a retry. Otherwise the exception and its inner exceptions are searched,
    /// outermost first: a cancellation or timeout (<see cref="OperationCanceledException"/>, <see cref="TimeoutException"/>, or
    /// an exception caused by one) means the attempt timed out; an
    /// <see cref="HttpRequestException"/>, <see cref="IOException"/> or <see cref="SocketException"/> means the connection
    /// failed, before or while the response was read. Both are <see cref="FailureKind.Transient"/>.
    /// </para>
    /// <para>
    /// Any other exception is a bug or a misconfiguration, not the provider's weather, so it is
    /// <see cref="FailureKind.InvalidRequest"/>: retrying it or repeating it on another provider would only fail again.
    /// </para>
    /// </remarks>
    public static Failure Classify(Exception exception, bool callerCanceled, TimeSpan attemptTimeout)
    {
        ArgumentNullException.ThrowIfNull(exception);

        if (callerCanceled)
        {
            return new Failure(FailureKind.Canceled, null, "canceled by the caller");
        }

        if (exception is ProviderCredentialException credential)
        {
            // Nothing was sent: the provider's credential could not be had, which a retry on it would not change.
            return new Failure(FailureKind.Authentication, null, credential.InnerException is { } cause and not OperationCanceledException
                ? "no access token: " + cause.GetType().Name
                : "no access token");
        }

        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is Http.Internal.BodyTooLargeException tooLarge)
            {
                // The provider's answer, not the connection: the reason names the limit it broke.
                return new Failure(FailureKind.Transient, null, tooLarge.Reason);
            }

            if (current is OperationCanceledException or TimeoutException)
            {
                return new Failure(FailureKind.Transient, null, "attempt timed out after " + attemptTimeout.ToString("c", CultureInfo.InvariantCulture));
            }

            if (current is HttpRequestException or IOException or SocketException)
            {
                return new Failure(FailureKind.Transient, null, ConnectionReason(current));
            }
        }

        return new Failure(FailureKind.InvalidRequest, null, "unexpected " + exception.GetType().Name);
    }

    /// <summary>The kind a status means when the body adds nothing; see <see cref="Classify(int, ReadOnlySpan{byte})"/>.</summary>
    private static FailureKind KindOf(int statusCode) => statusCode switch
    {
        401 or 403 => FailureKind.Authentication,
        402 => FailureKind.QuotaExceeded,
        408 or 429 => FailureKind.Transient,
        413 => FailureKind.ContextWindowExceeded,
        404 => FailureKind.ModelNotFound,
        >= 400 and < 500 => FailureKind.InvalidRequest,
        _ => FailureKind.Transient,
    };

    /// <summary>
    /// Builds the failure for evidence found in the body: the deciding code when there is one (<c>HTTP 429 insufficient_quota</c>),
    /// otherwise the error's own code and what its wording showed (<c>HTTP 400 invalid_request_error (context window exceeded)</c>).
    /// </summary>
    private static Failure Found(FailureKind kind, int statusCode, string? code, in Evidence evidence)
    {
        if (code is not null)
        {
            return new Failure(kind, statusCode, string.Create(CultureInfo.InvariantCulture, $"HTTP {statusCode} {code}"));
        }

        var label = kind switch
        {
            FailureKind.ContentFilter => "content filtered",
            FailureKind.QuotaExceeded => "quota exceeded",
            _ => "context window exceeded",
        };
        var reason = evidence.Identifier is { } identifier
            ? string.Create(CultureInfo.InvariantCulture, $"HTTP {statusCode} {identifier} ({label})")
            : string.Create(CultureInfo.InvariantCulture, $"HTTP {statusCode} ({label})");
        return new Failure(kind, statusCode, reason);
    }

    /// <summary>Names the most specific cause .NET gives for a failed connection, such as <c>ConnectionError</c> or <c>ConnectionRefused</c>.</summary>
    private static string ConnectionReason(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            var error = current switch
            {
                HttpRequestException request => request.HttpRequestError,
                HttpIOException io => io.HttpRequestError,
                _ => HttpRequestError.Unknown,
            };
            if (error != HttpRequestError.Unknown)
            {
                return "connection failed (" + error + ")";
            }

            if (current is SocketException socket)
            {
                return "connection failed (" + socket.SocketErrorCode + ")";
            }
        }

        return "connection failed";
    }

    /// <summary>Whether a value can be quoted in a reason: a short identifier with a letter in it, not a sentence, a number or a placeholder.</summary>
    private static bool IsIdentifier(ReadOnlySpan<char> value, bool allowBrackets)
    {
        if (value.IsEmpty || value.Length > MaxIdentifierLength)
        {
            return false;
        }

        var hasLetter = false;
        foreach (var c in value)
        {
            if (char.IsAsciiLetter(c))
            {
                hasLetter = true;
            }
            else if (!char.IsAsciiDigit(c) && c is not ('_' or '-' or '.') && !(allowBrackets && c is '[' or ']'))
            {
                return false;
            }
        }

        // "error" is Anthropic's envelope type; "None" is what LiteLLM writes for a missing type or param.
        return hasLetter
            && !value.Equals("error", StringComparison.OrdinalIgnoreCase)
            && !value.Equals("None", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The properties of an error object that carry evidence.</summary>
    private enum Field
    {
        None,
        Code,
        Type,
        Status,
        Reason,
        Param,
        Message,
        Error,
    }

    /// <summary>What one scan of a body found.</summary>
    private struct Evidence
    {
        public string? ContentFilterCode;
        public string? ContextWindowCode;
        public string? QuotaCode;
        public string? AuthenticationCode;
        public bool ContentFilterText;
        public bool ContextWindowText;
        public bool QuotaText;
        public string? Code;
        public string? Type;
        public string? Status;
        public string? Param;

        /// <summary>Gets the error's own identifier for a reason: its code, else its type, else Google's status.</summary>
        public readonly string? Identifier => Code ?? Type ?? Status;

        /// <summary>Scans the first <see cref="MaxScannedBytes"/> of a body; a body that is not JSON yields no evidence.</summary>
        public static Evidence Read(ReadOnlySpan<byte> body)
        {
            var evidence = default(Evidence);
            var isWhole = body.Length <= MaxScannedBytes;
            var json = isWhole ? body : body[..MaxScannedBytes];
            json = json.StartsWith("\uFEFF"u8) ? json[3..] : json;

            // HTML error pages from proxies and plain-text bodies are common; they are not worth an exception.
            var start = json.TrimStart(" \t\r\n"u8);
            if (start.IsEmpty || (start[0] != (byte)'{' && start[0] != (byte)'['))
            {
                return evidence;
            }

            var reader = new Utf8JsonReader(json, isFinalBlock: isWhole, state: default);
            try
            {
                evidence.Scan(ref reader);
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException)
            {
                // Malformed, cut off or not UTF-8: what was read before the fault stands.
            }

            return evidence;
        }

        private void Scan(ref Utf8JsonReader reader)
        {
            // Google's streaming endpoints wrap the error object in an array; depths are counted from inside it.
            var baseDepth = 0;
            var field = Field.None;
            var fieldDepth = 0;
            var errorObjectDepth = -1;

            // A body cut at the scan limit ends Read() without an exception; a whole body ends it after the last token.
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        field = FieldOf(ref reader);
                        fieldDepth = reader.CurrentDepth - baseDepth;
                        break;
                    case JsonTokenType.String:
                        if (field != Field.None)
                        {
                            var inErrorObject = errorObjectDepth >= 0 && fieldDepth == 2;
                            Take(ref reader, field, fieldDepth, inEnvelope: fieldDepth == 1 || inErrorObject);
                        }

                        field = Field.None;
                        break;
                    case JsonTokenType.StartObject:
                        if (field == Field.Error && fieldDepth == 1)
                        {
                            errorObjectDepth = reader.CurrentDepth;
                        }

                        field = Field.None;
                        break;
                    case JsonTokenType.EndObject:
                        if (reader.CurrentDepth == errorObjectDepth)
                        {
                            errorObjectDepth = -1;
                        }

                        break;
                    case JsonTokenType.StartArray when reader.CurrentDepth == 0:
                        baseDepth = 1;
                        break;
                    default:
                        field = Field.None;
                        break;
                }
            }
        }

        private static Field FieldOf(ref Utf8JsonReader reader) =>
            reader.ValueTextEquals("code"u8) ? Field.Code
            : reader.ValueTextEquals("type"u8) ? Field.Type
            : reader.ValueTextEquals("status"u8) ? Field.Status
            : reader.ValueTextEquals("reason"u8) ? Field.Reason
            : reader.ValueTextEquals("param"u8) ? Field.Param
            : reader.ValueTextEquals("message"u8) ? Field.Message
            : reader.ValueTextEquals("error"u8) ? Field.Error
            : Field.None;

        /// <summary>Weighs one string value; <paramref name="inEnvelope"/> tells whether it belongs to the error object itself.</summary>
        private void Take(ref Utf8JsonReader reader, Field field, int depth, bool inEnvelope)
        {
            var isCode = field is Field.Code or Field.Type or Field.Status or Field.Reason;
            var isText = field == Field.Message && inEnvelope;
            var isBareError = field == Field.Error && depth == 1;
            var isParam = field == Field.Param && inEnvelope;
            if (!(isCode && depth <= MaxCodeDepth) && !isText && !isBareError && !isParam)
            {
                return;
            }

            char[]? rented = null;
            var length = reader.ValueSpan.Length;
            Span<char> buffer = length <= StackBufferLength
                ? stackalloc char[StackBufferLength]
                : (rented = ArrayPool<char>.Shared.Rent(length));
            try
            {
                // CopyString decodes escapes; a UTF-8 value never needs more chars than it has bytes.
                if (!TryCopyString(ref reader, buffer, out var written))
                {
                    // Bytes that are not text (a Latin-1 message, a lone surrogate) are no evidence: the status decides.
                    return;
                }

                var value = buffer[..written];
                if (isCode || isBareError)
                {
                    MatchCode(value);
                }

                if (isText || isBareError)
                {
                    ContentFilterText |= value.ContainsAny(ContentFilterPhrases);
                    ContextWindowText |= value.ContainsAny(ContextWindowPhrases);
                    QuotaText |= value.ContainsAny(QuotaPhrases);
                }

                if (inEnvelope)
                {
                    Remember(field, value);
                }
            }
            finally
            {
                if (rented is not null)
                {
                    ArrayPool<char>.Shared.Return(rented);
                }
            }
        }

        private static bool TryCopyString(ref Utf8JsonReader reader, scoped Span<char> buffer, out int written)
        {
            try
            {
                written = reader.CopyString(buffer);
                return true;
            }
            catch (InvalidOperationException)
            {
                // The token is a string, so only undecodable bytes make it throw.
                written = 0;
                return false;
            }
        }

        private void MatchCode(ReadOnlySpan<char> value)
        {
            if (CodeLookup.TryGetValue(value, out var known))
            {
                var code = known.Name;
                switch (known.Kind)
                {
                    case FailureKind.ContentFilter:
                        ContentFilterCode ??= code;
                        break;
                    case FailureKind.ContextWindowExceeded:
                        ContextWindowCode ??= code;
                        break;
                    case FailureKind.QuotaExceeded:
                        QuotaCode ??= code;
                        break;
                    default:
                        AuthenticationCode ??= code;
                        break;
                }
            }
            else if (value.EndsWith(SpendLimitSuffix, StringComparison.OrdinalIgnoreCase) && IsIdentifier(value, allowBrackets: false))
            {
                QuotaCode ??= value.ToString();
            }
        }

        /// <summary>Keeps the first identifier-like code, type, status and param of the error object for the reason.</summary>
        private void Remember(Field field, ReadOnlySpan<char> value)
        {
            switch (field)
            {
                case Field.Code when Code is null && IsIdentifier(value, allowBrackets: false):
                    Code = value.ToString();
                    break;
                case Field.Type when Type is null && IsIdentifier(value, allowBrackets: false):
                    Type = value.ToString();
                    break;
                case Field.Status when Status is null && IsIdentifier(value, allowBrackets: false):
                    Status = value.ToString();
                    break;
                case Field.Param when Param is null && IsIdentifier(value, allowBrackets: true):
                    Param = value.ToString();
                    break;
            }
        }
    }
}
