using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using RichardSzalay.MockHttp;

namespace AgentHarness.Tests.Support;

/// <summary>A harness built the way an application builds it, over a MockHttp transport and a fake clock.</summary>
internal sealed class TestHarness : IDisposable
{
    private TestHarness(ServiceProvider services, ObservableTimeProvider time)
    {
        Services = services;
        Time = time;
        Harness = services.GetRequiredService<IAgentHarness>();
        Ledger = services.GetRequiredService<IUsageLedger>();
    }

    public ServiceProvider Services { get; }

    public IAgentHarness Harness { get; }

    public IUsageLedger Ledger { get; }

    public ObservableTimeProvider Time { get; }

    public static TestHarness Create(HttpMessageHandler transport, Action<IAgentHarnessBuilder> configure, Action<IServiceCollection>? configureServices = null)
    {
        var time = new ObservableTimeProvider(new DateTimeOffset(2026, 5, 1, 9, 0, 0, TimeSpan.Zero));
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        configureServices?.Invoke(services);
        var builder = services.AddAgentHarness();

        // Routing tests use made-up model names; the cost tests set Refuse (the default) again.
        builder.Configure(static o => o.Catalog.UnpricedModels = UnpricedModelHandling.Allow);
        configure(builder);
        builder.ConfigureHttpClient(b => b.ConfigurePrimaryHttpMessageHandler(() => transport));
        return new TestHarness(services.BuildServiceProvider(), time);
    }

    /// <summary>Three providers: a Requesty-like gateway, a direct OpenAI and a direct Mistral, each with its own key.</summary>
    public static void ThreeProviders(IAgentHarnessBuilder builder, int maxRetries = 2) => builder
        .AddProvider("requesty", p =>
        {
            p.BaseUrl = new Uri("https://gateway.test/v1");
            p.ApiKey = "key-gateway";
            p.IsGateway = true;
            p.MetadataHeaderPrefix = "X-Requesty-";
            p.MaxRetries = maxRetries;
            p.RetryBaseDelay = TimeSpan.Zero;
        })
        .AddProvider("openai", p =>
        {
            p.BaseUrl = new Uri("https://openai.test/v1");
            p.ApiKey = "key-openai";
            p.MaxRetries = maxRetries;
            p.RetryBaseDelay = TimeSpan.Zero;
        })
        .AddProvider("mistral", p =>
        {
            p.BaseUrl = new Uri("https://mistral.test/v1/");
            p.ApiKey = "key-mistral";
            p.MaxRetries = maxRetries;
            p.RetryBaseDelay = TimeSpan.Zero;
        });

    public void Dispose() => Services.Dispose();
}

/// <summary>What a provider received in one request.</summary>
internal sealed record CapturedRequest(HttpMethod Method, Uri Uri, Dictionary<string, string[]> Headers, string Body)
{
    public string[] HeaderValues(string name) => Headers.TryGetValue(name, out var values) ? values : [];

    public static async Task<CapturedRequest> CaptureAsync(HttpRequestMessage request)
    {
        var headers = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase);
        foreach (var header in request.Headers)
        {
            headers[header.Key] = [.. header.Value];
        }

        var body = request.Content is null ? string.Empty : await request.Content.ReadAsStringAsync();
        return new CapturedRequest(request.Method, request.RequestUri!, headers, body);
    }
}

/// <summary>OpenAI-shaped response bodies.</summary>
internal static class Responses
{
    public static string ChatJson(string model, string content = "ok", int promptTokens = 12, int completionTokens = 3, int cachedTokens = 0) =>
        $$$$"""
        {"id":"chatcmpl-1","object":"chat.completion","created":1746090000,"model":"{{{{model}}}}",
         "choices":[{"index":0,"message":{"role":"assistant","content":"{{{{content}}}}"},"finish_reason":"stop"}],
         "usage":{"prompt_tokens":{{{{promptTokens}}}},"completion_tokens":{{{{completionTokens}}}},"total_tokens":{{{{promptTokens + completionTokens}}}},
                  "prompt_tokens_details":{"cached_tokens":{{{{cachedTokens}}}}}}}
        """;

