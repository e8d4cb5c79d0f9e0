using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace AgentHarness.Caching.Internal;

/// <summary>
/// The key of a call's entry: SHA-256 of the operation, the model id asked for, the scope (the configured run metadata
/// that keeps tenants apart) and the whole body as sent, with only <c>stream</c> and <c>stream_options</c> left out so
/// that a streamed and a whole request share their answer.
/// </summary>
/// <remarks>
/// The body is hashed property by property (each top-level name and its value's bytes, length-prefixed), not as one
/// run of bytes: leaving a property out must not leave a comma behind that tells the two shapes apart.
/// </remarks>
internal static class CacheKey
{
    /// <summary>The prefix of every entry's key.</summary>
    public const string Prefix = "agentharness:response:";

    /// <summary>The tag every entry carries, so that all of them can be removed at once.</summary>
    public const string AllTag = "agentharness:response";

    private const string ScopeTagPrefix = "agentharness:scope:";

    /// <summary>Computes the key of a request, or returns <see langword="null"/> when its body is not one JSON object.</summary>
    public static string? Compute(string operation, string model, byte[] scope, ReadOnlySpan<byte> body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Append(hash, "v1"u8);
        Append(hash, Encoding.UTF8.GetBytes(operation));
        Append(hash, Encoding.UTF8.GetBytes(model));
        Append(hash, scope);
        if (!AppendBody(hash, body))
        {
            return null;
        }

        Span<byte> digest = stackalloc byte[32];
        hash.GetHashAndReset(digest);
        return Prefix + Convert.ToHexStringLower(digest);
    }

    /// <summary>The scope of a call: each configured key and its value in the call's metadata, in the configured order.</summary>
    public static byte[] Scope(IList<string> scopeBy, IReadOnlyDictionary<string, string> metadata)
    {
        if (scopeBy.Count == 0)
        {
            return [];
        }

        var text = new StringBuilder();
        foreach (var name in scopeBy)
        {
            // Length-prefixed: no value can pose as another key's.
            var value = metadata.TryGetValue(name, out var v) ? v : null;
            text.Append(name.Length).Append(':').Append(name.ToUpperInvariant())
                .Append(value is null ? "-" : value.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(':').Append(value);
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>The tag of a scope, which its entries carry so that the scope can be removed at once.</summary>
    public static string ScopeTag(byte[] scope) => ScopeTagPrefix + Convert.ToHexStringLower(SHA256.HashData(scope));

    private static void Append(IncrementalHash hash, ReadOnlySpan<byte> bytes)
    {
        Span<byte> length = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(length, bytes.Length);
        hash.AppendData(length);
        hash.AppendData(bytes);
    }

    private static bool AppendBody(IncrementalHash hash, ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var skip = reader.ValueTextEquals("stream"u8) || reader.ValueTextEquals("stream_options"u8);
                var name = reader.ValueSpan;
                reader.Read();
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                if (!skip)
                {
                    Append(hash, name);
                    Append(hash, body[start..(int)reader.BytesConsumed]);
                }
            }

            return reader.TokenType == JsonTokenType.EndObject;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
