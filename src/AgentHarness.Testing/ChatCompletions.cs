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
        /// <summary>Gets the tool call the answer makes instead of text, or <see langword="null"/> for a text answer.</summary>
        public ScriptedToolCall? ToolCall { get; init; }

        /// <summary>Gets the id of <see cref="ToolCall"/>.</summary>
        public string? ToolCallId { get; init; }

        public int CompletionTokens => ToolCall is { } call ? SandboxTokens.Count(call.Name) + SandboxTokens.Count(call.Arguments) : SandboxTokens.Count(Text);
    }

    public static Completion Complete(string id, long created, string model, string answer, SandboxRequest request, ModelPrice? reportedPrice = null)
    {
        var (text, finishReason) = FitToMaxTokens(answer, request.MaxTokens);
        return new Completion(id, created, model, text, finishReason, request.InputTokens, reportedPrice);
    }

    /// <summary>An answer that calls a tool: no text, <c>finish_reason</c> <c>tool_calls</c>, never cut to <c>max_tokens</c>.</summary>
    public static Completion CallTool(string id, long created, string model, ScriptedToolCall call, string callId, SandboxRequest request, ModelPrice? reportedPrice = null) =>
        new(id, created, model, string.Empty, "tool_calls", request.InputTokens, reportedPrice) { ToolCall = call, ToolCallId = callId };

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
            if (completion.ToolCall is { } call)
            {
                writer.WriteNull("content");
                writer.WriteStartArray("tool_calls");
                writer.WriteStartObject();
                writer.WriteString("id", completion.ToolCallId);
                writer.WriteString("type", "function");
                writer.WriteStartObject("function");
                writer.WriteString("name", call.Name);
                writer.WriteString("arguments", call.Arguments);
                writer.WriteEndObject();
                writer.WriteEndObject();
                writer.WriteEndArray();
            }
            else
            {
                writer.WriteString("content", completion.Text);
            }

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

    /// <summary>Splits text into pieces of one sandbox token (four characters) that never split a surrogate pair.</summary>
    private static IEnumerable<string> SplitTokens(string text)
    {
        var start = 0;
        while (start < text.Length)
        {
            var length = Math.Min(SandboxTokens.CharsPerToken, text.Length - start);
            if (start + length < text.Length && char.IsHighSurrogate(text[start + length - 1]))
            {
                length++;
            }

            yield return text.Substring(start, length);
            start += length;
        }
    }

    private static IEnumerable<byte[]> Events(Completion completion, bool includeUsage)
    {
        if (completion.ToolCall is { } call)
        {
            // OpenAI's shape: the first chunk names the call (index, id, type, name, empty arguments), later chunks
            // carry only the index and a piece of the arguments, which the client concatenates.
            yield return Chunk(completion, writer =>
            {
                WriteChoice(writer, finishReason: null, delta =>
                {
                    delta.WriteString("role", "assistant");
                    delta.WriteNull("content");
                    delta.WriteStartArray("tool_calls");
                    delta.WriteStartObject();
                    delta.WriteNumber("index", 0);
                    delta.WriteString("id", completion.ToolCallId);
                    delta.WriteString("type", "function");
                    delta.WriteStartObject("function");
                    delta.WriteString("name", call.Name);
                    delta.WriteString("arguments", string.Empty);
                    delta.WriteEndObject();
                    delta.WriteEndObject();
                    delta.WriteEndArray();
                    delta.WriteNull("refusal");
                });
            });

            foreach (var piece in SplitTokens(call.Arguments))
            {
                yield return Chunk(completion, writer => WriteChoice(writer, finishReason: null, delta =>
                {
                    delta.WriteStartArray("tool_calls");
                    delta.WriteStartObject();
                    delta.WriteNumber("index", 0);
                    delta.WriteStartObject("function");
                    delta.WriteString("arguments", piece);
                    delta.WriteEndObject();
                    delta.WriteEndObject();
                    delta.WriteEndArray();
                }));
            }
        }
        else
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
