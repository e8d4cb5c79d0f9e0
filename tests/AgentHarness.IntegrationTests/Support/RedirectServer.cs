using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.Extensions.Logging;

namespace AgentHarness.IntegrationTests.Support;

/// <summary>
/// A Kestrel server on the loopback interface that answers every request with a redirect to the same path and query
/// on another address, and counts what it received.
/// </summary>
internal sealed class RedirectServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly int _status;
    private readonly Uri _target;
    private int _requests;

    private RedirectServer(WebApplication app, int status, Uri target)
    {
        _app = app;
        _status = status;
        _target = target;
    }

    /// <summary>Gets the bound address, for example <c>http://127.0.0.1:41234</c>.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Gets the OpenAI-compatible base address, <see cref="Address"/> with <c>/v1</c>.</summary>
    public Uri BaseUrl => new(Address, "v1");

    /// <summary>Gets how many requests arrived.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Starts a server that answers <paramref name="status"/> with a <c>Location</c> on <paramref name="target"/>.</summary>
    public static async Task<RedirectServer> StartAsync(int status, Uri target, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(RedirectServer).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");

        var app = builder.Build();
        var server = new RedirectServer(app, status, target);
        app.Run(server.Serve);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        server.Address = new Uri(app.Urls.Single(), UriKind.Absolute);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private Task Serve(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        var request = new Uri(context.Request.GetEncodedUrl(), UriKind.Absolute);
        context.Response.StatusCode = _status;
        context.Response.Headers.Location = new UriBuilder(_target) { Path = request.AbsolutePath, Query = request.Query }.Uri.AbsoluteUri;
        return Task.CompletedTask;
    }
}
