using System.Net;
using System.Text;
using System.Text.Json;

namespace AgentHarness.Testing;

/// <summary>Chat completion responses shaped like OpenAI's, whole or as server-sent events.</summary>
internal static class ChatCompletions
{
    private static readonly byte[] DoneEvent = Encoding.UTF8.GetBytes("data: [DONE]\n\n");

    /// <summary>Everything one answer needs, so the whole and the streamed forms report the same figures.</summary>
    public sealed record Completion(string Id, long Created, string Model, string Text, string FinishReason, int PromptTokens, ModelPrice? ReportedPrice = null)
    {
        public int CompletionTokens => SandboxTokens.Count(Text);
    }

    public static Completion Complete(string id, long created, string model, string answer, SandboxRequest request, ModelPrice? reportedPrice = null)
    {
        var (text, finishReason) = FitToMaxTokens(answer, request.MaxTokens);
        return new Completion(id, created, model, text, finishReason, request.InputTokens, reportedPrice);
    }

    public static HttpResponseMessage CreateResponse(Completion completion) =>
        JsonResponse.Create(HttpStatusCode.OK, writer =>
        {
            writer.WriteStartObject();
            WriteHeader(writer, completion, "chat.completion");
            writer.WriteStartArray("choices");
            writer.WriteStartObject();
            writer.WriteNumber("index", 0);
            writer.WriteStartObject("message");
            writer.WriteString("role", "assistant");
            writer.WriteString("content", completion.Text);
            writer.WriteNull("refusal");
            writer.WriteEndObject();
            writer.WriteNull("logprobs");
            writer.WriteString("finish_reason", completion.FinishReason);
            writer.WriteEndObject();
            writer.WriteEndArray();
            WriteUsage(writer, completion);
            writer.WriteEndObject();
        });

    public static HttpResponseMessage CreateStreamingResponse(Completion completion, bool includeUsage, int? cutAfter)
    {
        var events = Events(completion, includeUsage);
        return new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new ServerSentEventsContent(cutAfter is int count ? events.Take(count) : events),
        };
    }

    /// <summary>Splits text into words that keep their trailing white space, so that the pieces concatenate to the text.</summary>
    private static IEnumerable<string> SplitWords(string text)
    {
        var start = 0;
        for (var i = 1; i < text.Length; i++)
        {
            if (char.IsWhiteSpace(text[i - 1]) && !char.IsWhiteSpace(text[i]))
            {
                yield return text[start..i];
                start = i;
            }
        }

        if (start < text.Length)
        {
            yield return text[start..];
        }
    }

    private static (string Text, string FinishReason) FitToMaxTokens(string answer, int? maxTokens)
    {
        var limit = maxTokens is int max ? Math.Max(0L, (long)max * SandboxTokens.CharsPerToken) : long.MaxValue;
        if (answer.Length <= limit)
        {
            return (answer, "stop");
        }

        var cut = (int)limit;
        if (cut > 0 && char.IsHighSurrogate(answer[cut - 1]))
        {
            // A lone high surrogate would make the JSON writer fail; drop the half character instead.
            cut--;
        }

        return (answer[..cut], "length");
    }

    private static IEnumerable<byte[]> Events(Completion completion, bool includeUsage)
    {
        yield return Chunk(completion, writer =>
        {
            WriteChoice(writer, finishReason: null, delta =>
            {
                delta.WriteString("role", "assistant");
                delta.WriteString("content", string.Empty);
            });
        });

        foreach (var word in SplitWords(completion.Text))
        {
            yield return Chunk(completion, writer => WriteChoice(writer, finishReason: null, delta => delta.WriteString("content", word)));
        }

        yield return Chunk(completion, writer => WriteChoice(writer, completion.FinishReason, _ => { }));

        if (includeUsage)
        {
            yield return Chunk(completion, writer =>
            {
                writer.WriteStartArray("choices");
                writer.WriteEndArray();
                WriteUsage(writer, completion);
            });
        }

        yield return DoneEvent;
    }

    private static byte[] Chunk(Completion completion, Action<Utf8JsonWriter> writeBody)
    {
        var json = JsonResponse.Write(writer =>
        {
            writer.WriteStartObject();
            WriteHeader(writer, completion, "chat.completion.chunk");
            writeBody(writer);
            writer.WriteEndObject();
        });
        return [.. "data: "u8, .. json, .. "\n\n"u8];
    }

    private static void WriteChoice(Utf8JsonWriter writer, string? finishReason, Action<Utf8JsonWriter> writeDelta)
    {
        writer.WriteStartArray("choices");
        writer.WriteStartObject();
        writer.WriteNumber("index", 0);
        writer.WriteStartObject("delta");
        writeDelta(writer);
        writer.WriteEndObject();
        writer.WriteNull("logprobs");
        writer.WriteString("finish_reason", finishReason);
        writer.WriteEndObject();
        writer.WriteEndArray();
    }

    private static void WriteHeader(Utf8JsonWriter writer, Completion completion, string objectType)
    {
        writer.WriteString("id", completion.Id);
        writer.WriteString("object", objectType);
        writer.WriteNumber("created", completion.Created);
        writer.WriteString("model", completion.Model);
    }

    private static void WriteUsage(Utf8JsonWriter writer, Completion completion)
    {
        writer.WriteStartObject("usage");
        writer.WriteNumber("prompt_tokens", completion.PromptTokens);
        writer.WriteNumber("completion_tokens", completion.CompletionTokens);
        writer.WriteNumber("total_tokens", completion.PromptTokens + completion.CompletionTokens);
        writer.WriteStartObject("prompt_tokens_details");
        writer.WriteNumber("cached_tokens", 0);
        writer.WriteEndObject();
        writer.WriteStartObject("completion_tokens_details");
        writer.WriteNumber("reasoning_tokens", 0);
        writer.WriteEndObject();
        if (completion.ReportedPrice is { } price)
        {
            // What a gateway such as Requesty adds: the call's cost in US dollars.
            writer.WriteNumber("cost", (completion.PromptTokens * price.InputPerToken) + (completion.CompletionTokens * price.OutputPerToken));
        }

        writer.WriteEndObject();
    }
}
