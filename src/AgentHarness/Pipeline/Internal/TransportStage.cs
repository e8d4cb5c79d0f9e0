using AgentHarness.Http.Internal;
using System.Runtime.CompilerServices;

namespace AgentHarness.Pipeline.Internal;

/// <summary>
/// The last stage: sends the attempt's request down the rest of the client's handler chain (the application's handlers,
/// the credentials handler, the socket transport), and reads what comes back far enough to know what it is: a whole
/// answer is read (within the attempt's timeout, held to the answer limit) and scanned for usage; a stream is read up to
/// its first output, and only then committed to the caller. It reports facts; the routing loop judges them.
/// </summary>
internal sealed class TransportStage
{
    private readonly HttpMessageInvoker _inner;
    private readonly IAttemptSender? _sender;
    private readonly BodyLimits _limits;

    /// <param name="inner">The handlers below the harness's own, ending with the transport.</param>
    /// <param name="limits">How much of an answer is held at once.</param>
    public TransportStage(HttpMessageHandler inner, BodyLimits limits)
    {
        _inner = new HttpMessageInvoker(inner, disposeHandler: false);
        _sender = inner as IAttemptSender;
        _limits = limits;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<AttemptResult> SendAsync(CallContext call)
    {
        var attempt = call.Attempt;
        var request = attempt.Request!;
        var settings = call.Settings;

        // Sent unless the caller cancels before the transport starts writing the body: then nothing
        // left the process, and the caller is charged nothing for it.
        attempt.Sent = true;
        var token = call.Deadline.ForPhase(settings.AttemptTimeout);
        HttpResponseMessage? response = null;
        try
        {
            // The official client's own request goes straight to a sender that takes it so; a request the harness built
            // (a retry, a fallback) goes through the invoker, which reports it to System.Net.Http's telemetry as the
            // client's HttpClient reported the first.
            response = call.Synchronous
                ? _inner.Send(request, token)
                : _sender is not null && ReferenceEquals(request, call.Request.Message)
                    ? await _sender.SendAttemptAsync(request, token).ConfigureAwait(false)
                    : await _inner.SendAsync(request, token).ConfigureAwait(false);
            response.RequestMessage = call.Request.Message;
            if (response.Content is ReadErrorBody { Bytes: var read } && !response.IsSuccessStatusCode)
            {
                // The credentials handler read this error body whole (and redacted it) already.
                return new AttemptResult(AttemptStatus.Failed, response, Body: read);
            }

            // An event stream to a request for a whole answer is read whole, and judged as the answer it is not.
            if (!IsEventStream(response) || (!call.Request.Stream && AnswersWithJson(call.Request.Operation)))
            {
                // A body that is not streamed is read inside the attempt, so the attempt timeout covers
                // it, its usage is known when the call ends, and an error body can be classified.
                var (buffer, length) = call.Synchronous
                    ? BoundedContent.ReadPooled(response.Content, _limits.MaxResponseBytes, token)
                    : await BoundedContent.ReadPooledAsync(response.Content, _limits.MaxResponseBytes, token).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    // Each answer is read afresh: a failed one's usage stays on the call for the budget stage to charge.
                    call.Reading = default;
                    call.Reading.Read(buffer.AsSpan(0, length));
                    if (call.Request.Stream && WholeChatAsEvents(call, buffer, length) is { } events)
                    {
                        // A server that ignores "stream" sent the whole chat answer, paid for: the caller gets it as the
                        // stream it asked for, read and recorded as any stream (the official client would see none in it).
                        System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                        call.Reading = default;
                        var stream = new ByteArrayContent(events);
                        stream.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/event-stream");
                        response.Content.Dispose();
                        response.Content = stream;
                        return await PeekAsync(call, response).ConfigureAwait(false);
                    }

                    if (NotAnAnswer(call, length) is { } problem)
                    {
                        // A success status on something the official client cannot read as its answer (a page, a cut
                        // or empty body, an error object): the candidate failed, and a retry or the next one may answer.
                        var error = call.Reading.HasError ? BoundedContent.Copy((buffer, length)) : null;
                        if (error is null)
                        {
                            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                        }

                        response.Dispose();
                        return new AttemptResult(AttemptStatus.AnswerFailed, Body: error, Problem: problem);
                    }

                    // The answer goes on in the buffer it was read into: the official client copies it into its own.
                    var answer = new AnswerContent(buffer, length);
                    ResponseContent.Replace(response, answer);
                    call.Answer = answer.Memory;
                    return new AttemptResult(AttemptStatus.Answered, response);
                }

                // An error body is also classified and quoted, well after the client may have read it: it gets a copy of its own.
                var bytes = BoundedContent.Copy((buffer, length));
                ResponseContent.Replace(response, new ByteArrayContent(bytes));
                return new AttemptResult(AttemptStatus.Failed, response, Body: bytes);
            }

            return await PeekAsync(call, response).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not StreamInterruptedException && call.Deadline.CallerCanceled && request.Content is IAttemptBody { Started: false })
        {
            response?.Dispose();
            attempt.Sent = false;
            return new AttemptResult(AttemptStatus.NotSent, Exception: ex);
        }
        catch (Exception ex) when (ex is not StreamInterruptedException)
        {
            response?.Dispose();
            return new AttemptResult(AttemptStatus.Failed, Exception: ex);
        }
        finally
        {
            call.AnySent |= attempt.Sent;
        }
    }

