using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AgentHarness.Redis.LoadWorker;

/// <summary>
/// The upstream: a Kestrel server on a free loopback port that reads the kind of answer from the prompt
/// (<c>kind:json</c>, <c>500</c>, <c>stream</c>, <c>cut</c>, <c>slow</c>) and answers with random token
/// counts; a cut stream aborts its connection after the first events.
/// </summary>
internal sealed class Upstream : IAsyncDisposable
{
    private readonly Random _random;
    private readonly bool _hang;
    private readonly WebApplication _app;

    private Upstream(int seed, bool hang, WebApplication app)
    {
        _random = new Random(seed * 7919);
        _hang = hang;
        _app = app;
    }

    /// <summary>Gets the base URL of the server's OpenAI-compatible API.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Starts a server on a free loopback port.</summary>
    public static async Task<Upstream> StartAsync(int seed, bool hang)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(static k => k.Listen(System.Net.IPAddress.Loopback, 0));
        var app = builder.Build();
        var upstream = new Upstream(seed, hang, app);
        app.MapPost("/v1/chat/completions", upstream.AnswerAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        upstream.BaseUrl = new Uri(address.TrimEnd('/') + "/v1");
        return upstream;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task AnswerAsync(HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        string body;
        using (var reader = new StreamReader(context.Request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(cancellationToken);
        }

        if (_hang)
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
        }

        int input, output;
        lock (_random)
        {
            input = _random.Next(5, 30);
            output = _random.Next(1, 201);
        }

        var response = context.Response;
        if (body.Contains("kind:500", StringComparison.Ordinal))
        {
            response.StatusCode = StatusCodes.Status500InternalServerError;
            response.ContentType = "application/json";
            await response.WriteAsync("""{"error":{"message":"upstream failed","type":"server_error"}}""", cancellationToken);
            return;
        }

        if (body.Contains("kind:slow", StringComparison.Ordinal))
        {
            await Task.Delay(2, cancellationToken);
        }

        if (body.Contains("kind:stream", StringComparison.Ordinal) || body.Contains("kind:cut", StringComparison.Ordinal))
        {
            response.ContentType = "text/event-stream";
            for (var i = 0; i < 3; i++)
            {
                await response.WriteAsync("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word \"},\"finish_reason\":null}]}\n\n", cancellationToken);
            }

            await response.Body.FlushAsync(cancellationToken);
            if (body.Contains("kind:cut", StringComparison.Ordinal))
            {
                // The connection breaks mid-stream, before the usage event and the end marker.
                context.Abort();
                return;
            }

            await response.WriteAsync(
                $"data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}],\"usage\":{{\"prompt_tokens\":{input},\"completion_tokens\":{output},\"total_tokens\":{input + output}}}}}\n\ndata: [DONE]\n\n",
                cancellationToken);
            return;
        }

        response.ContentType = "application/json";
        await response.WriteAsync(
            $$$"""{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":{{{input}}},"completion_tokens":{{{output}}},"total_tokens":{{{input + output}}}}}""",
            cancellationToken);
    }
}