    public static string ChatStream(string model, string[] parts, int promptTokens = 12, int completionTokens = 3, bool done = true, bool usage = true)
    {
        var sb = new StringBuilder();
        foreach (var part in parts)
        {
            sb.Append($$$$"""data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"{{{{model}}}}","choices":[{"index":0,"delta":{"content":"{{{{part}}}}"},"finish_reason":null}],"usage":null}""").Append("\n\n");
        }

        if (usage)
        {
            sb.Append($$$$"""data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"{{{{model}}}}","choices":[],"usage":{"prompt_tokens":{{{{promptTokens}}}},"completion_tokens":{{{{completionTokens}}}},"total_tokens":{{{{promptTokens + completionTokens}}}}}}""").Append("\n\n");
        }

        if (done)
        {
            sb.Append("data: [DONE]\n\n");
        }

        return sb.ToString();
    }

    public static HttpResponseMessage Json(string json, HttpStatusCode status = HttpStatusCode.OK) =>
        new(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    public static HttpResponseMessage EventStream(string body) =>
        new(HttpStatusCode.OK) { Content = new StringContent(body, Encoding.UTF8, "text/event-stream") };

    public static HttpResponseMessage Error(HttpStatusCode status) =>
        Json($$$"""{"error":{"message":"failure {{{(int)status}}}","type":"server_error","param":null,"code":null}}""", status);
}

/// <summary>A MockHttp handler that records every request it receives.</summary>
internal sealed class RecordingMock
{
    private readonly List<CapturedRequest> _requests = [];

    public MockHttpMessageHandler Handler { get; } = new();

    public IReadOnlyList<CapturedRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    public void Respond(string url, Func<CapturedRequest, HttpResponseMessage> respond) =>
        Handler.When(url).Respond(async request =>
        {
            var captured = await CapturedRequest.CaptureAsync(request);
            lock (_requests)
            {
                _requests.Add(captured);
            }

            return respond(captured);
        });

    public void RespondSequence(string url, params Func<CapturedRequest, HttpResponseMessage>[] responses)
    {
        var index = -1;
        Respond(url, request => responses[Math.Min(Interlocked.Increment(ref index), responses.Length - 1)](request));
    }
}

/// <summary>A provider that never answers: it signals when a request arrives and waits for cancellation.</summary>
internal sealed class HangingHandler : HttpMessageHandler
{
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _arrivals = new(0);

    public Task Entered => _entered.Task;

    /// <summary>Waits for the next request to arrive.</summary>
    public Task WaitForRequestAsync(CancellationToken cancellationToken) => _arrivals.WaitAsync(cancellationToken);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // As a real transport does, the request (body included) is written before the answer is awaited.
        if (request.Content is not null)
        {
            await request.Content.LoadIntoBufferAsync(cancellationToken);
        }

        _entered.TrySetResult();
        _arrivals.Release();
        await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
        throw new InvalidOperationException("unreachable");
    }
}

/// <summary>
/// An event stream that hands out its chunks one read at a time (so a test decides what arrives
/// together), then goes silent until the reader gives up, or ends when <c>end</c> is set.
/// </summary>
internal sealed class StallingStream(byte[][] chunks, bool end = false) : Stream
{
    private readonly TaskCompletionSource _stalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _chunk;
    private int _offset;

    /// <summary>Completes when a read finds every chunk handed out and waits (so a test can time the stall).</summary>
    public Task Stalled => _stalled.Task;

    public static HttpResponseMessage Response(string first) => Response([first]);

    public static HttpResponseMessage Response(string[] chunks, bool end = false) => Response(chunks, end, out _);

    public static HttpResponseMessage Response(string[] chunks, bool end, out StallingStream stream)
    {
        stream = new StallingStream([.. chunks.Select(System.Text.Encoding.UTF8.GetBytes)], end);
        var content = new StreamContent(stream);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/event-stream");
        return new HttpResponseMessage(HttpStatusCode.OK) { Content = content };
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (_chunk < chunks.Length && _offset == chunks[_chunk].Length)
        {
            _chunk++;
            _offset = 0;
        }

        if (_chunk < chunks.Length)
        {
            var current = chunks[_chunk];
            var count = Math.Min(buffer.Length, current.Length - _offset);
            current.AsMemory(_offset, count).CopyTo(buffer);
            _offset += count;
            return count;
        }

        if (!end)
        {
            _stalled.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
        }

        return 0;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
