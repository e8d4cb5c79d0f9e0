using System.Globalization;
using System.Net;
using System.Net.Http.Headers;

namespace AgentHarness.Testing;

/// <summary>Error responses shaped like OpenAI's: <c>{"error":{"message","type","param","code"}}</c>.</summary>
internal static class OpenAIErrors
{
    internal const int DefaultContextWindow = 8192;

    public static HttpResponseMessage InvalidUrl(SandboxRequest request) =>
        Create(HttpStatusCode.NotFound, $"Invalid URL ({request.Method} {request.Path})", "invalid_request_error", param: null, code: null);

    public static HttpResponseMessage InvalidJson() =>
        InvalidRequest("We could not parse the JSON body of your request: the OpenAI API expects a JSON object.", param: null);

    public static HttpResponseMessage InvalidRequest(string message, string? param) =>
        Create(HttpStatusCode.BadRequest, message, "invalid_request_error", param, code: null);

    public static HttpResponseMessage ContextLengthExceeded(bool chat, int contextWindow, int inputTokens)
    {
        var (subject, param) = chat ? ("messages", "messages") : ("input", "input");
        var message = string.Create(
            CultureInfo.InvariantCulture,
            $"This model's maximum context length is {contextWindow} tokens. However, your {subject} resulted in {inputTokens} tokens. Please reduce the length of the {subject}.");
        return Create(HttpStatusCode.BadRequest, message, "invalid_request_error", param, "context_length_exceeded");
    }

    public static HttpResponseMessage Scripted(ScriptedFailure failure)
    {
        var (message, type, code) = failure.StatusCode switch
        {
            401 => ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
            429 => ("Rate limit reached for requests.", "rate_limit_exceeded", "rate_limit_exceeded"),
            >= 500 => ("The server had an error while processing your request. Sorry about that!", "server_error", null),
            _ => ($"The sandbox failed this request with status {failure.StatusCode}.", "invalid_request_error", null),
        };
        var response = Create((HttpStatusCode)failure.StatusCode, message, type, param: null, code);
        if (failure.RetryAfter is { } retryAfter)
        {
            response.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(Math.Ceiling(retryAfter.TotalSeconds)));
        }

        return response;
    }

    private static HttpResponseMessage Create(HttpStatusCode status, string message, string type, string? param, string? code) =>
        JsonResponse.Create(status, writer =>
        {
            writer.WriteStartObject();
            writer.WriteStartObject("error");
            writer.WriteString("message", message);
            writer.WriteString("type", type);
            writer.WriteString("param", param);
            writer.WriteString("code", code);
            writer.WriteEndObject();
            writer.WriteEndObject();
        });
}
