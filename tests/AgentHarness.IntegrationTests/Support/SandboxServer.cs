using AgentHarness.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace AgentHarness.IntegrationTests.Support;

/// <summary>
/// A <see cref="SandboxProvider"/> served over real sockets by a Kestrel server on the loopback
/// interface, at a port the system picks. Every request is copied into an
/// <see cref="HttpRequestMessage"/> for <see cref="SandboxProvider.HandleAsync"/>, and the answer is
/// copied back with a flush after each read, so a streamed answer reaches the client event by event.
/// </summary>
internal sealed class SandboxServer : IAsyncDisposable
{
    // Response headers that describe this connection, not the answer; Kestrel sets its own.
    private static readonly HashSet<string> HopByHopHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "TE", "Trailer",
    };

    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping = new();
    private StreamHold? _hold;
    private int _disposed;

    private SandboxServer(WebApplication app, SandboxProvider sandbox)
    {
        _app = app;
        Sandbox = sandbox;
    }

    /// <summary>Gets the sandbox that answers every request.</summary>
    public SandboxProvider Sandbox { get; }

    /// <summary>Gets the bound address, for example <c>http://127.0.0.1:41234</c>.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Gets the OpenAI-compatible base address, <see cref="Address"/> with <c>/v1</c>.</summary>
    public Uri BaseUrl => new(Address, "v1");

    /// <summary>Starts a server on <c>http://127.0.0.1:0</c> and reads the port it was given.</summary>
    /// <param name="sandbox">The sandbox that answers; a new one when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running server; dispose it to stop it.</returns>
    public static async Task<SandboxServer> StartAsync(SandboxProvider? sandbox = null, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(SandboxServer).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });

        // Tests print nothing: no "Now listening on", no request logs, no unhandled-exception noise.
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");

        var app = builder.Build();
        var server = new SandboxServer(app, sandbox ?? new SandboxProvider());
        app.Run(server.ServeAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);

        // Kestrel replaces the requested address with the bound one once it listens.
        var bound = app.Urls.Single();
        server.Address = new Uri(bound, UriKind.Absolute);
        if (server.Address.Port == 0)
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException($"Kestrel reported '{bound}' without the port it bound.");
        }

        return server;
    }

    /// <summary>
    /// Makes the next streamed answer pause after <paramref name="events"/> events have been written and
    /// flushed, until <see cref="StreamHold.Release"/> is called or the client goes away.
    /// </summary>
    /// <param name="events">How many events (reads of the sandbox's stream, which yields one event per read) go out first.</param>
    /// <returns>The hold, to wait until it is reached and to release it.</returns>
    public StreamHold HoldNextStreamAfter(int events)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(events);
        var hold = new StreamHold(events);
        Volatile.Write(ref _hold, hold);
        return hold;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Held streams end first, so a graceful stop has no request to wait for.
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            _stopping.Dispose();
        }
    }

    private static void CopyHeaders(IHeaderDictionary target, IEnumerable<KeyValuePair<string, IEnumerable<string>>> source)
    {
        foreach (var (name, values) in source)
        {
            if (!HopByHopHeaders.Contains(name))
            {
                target.Append(name, new StringValues([.. values]));
            }
        }
    }

    private static async Task<HttpRequestMessage> ToRequestMessageAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var message = new HttpRequestMessage(new HttpMethod(request.Method), new Uri(request.GetEncodedUrl(), UriKind.Absolute));
        try
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, cancellationToken).ConfigureAwait(false);
            if (body.Length > 0 || request.ContentLength is not null || request.ContentType is not null)
            {
                message.Content = new ByteArrayContent(body.ToArray());
            }

            foreach (var (name, values) in request.Headers)
            {
                // Content-Type, Content-Length and the like belong to the content; the rest to the request.
                if (!message.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values))
                {
                    message.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
                }
            }

            return message;
        }
        catch
        {
            message.Dispose();
            throw;
        }
    }

    private async Task ServeAsync(HttpContext context)
    {
        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        var cancellationToken = aborted.Token;
        try
        {
            using var request = await ToRequestMessageAsync(context.Request, cancellationToken).ConfigureAwait(false);
            using var response = await Sandbox.HandleAsync(request, cancellationToken).ConfigureAwait(false);

            context.Response.StatusCode = (int)response.StatusCode;
            CopyHeaders(context.Response.Headers, response.Headers);
            CopyHeaders(context.Response.Headers, response.Content.Headers);

            var streamed = string.Equals(response.Content.Headers.ContentType?.MediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase);
            var hold = streamed ? Interlocked.Exchange(ref _hold, null) : null;

            var output = context.Response.Body;
            var source = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (source.ConfigureAwait(false))
            {
                var buffer = new byte[16 * 1024];
                var reads = 0;
                int read;
                while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    await output.FlushAsync(cancellationToken).ConfigureAwait(false);
                    if (hold is not null && ++reads == hold.AfterEvents)
                    {
                        await hold.WaitAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away (or the server is stopping): nobody is left to answer.
            context.Abort();
        }
        catch (IOException) when (cancellationToken.IsCancellationRequested)
        {
            context.Abort();
        }
    }
}

/// <summary>A pause of one streamed answer at a given event, for tests that act in the middle of a stream.</summary>
internal sealed class StreamHold
{
    private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public StreamHold(int afterEvents) => AfterEvents = afterEvents;

    /// <summary>Gets how many events are sent before the pause.</summary>
    public int AfterEvents { get; }

    /// <summary>Gets a task that completes when the events before the pause have been written and flushed.</summary>
    public Task Reached => _reached.Task;

    /// <summary>Lets the stream go on.</summary>
    public void Release() => _released.TrySetResult();

    internal Task WaitAsync(CancellationToken cancellationToken)
    {
        _reached.TrySetResult();
        return _released.Task.WaitAsync(cancellationToken);
    }
}
