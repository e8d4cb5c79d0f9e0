using AgentHarness.Pipeline.Internal;
using Microsoft.Extensions.Http.Logging;
using Microsoft.Extensions.Logging;

namespace AgentHarness.DependencyInjection.Internal;

/// <summary>
/// Stands in the model client's chain for the HTTP client factory's request logging handler (which logs each attempt
/// at its provider's address): a request goes through that handler when its logger logs at
/// <see cref="LogLevel.Information"/> or <see cref="LogLevel.Trace"/>, and past it otherwise, asked again for every
/// request so that a log level changed at run time takes effect on the next attempt.
/// </summary>
/// <remarks>
/// <para>
/// The factory's handler is an asynchronous method around every request even when nothing is logged: over sockets a
/// frame that suspends and resumes on each answer, and a task, on every attempt of every call. Its logs are at
/// <see cref="LogLevel.Information"/> (a request's start and end) and <see cref="LogLevel.Trace"/> (its headers), so a
/// logger that logs at neither gets nothing from it.
/// </para>
/// <para>
/// Both this handler and the factory's lead to the same inner handler: the factory's is given it on the first request
/// that is logged, and is never disposed, so that the chain below is disposed once, by this handler.
/// </para>
/// </remarks>
internal sealed class RequestLogsWhenEnabled : DelegatingHandler, IAttemptSender
{
    private readonly LoggingHttpMessageHandler _logging;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private HttpMessageInvoker? _logged;

    /// <param name="logging">The factory's handler, not yet in a chain.</param>
    /// <param name="logger">A logger of the factory's handler's category: asked whether it logs.</param>
    public RequestLogsWhenEnabled(LoggingHttpMessageHandler logging, ILogger logger)
    {
        _logging = logging;
        _logger = logger;
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        Logs() ? Logged().SendAsync(request, cancellationToken) : base.SendAsync(request, cancellationToken);

    /// <summary>An attempt from the transport stage: past the factory's handler, to the next one directly when it can take it so.</summary>
    public ValueTask<HttpResponseMessage> SendAttemptAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        !Logs() && InnerHandler is IAttemptSender next
            ? next.SendAttemptAsync(request, cancellationToken)
            : new ValueTask<HttpResponseMessage>(SendAsync(request, cancellationToken));

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) =>
        Logs() ? Logged().Send(request, cancellationToken) : base.Send(request, cancellationToken);

    // Both levels: a filter function may let Trace through for a category without Information.
    private bool Logs() => _logger.IsEnabled(LogLevel.Information) || _logger.IsEnabled(LogLevel.Trace);

    private HttpMessageInvoker Logged()
    {
        if (Volatile.Read(ref _logged) is { } logged)
        {
            return logged;
        }

        lock (_gate)
        {
            // The chain below is known only once the factory has built it, after this handler was put in.
            _logging.InnerHandler ??= InnerHandler;
            return _logged ??= new HttpMessageInvoker(_logging, disposeHandler: false);
        }
    }
}
