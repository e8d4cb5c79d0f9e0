namespace AgentHarness.Pipeline.Internal;

/// <summary>
/// A handler below the harness's own that can take an attempt without a <see cref="Task"/> of its own: the transport
/// stage sends the official client's own request (every call's first attempt) through it directly when it is the first
/// handler below, so that the handlers the harness put in for every attempt (the request log that logs only when
/// enabled, the credentials) add no task and no state machine allocated on each answer. A chain with the application's
/// own handlers in it is sent through as any chain is, and so is a request the harness built: the
/// <see cref="HttpMessageInvoker"/> reports those to System.Net.Http's telemetry.
/// </summary>
internal interface IAttemptSender
{
    /// <summary>Sends the request on as the handler's own <c>SendAsync</c> does, with the same effects on the request and the answer.</summary>
    /// <param name="request">The attempt's request.</param>
    /// <param name="cancellationToken">The attempt's token.</param>
    /// <returns>The response.</returns>
    ValueTask<HttpResponseMessage> SendAttemptAsync(HttpRequestMessage request, CancellationToken cancellationToken);
}
