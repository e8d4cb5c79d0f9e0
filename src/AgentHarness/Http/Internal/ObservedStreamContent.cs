using System.Net;

namespace AgentHarness.Http.Internal;

/// <summary>Receives the end of an observed stream, exactly once.</summary>
internal interface IStreamCompletion
{
    /// <param name="observer">What the stream carried.</param>
    /// <param name="endedNormally">Whether the stream reached its end marker (or a usage event and the end of the body).</param>
    /// <param name="canceled">Whether the reader's cancellation token was cancelled when the stream stopped.</param>
    /// <param name="error">Why it did not end normally, or <see langword="null"/>.</param>
    void OnStreamCompleted(SseUsageObserver observer, bool endedNormally, bool canceled, string? error);
}

/// <summary>
/// Wraps a streamed response body so the harness sees the events as the caller reads them, and
/// learns when the stream ends, fails or is abandoned. Nothing is buffered: each read passes
/// straight through.
/// </summary>
internal sealed class ObservedStreamContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly ObservingStreamState _state;

    public ObservedStreamContent(HttpContent inner, IStreamCompletion completion)
    {
        _inner = inner;
        _state = new ObservingStreamState(completion);
        foreach (var header in inner.Headers.NonValidated)
        {
            Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
    }

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken) =>
        new ObservingStream(_inner.ReadAsStream(cancellationToken), _state);

    protected override async Task<Stream> CreateContentReadStreamAsync() =>
        new ObservingStream(await _inner.ReadAsStreamAsync().ConfigureAwait(false), _state);

    protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
        new ObservingStream(await _inner.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), _state);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var source = await CreateContentReadStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (source.ConfigureAwait(false))
        {
            await source.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _state.Finish(endOfBody: false, error: "the caller disposed the response before the stream ended", canceled: false);
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    private sealed class ObservingStreamState(IStreamCompletion completion)
    {
        // Reads are sequential, but a dispose may race with a read on another thread.
        private readonly Lock _gate = new();
        private readonly SseUsageObserver _observer = new();
        private bool _finished;

        public void Observe(ReadOnlySpan<byte> bytes)
        {
            lock (_gate)
            {
                if (!_finished)
                {
                    _observer.Observe(bytes);
                }
            }
        }

        public void Finish(bool endOfBody, string? error, bool canceled)
        {
            lock (_gate)
            {
                if (_finished)
                {
                    return;
                }

                _finished = true;
            }

            if (endOfBody)
            {
                _observer.Complete();
            }
            else
            {
                _observer.FlushCompleteLines();
            }

            // After [DONE] the caller may close without reading to the end of the body; that is a normal end.
            var normal = error is null
                ? _observer.SawDone || (endOfBody && _observer.Reading.HasUsage)
                : _observer.SawDone;
            var reason = normal ? null : error ?? "the stream ended without its end marker";
            try
            {
                completion.OnStreamCompleted(_observer, normal, canceled && !normal, reason);
            }
            finally
            {
                _observer.Dispose();
            }
        }
    }

    private sealed class ObservingStream(Stream inner, ObservingStreamState state) : Stream
    {
        // The official client reads with the caller's token; if it is cancelled when reading stops,
        // the caller cancelled the call rather than the stream failing.
        private CancellationToken _lastReadToken;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int read;
            try
            {
                read = inner.Read(buffer);
            }
            catch (Exception ex)
            {
                state.Finish(endOfBody: false, error: Describe(ex), canceled: ex is OperationCanceledException);
                throw;
            }

            OnRead(buffer[..read], buffer.Length);
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _lastReadToken = cancellationToken;
            int read;
            try
            {
                read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                state.Finish(endOfBody: false, error: Describe(ex), canceled: ex is OperationCanceledException || cancellationToken.IsCancellationRequested);
                throw;
            }

            OnRead(buffer.Span[..read], buffer.Length);
            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                state.Finish(endOfBody: false, error: ClosedEarly, canceled: _lastReadToken.IsCancellationRequested);
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            state.Finish(endOfBody: false, error: ClosedEarly, canceled: _lastReadToken.IsCancellationRequested);
            await inner.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }

        private void OnRead(ReadOnlySpan<byte> bytes, int requested)
        {
            if (bytes.IsEmpty && requested > 0)
            {
                state.Finish(endOfBody: true, error: null, canceled: false);
            }
            else if (!bytes.IsEmpty)
            {
                state.Observe(bytes);
            }
        }

        private const string ClosedEarly = "the caller closed the stream before its end";

        private static string Describe(Exception ex) => ex is OperationCanceledException
            ? "the stream was cancelled while reading"
            : $"the stream failed while reading ({ex.GetType().Name})";
    }
}
