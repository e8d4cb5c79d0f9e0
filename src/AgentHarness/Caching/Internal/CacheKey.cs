using System.Buffers;
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
/// run of bytes: leaving a property out must not leave a comma behind that tells the two shapes apart. Everything is
/// written into one pooled buffer and hashed once, so a hit allocates only the key's text.
/// </remarks>
internal static class CacheKey
{
    /// <summary>The prefix of every entry's key.</summary>
    public const string Prefix = "agentharness:response:";

    /// <summary>The tag every entry carries, so that all of them can be removed at once.</summary>
    public const string AllTag = "agentharness:response";

    private const string ScopeTagPrefix = "agentharness:scope:";

    /// <summary>Computes the key of a request, or returns <see langword="null"/> when its body is not one JSON object.</summary>
    public static string? Compute(string operation, string model, IList<string> scopeBy, IReadOnlyDictionary<string, string> metadata, ReadOnlySpan<byte> body)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(body.Length + 256);
        try
        {
            var length = 0;
            Append(ref buffer, ref length, "v1"u8);
            AppendText(ref buffer, ref length, operation);
            AppendText(ref buffer, ref length, model);
            AppendScope(ref buffer, ref length, scopeBy, metadata);
            if (!AppendBody(ref buffer, ref length, body))
            {
                return null;
            }

            Span<byte> digest = stackalloc byte[32];
            SHA256.HashData(buffer.AsSpan(0, length), digest);
            return string.Create(Prefix.Length + 64, (ReadOnlySpan<byte>)digest, static (chars, hash) =>
            {
                Prefix.CopyTo(chars);
                Convert.TryToHexStringLower(hash, chars[Prefix.Length..], out _);
            });
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The tag of a scope, which its entries carry so that the scope can be removed at once.</summary>
    public static string ScopeTag(IList<string> scopeBy, IReadOnlyDictionary<string, string> metadata)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(256);
        try
        {
            var length = 0;
            AppendScope(ref buffer, ref length, scopeBy, metadata);
            return ScopeTagPrefix + Convert.ToHexStringLower(SHA256.HashData(buffer.AsSpan(0, length)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Each configured key and its value in the call's metadata, in the configured order; a missing value is marked as missing.</summary>
    private static void AppendScope(ref byte[] buffer, ref int length, IList<string> scopeBy, IReadOnlyDictionary<string, string> metadata)
    {
        for (var i = 0; i < scopeBy.Count; i++)
        {
            var name = scopeBy[i];
            AppendText(ref buffer, ref length, name.ToUpperInvariant());
            if (metadata.TryGetValue(name, out var value))
            {
                AppendText(ref buffer, ref length, value);
            }
            else
            {
                // Length -1: no value can pose as a missing one.
                Append(ref buffer, ref length, [], missing: true);
            }
        }
    }

    private static void AppendText(ref byte[] buffer, ref int length, string text)
    {
        var count = Encoding.UTF8.GetByteCount(text);
        Ensure(ref buffer, length + 4 + count);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(length), count);
        length += 4;
        length += Encoding.UTF8.GetBytes(text, buffer.AsSpan(length));
    }

    private static void Append(ref byte[] buffer, ref int length, ReadOnlySpan<byte> bytes, bool missing = false)
    {
        Ensure(ref buffer, length + 4 + bytes.Length);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(length), missing ? -1 : bytes.Length);
        length += 4;
        bytes.CopyTo(buffer.AsSpan(length));
        length += bytes.Length;
    }

    private static void Ensure(ref byte[] buffer, int size)
    {
        if (size <= buffer.Length)
        {
            return;
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(size, buffer.Length * 2));
        buffer.CopyTo(larger, 0);
        ArrayPool<byte>.Shared.Return(buffer);
        buffer = larger;
    }

    private static bool AppendBody(ref byte[] buffer, ref int length, ReadOnlySpan<byte> body)
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
                    Append(ref buffer, ref length, name);
                    Append(ref buffer, ref length, body[start..(int)reader.BytesConsumed]);
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
