using System.Globalization;
using System.Text;
using AgentHarness.Internal;

namespace AgentHarness.Configuration.Internal;

/// <summary>
/// Checks a provider's credential settings (<see cref="ProviderOptions.Authentication"/>, its key header, its token
/// scope) and its fixed <see cref="ProviderOptions.Headers"/> at start. A fixed header is refused when it would carry a
/// credential (any provider's, whatever header it travels in), a header the transport owns, or the harness's own run
/// metadata headers: each provider is sent its own credential, by the credentials handler, and nothing else's.
/// </summary>
internal static class ProviderCredentialsCheck
{
    private const int MaxShownLength = 100;

    /// <summary>Headers that carry a credential at some provider or proxy.</summary>
    private static readonly string[] CredentialHeaders =
        ["Authorization", "Proxy-Authorization", "api-key", "x-api-key", "x-goog-api-key", "Ocp-Apim-Subscription-Key", "Cookie"];

    /// <summary>Headers the HTTP transport writes from the request itself.</summary>
    private static readonly string[] TransportHeaders =
        ["Host", "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "TE", "Trailer", "Upgrade", "Expect"];

    public static void Validate(string name, ProviderOptions provider, string path, AgentHarnessOptions options, List<string> failures)
    {
        ValidateAuthentication(provider, path, options, failures);
        ValidateHeaders(name, provider, path, options, failures);
    }

    private static void ValidateAuthentication(ProviderOptions provider, string path, AgentHarnessOptions options, List<string> failures)
    {
        var header = string.IsNullOrWhiteSpace(provider.ApiKeyHeader) ? null : provider.ApiKeyHeader.Trim();
        switch (provider.Authentication)
        {
            case ProviderAuthentication.Bearer:
                if (header is not null)
                {
                    failures.Add($"{path}:ApiKeyHeader is '{Show(header)}' but {path}:Authentication is Bearer, which sends the key as 'Authorization: Bearer <key>'; set {path}:Authentication to ApiKeyHeader to send it in '{Show(header)}' instead.");
                }

                break;

            case ProviderAuthentication.ApiKeyHeader:
                if (header is not null && DescribeRefusedKeyHeader(header, options) is { } problem)
                {
                    failures.Add($"{path}:ApiKeyHeader is '{Show(header)}', which cannot carry the key: {problem}.");
                }

                break;

            case ProviderAuthentication.Token:
                if (!string.IsNullOrWhiteSpace(provider.ApiKey))
                {
                    // The key is not shown: it is a key.
                    failures.Add(provider.ApiKeyEnvironmentVariable is { Length: > 0 } variable
                        ? $"{path}:Authentication is Token, but {path}:ApiKey is set (from the environment variable {variable} named by {path}:ApiKeyEnvironmentVariable): a token provider is sent an access token, never the key; remove the key, or set {path}:Authentication to Bearer or ApiKeyHeader."
                        : $"{path}:Authentication is Token, but {path}:ApiKey is set: a token provider is sent an access token, never the key; remove the key, or set {path}:Authentication to Bearer or ApiKeyHeader.");
                }

                if (header is not null)
                {
                    failures.Add($"{path}:ApiKeyHeader is '{Show(header)}' but {path}:Authentication is Token, which sends an access token as 'Authorization: Bearer <token>'; remove {path}:ApiKeyHeader.");
                }

                break;

            default:
                failures.Add($"{path}:Authentication must be Bearer, ApiKeyHeader or Token; got {provider.Authentication}.");
                return;
        }

        if (provider.TokenScope is { } scope && !string.IsNullOrWhiteSpace(scope))
        {
            if (provider.Authentication != ProviderAuthentication.Token)
            {
                failures.Add($"{path}:TokenScope is '{Show(scope)}' but {path}:Authentication is {provider.Authentication}; only a provider with Authentication Token asks for a scope.");
            }
            else if (MetadataRules.DescribeInvalidValue(scope) is { } problem)
            {
                failures.Add($"{path}:TokenScope is '{Show(scope)}', which is not a scope: {problem}.");
            }
        }
    }

    private static string? DescribeRefusedKeyHeader(string header, AgentHarnessOptions options)
    {
        if (MetadataRules.DescribeInvalidName(header) is { } invalid)
        {
            return invalid;
        }

        if (header.Equals("Authorization", StringComparison.OrdinalIgnoreCase))
        {
            return "a key in Authorization is sent by Authentication Bearer, as 'Bearer <key>'";
        }

        if (header.Equals("Proxy-Authorization", StringComparison.OrdinalIgnoreCase) || header.Equals("Cookie", StringComparison.OrdinalIgnoreCase))
        {
            return $"{header} is not read by an API as its key";
        }

        return DescribeOwned(header, options);
    }

    /// <summary>Why a header is not the application's to set: the transport's, or the harness's own metadata.</summary>
    private static string? DescribeOwned(string header, AgentHarnessOptions options)
    {
        if (header.StartsWith("Content-", StringComparison.OrdinalIgnoreCase) || TransportHeaders.Contains(header, StringComparer.OrdinalIgnoreCase))
        {
            return $"{header} is written by the HTTP transport from the request itself";
        }

        foreach (var (gateway, other) in options.Providers)
        {
            if (other is { IsGateway: true, MetadataHeaderPrefix: { } prefix } && header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return $"headers starting with '{prefix}' carry the harness's run metadata to the gateway '{gateway}' (set run metadata on the AgentRun instead)";
            }
        }

        return null;
    }

    private static void ValidateHeaders(string name, ProviderOptions provider, string path, AgentHarnessOptions options, List<string> failures)
    {
        foreach (var (header, value) in provider.Headers)
        {
            var headerPath = $"{path}:Headers:{header}";
            if (MetadataRules.DescribeInvalidName(header) is { } invalid)
            {
                failures.Add($"{path}:Headers has an entry named '{Show(header)}', which cannot be a header name: {invalid}.");
                continue;
            }

            if (CarriesCredential(header, options, path[..path.LastIndexOf(":Providers:", StringComparison.Ordinal)]) is { } carrier)
            {
                // The value is not shown: it may be a key.
                failures.Add($"{headerPath} is refused: {carrier}. A provider is sent its own key as {path}:Authentication says (ApiKey, ApiKeyHeader), and nothing else's.");
                continue;
            }

            if (DescribeOwned(header, options) is { } owned)
            {
                failures.Add($"{headerPath} is refused: {owned}.");
                continue;
            }

            if (value is null)
            {
                failures.Add($"{headerPath} has no value; give it one, or remove it.");
                continue;
            }

            if (MetadataRules.DescribeInvalidValue(value) is { } problem)
            {
                failures.Add($"{headerPath} is '{Show(value)}', which cannot be sent as a header value: {problem}. Header values must be printable ASCII of at most {MetadataRules.MaxLength.ToString(CultureInfo.InvariantCulture)} characters.");
                continue;
            }

            foreach (var (otherName, other) in options.Providers)
            {
                if (!string.Equals(otherName, name, StringComparison.OrdinalIgnoreCase)
                    && other?.ApiKey is { Length: >= 8 } key
                    && value.Contains(key, StringComparison.Ordinal))
                {
                    failures.Add($"{headerPath} is refused: its value holds the API key of the provider '{otherName}', which is sent to '{otherName}' only.");
                    break;
                }
            }
        }
    }

    /// <summary>Why a fixed header would carry a credential: a well-known credential header, or any provider's key header.</summary>
    private static string? CarriesCredential(string header, AgentHarnessOptions options, string sectionPath)
    {
        if (CredentialHeaders.Contains(header, StringComparer.OrdinalIgnoreCase))
        {
            return $"{header} carries a credential";
        }

        foreach (var (otherName, other) in options.Providers)
        {
            if (other is { Authentication: ProviderAuthentication.ApiKeyHeader }
                && header.Equals(string.IsNullOrWhiteSpace(other.ApiKeyHeader) ? Pipeline.Internal.ProviderEndpoint.DefaultKeyHeader : other.ApiKeyHeader.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                return $"{header} carries the key of the provider '{otherName}' ({sectionPath}:Providers:{otherName}:ApiKeyHeader)";
            }
        }

        return null;
    }

    /// <summary>A value as a message may quote it: control and non-ASCII characters escaped, and cut to a readable length.</summary>
    private static string Show(string value)
    {
        var text = new StringBuilder(Math.Min(value.Length, MaxShownLength) + 8);
        foreach (var c in value)
        {
            if (text.Length >= MaxShownLength)
            {
                text.Append("...");
                break;
            }

            _ = c switch
            {
                '\r' => text.Append("\\r"),
                '\n' => text.Append("\\n"),
                '\t' => text.Append("\\t"),
                < ' ' or >= (char)0x7F => text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}"),
                _ => text.Append(c),
            };
        }

        return text.ToString();
    }
}
