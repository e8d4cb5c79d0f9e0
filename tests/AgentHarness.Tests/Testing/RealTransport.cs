using System.Net;
using System.Text;
using System.Text.Json;
using AgentHarness.Tests.Support;

namespace AgentHarness.Tests.Testing;

/// <summary>
/// Stands for the network under a harness whose providers are partly sandboxed: records what reaches it (address,
/// credentials, the harness's <see cref="AttemptTarget"/>) and answers chat calls with "from the real transport".
/// </summary>
internal sealed class RealTransport : HttpMessageHandler
{
    private readonly List<Received> _received = [];

    public IReadOnlyList<Received> Requests
    {
        get
        {
            lock (_received)
            {
                return [.. _received];
            }
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? string.Empty : await request.Content.ReadAsStringAsync(cancellationToken);
        request.Options.TryGetValue(AttemptTarget.OptionsKey, out var target);
        lock (_received)
        {
            _received.Add(new Received(request.RequestUri!, request.Headers.Authorization?.ToString(), target));
        }

        if (request.Method == HttpMethod.Get)
        {
            return new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent("""{"object":"list","data":[{"id":"real-model","object":"model","created":1,"owned_by":"real"}]}""", Encoding.UTF8, "application/json"),
            };
        }

        var model = JsonDocument.Parse(body).RootElement.GetProperty("model").GetString()!;
        return Responses.Json(Responses.ChatJson(model, "from the real transport"));
    }

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) =>
        SendAsync(request, cancellationToken).GetAwaiter().GetResult();

    public sealed record Received(Uri Uri, string? Authorization, AttemptTarget? Target);
}
