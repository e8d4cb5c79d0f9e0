using System.Net;
using System.Text;

namespace AgentHarness.Azure.Tests;

/// <summary>A provider that records each request's address and headers and answers a chat completion.</summary>
internal sealed class RecordingHandler : HttpMessageHandler
{
    private readonly List<(Uri Uri, Dictionary<string, string> Headers)> _requests = [];

    public IReadOnlyList<(Uri Uri, Dictionary<string, string> Headers)> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var headers = request.Headers.ToDictionary(static h => h.Key, static h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
        lock (_requests)
        {
            _requests.Add((request.RequestUri!, headers));
        }

        const string Json = """{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4.1","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}""";
        return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(Json, Encoding.UTF8, "application/json") });
    }
}
