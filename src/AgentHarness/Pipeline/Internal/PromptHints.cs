using System.Buffers;
using System.Text.Json;

namespace AgentHarness.Pipeline.Internal;

/// <summary>
/// The prompt caching hints a provider is configured to receive, written into a chat body as its first properties:
/// Requesty's <c>"requesty": {"auto_cache": true}</c> and OpenAI's <c>prompt_cache_key</c> from the run's agent and
/// task. A provider that did not ask for them never sees them, and a body that already names one keeps its own.
/// </summary>
internal static class PromptHints
{
    /// <summary>Whether an attempt to this candidate carries hints: a chat body, to a provider that asked for one.</summary>
    public static bool Apply(CallContext call, Candidate candidate) =>
        (candidate.Provider.AutoCache || (candidate.Provider.SendPromptCacheKey && call.Run is not null))
        && call.Request.HasContent
        && call.Request.Operation is "chat/completions" or "responses";

    /// <summary>The body with the provider's hints inserted after its opening brace.</summary>
    public static byte[] Insert(byte[] body, ProviderEndpoint provider, CallContext call)
    {
        var open = Array.IndexOf(body, (byte)'{');
        if (open < 0)
        {
            return body;
        }

        var output = new ArrayBufferWriter<byte>(body.Length + 96);
        output.Write(body.AsSpan(0, open + 1));
        var wrote = false;
        using (var writer = new Utf8JsonWriter(output, new JsonWriterOptions { SkipValidation = true }))
        {
            if (provider.AutoCache && body.AsSpan().IndexOf("\"requesty\""u8) < 0)
            {
                writer.WriteStartObject("requesty");
                writer.WriteBoolean("auto_cache", true);
                writer.WriteEndObject();
                wrote = true;
            }

            if (provider.SendPromptCacheKey && call.Run is { } run && body.AsSpan().IndexOf("\"prompt_cache_key\""u8) < 0)
            {
                writer.WriteString("prompt_cache_key", call.Task is { } task ? run.Agent + "/" + task : run.Agent);
                wrote = true;
            }
        }

        if (!wrote)
        {
            return body;
        }

        var rest = body.AsSpan(open + 1);
        var next = rest.TrimStart(" \t\r\n"u8);

        // The writer separated its own properties; the body's first property needs one comma more, an empty object none.
        if (next.Length > 0 && next[0] != (byte)'}')
        {
            output.Write(","u8);
        }

        output.Write(rest);
        return output.WrittenSpan.ToArray();
    }
}