    /// <summary>
    /// Why a whole answer with a success status is no answer of its operation, or <see langword="null"/> when it is one.
    /// The operations the harness meters answer with one JSON object: anything else (an HTML page, an empty, cut or
    /// compressed body nobody asked for, an event stream to a request for a whole answer) fails the attempt, and so do
    /// a top-level <c>error</c> object and a whole object to a request for a stream. A whole object with text that is not UTF-8 in a string is left to the client, whose
    /// answer it is: its usage still counts.
    /// </summary>
    private static string? NotAnAnswer(CallContext call, int length)
    {
        if (!AnswersWithJson(call.Request.Operation))
        {
            return null;
        }

        if (call.Reading.HasError)
        {
            return "the answer was an error object";
        }

        if (!call.Reading.WasJsonObject)
        {
            return length == 0 ? "the answer was empty" : "the answer was not a whole JSON object";
        }

        // A server that ignores "stream" answers with the whole object. A chat answer is handed on as events; any other
        // (a Responses or completions answer) the official client, reading it as events, would hand the caller as an
        // empty stream. Its usage is still the call's to pay.
        return call.Request.Stream ? "a whole answer to a request for a stream" : null;
    }

    /// <summary>A whole chat answer (no error) as the events of a stream, or <see langword="null"/> when the answer is not one.</summary>
    private static byte[]? WholeChatAsEvents(CallContext call, byte[] buffer, int length)
    {
        if (call.Request.Operation != "chat/completions" || !call.Reading.WasJsonObject || call.Reading.HasError)
        {
            return null;
        }

        try
        {
            return ChatEvents.FromWhole(buffer.AsMemory(0, length));
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>Whether the operation answers with one JSON object (or, asked to stream, an event stream of them).</summary>
    private static bool AnswersWithJson(string operation) => operation is "chat/completions" or "responses" or "completions" or "embeddings";

    private static bool IsEventStream(HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
        {
            return false;
        }

        // Read as text: parsing the header would build a media type object for every answer.
        if (response.Content.Headers.NonValidated.TryGetValues("Content-Type", out var values) && values.Count == 1)
        {
            var value = values.ToString().AsSpan();
            var end = value.IndexOf(';');
            return (end < 0 ? value : value[..end]).Trim().Equals("text/event-stream", StringComparison.OrdinalIgnoreCase);
        }

        return string.Equals(response.Content.Headers.ContentType?.MediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<AttemptResult> PeekAsync(CallContext call, HttpResponseMessage response)
    {
        var settings = call.Settings;

        // The attempt's timeout ends with its answer's headers; the stream has its own wait for a first event.
        var token = call.Deadline.ForPhase(settings.FirstTokenTimeout);
        var stream = call.Synchronous
            ? response.Content.ReadAsStream(token)
            : await response.Content.ReadAsStreamAsync(token).ConfigureAwait(false);
        PeekResult peek;
        try
        {
            peek = await StreamPeek.ReadUntilOutputAsync(stream, _limits, call.Synchronous, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (call.Deadline.PhaseExpired)
        {
            response.Dispose();
            return new AttemptResult(AttemptStatus.AnswerFailed, FirstEventTimedOut: true);
        }

        if (peek.Failure is { } problem)
        {
            response.Dispose();
            System.Buffers.ArrayPool<byte>.Shared.Return(peek.Buffered);
            return new AttemptResult(AttemptStatus.AnswerFailed, Body: peek.ErrorEvent, Problem: problem);
        }

        // Nothing has reached the caller yet; from here on the stream is theirs, and its end is the call's.
        var candidate = call.Attempt.Candidate;
        call.HoldForStream();
        response.Content = new ObservedStreamContent(
            response.Content,
            stream,
            peek.Buffered,
            peek.Length,
            new StreamGuard(candidate.Provider.Name, candidate.Model, settings.StreamIdleTimeout, call.Time, _limits.MaxStreamEventBytes),
            call,
            peek.Observer);
        call.Streamed = true;
        return new AttemptResult(AttemptStatus.Streamed, response);
    }
}
