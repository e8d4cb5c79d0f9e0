using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace AgentHarness.Testing;

/// <summary>Embedding responses shaped like OpenAI's, with deterministic unit vectors.</summary>
internal static class Embeddings
{
    private const int DefaultDimensions = 8;

    // Twice OpenAI's largest model; the bound keeps a mistyped request from allocating gigabytes.
    private const int MaxDimensions = 8192;

    public static HttpResponseMessage? Validate(SandboxRequest request)
    {
        if (request.Inputs.Count == 0)
        {
            return OpenAIErrors.InvalidRequest("'input' must be a string or a non-empty array of strings.", "input");
        }

        if (request.Dimensions is <= 0 or > MaxDimensions)
        {
            return OpenAIErrors.InvalidRequest($"'dimensions' must be between 1 and {MaxDimensions}.", "dimensions");
        }

        if (request.EncodingFormat is not (null or "float" or "base64"))
        {
            return OpenAIErrors.InvalidRequest("'encoding_format' must be 'float' or 'base64'.", "encoding_format");
        }

        return null;
    }

    public static HttpResponseMessage CreateResponse(SandboxRequest request, string model)
    {
        var dimensions = request.Dimensions ?? DefaultDimensions;
        var base64 = request.EncodingFormat == "base64";
        return JsonResponse.Create(HttpStatusCode.OK, writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("object", "list");
            writer.WriteStartArray("data");
            for (var index = 0; index < request.Inputs.Count; index++)
            {
                var vector = Vector(request.Inputs[index], dimensions);
                writer.WriteStartObject();
                writer.WriteString("object", "embedding");
                writer.WriteNumber("index", index);
                if (base64)
                {
                    writer.WriteString("embedding", ToBase64(vector));
                }
                else
                {
                    writer.WriteStartArray("embedding");
                    foreach (var value in vector)
                    {
                        writer.WriteNumberValue(value);
                    }

                    writer.WriteEndArray();
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteString("model", model);
            writer.WriteStartObject("usage");
            writer.WriteNumber("prompt_tokens", request.InputTokens);
            writer.WriteNumber("total_tokens", request.InputTokens);
            writer.WriteEndObject();
            writer.WriteEndObject();
        });
    }

    /// <summary>A unit vector that depends only on the text and the dimension count.</summary>
    private static float[] Vector(string text, int dimensions)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(text));
        var state = BinaryPrimitives.ReadUInt64LittleEndian(hash);
        var values = new double[dimensions];
        var sumOfSquares = 0.0;
        for (var i = 0; i < dimensions; i++)
        {
            // The half-step offset keeps every component away from zero, so the norm below is never zero.
            values[i] = ((NextRandom(ref state) >> 40) + 0.5) / (1UL << 23) - 1.0;
            sumOfSquares += values[i] * values[i];
        }

        var norm = Math.Sqrt(sumOfSquares);
        return [.. values.Select(value => (float)(value / norm))];
    }

    /// <summary>SplitMix64: a tiny, well-distributed generator whose sequence depends only on its seed.</summary>
    private static ulong NextRandom(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static string ToBase64(float[] vector)
    {
        var bytes = new byte[vector.Length * sizeof(float)];
        for (var i = 0; i < vector.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), vector[i]);
        }

        return Convert.ToBase64String(bytes);
    }
}
