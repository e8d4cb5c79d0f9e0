using System.Net;
using System.Runtime.CompilerServices;

namespace AgentHarness.Http.Internal;

/// <summary>Receives the end of an observed stream, exactly once.</summary>
internal interface IStreamCompletion
{
    /// <param name="observer">What the stream carried.</param>
    /// <param name="endedNormally">Whether the stream reached its end marker: <c>[DONE]</c> or a terminal Responses event.</param>
    /// <param name="canceled">Whether the reader's cancellation token was cancelled when the stream stopped.</param>
    /// <param name="error">Why it did not end normally, or <see langword="null"/>.</param>
    void OnStreamCompleted(SseUsageObserver observer, bool endedNormally, bool canceled, string? error);
}

/// <summary>The limits and names a committed stream is held to.</summary>
/// <param name="Provider">The provider streaming, for error messages.</param>
/// <param name="Model">The model streaming, for error messages.</param>
/// <param name="IdleTimeout">How long a read may wait for data before the stream counts as stalled.</param>
/// <param name="TimeProvider">The clock of the idle timeout.</param>
/// <param name="MaxEventBytes">The most bytes one event may have; a larger one interrupts the stream.</param>
internal sealed record StreamGuard(string Provider, string Model, TimeSpan IdleTimeout, TimeProvider TimeProvider, int MaxEventBytes = BodyLimits.DefaultMaxStreamEventBytes);

/// <summary>
/// A streamed response body committed to the caller: the bytes already read while peeking, then the
/// rest of the provider's stream. The harness sees every event as the caller reads it (nothing is
/// buffered beyond the peek), and a stream that fails after output started surfaces as a
/// <see cref="StreamInterruptedException"/>, never as a silent end.
/// </summary>
internal sealed class ObservedStreamContent : HttpContent
{
    /// <summary>The error of a stream the caller closed before its end: the caller's choice, not the model's failure.</summary>
    internal const string ClosedEarly = "the caller closed the stream before its end";

    /// <summary>Why a stream that its caller stopped reading, without disposing it, was closed by the harness: the caller's doing, not the model's.</summary>
    internal const string AbandonedByCaller = "nobody read the stream within its StreamIdleTimeout, so the harness closed it";

    private readonly HttpContent _original;
    private readonly ObservingStream _stream;

    /// <param name="original">The provider's content, disposed with this one.</param>
    /// <param name="rest">The provider's stream, after the prefix.</param>
    /// <param name="prefix">The bytes read while peeking, from <see cref="System.Buffers.ArrayPool{T}.Shared"/>: returned once the caller has read them.</param>
    /// <param name="prefixLength">How many bytes of <paramref name="prefix"/> are used.</param>
    /// <param name="guard">The limits the stream is held to.</param>
    /// <param name="completion">Receives the stream's end.</param>
    /// <param name="observed">
    /// The observer that saw the prefix while peeking, to go on with rather than observing the prefix again; or
    /// <see langword="null"/> to observe the prefix as the caller reads it. This content owns it.
    /// </param>
    public ObservedStreamContent(HttpContent original, Stream rest, byte[] prefix, int prefixLength, StreamGuard guard, IStreamCompletion completion, SseUsageObserver? observed = null)
    {
        _original = original;
        _stream = new ObservingStream(rest, prefix, prefixLength, guard, completion, observed);
        HeaderCopy.AddContentHeaders(this, original, withLength: true);
    }

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken) => _stream;

    protected override Task<Stream> CreateContentReadStreamAsync() => Task.FromResult<Stream>(_stream);

    protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) => Task.FromResult<Stream>(_stream);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
        _stream.CopyToAsync(stream, cancellationToken);

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stream.Dispose();
            _original.Dispose();
        }

        base.Dispose(disposing);
    }

    private sealed class ObservingStream : Stream
    {
        private const int Idle = 0;
        private const int Reading = 1;
        private const int Abandoned = 2;

        private readonly Stream _inner;
        private readonly StreamGuard _guard;
        private readonly IStreamCompletion _completion;
        private readonly SseUsageObserver _observer;

        // One timer for the stream's whole life, re-armed for each read, instead of one per read.
        // During a read it ends the read (a stalled provider); between reads it closes a stream the
        // caller stopped reading without disposing, so its reservation and connection are not held forever.
        private readonly CancellationTokenSource _idle;

        // Idle, Reading or Abandoned: decides what the idle timer's firing means.
        private int _state;

        // Reads are sequential, but a dispose may race with a read on another thread.
        private readonly Lock _gate = new();
        private byte[]? _prefix;
        private int _prefixOffset;
        private readonly int _prefixLength;

        // Whether the observer saw the prefix already, while the stream was peeked.
        private readonly bool _prefixObserved;
        private bool _finished;

        // Whether the stream finished as a whole answer: at its end marker, with nothing wrong found before it. Set once,
        // under the gate, and read on every read without it.
        private volatile bool _whole;

        // The official client reads with the caller's token; if it is cancelled when reading stops,
        // the caller cancelled the call rather than the stream failing.
        private CancellationToken _lastReadToken;

        public ObservingStream(Stream inner, byte[] prefix, int prefixLength, StreamGuard guard, IStreamCompletion completion, SseUsageObserver? observed)
        {
            _inner = inner;
            _prefix = prefixLength > 0 ? prefix : null;
            _prefixLength = prefixLength;
            _guard = guard;
            _completion = completion;
            _prefixObserved = observed is not null;
            _observer = observed ?? new SseUsageObserver(guard.MaxEventBytes);
            _idle = new CancellationTokenSource(Timeout.InfiniteTimeSpan, guard.TimeProvider);
            _idle.Token.UnsafeRegister(static state => ((ObservingStream)state!).OnIdle(), this);

            // Handed to the caller now: from here on, nobody reading for the idle timeout abandons it.
            _idle.CancelAfter(guard.IdleTimeout);
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        /// <summary>
        /// The official client's synchronous streaming reads here. The read runs on the asynchronous
        /// path so that the idle timeout applies to it too, and this thread waits for it.
        /// </summary>
        public override int Read(Span<byte> buffer)
        {
            var rented = System.Buffers.ArrayPool<byte>.Shared.Rent(buffer.Length);
            try
            {
                var read = ReadAsync(rented.AsMemory(0, buffer.Length), CancellationToken.None).AsTask().GetAwaiter().GetResult();
                rented.AsSpan(0, read).CopyTo(buffer);
                return read;
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _lastReadToken = cancellationToken;
            if (buffer.IsEmpty)
            {
                return 0;
            }

            if (Volatile.Read(ref _state) == Abandoned)
            {
                throw AbandonedError();
            }

            if (TryReadPrefix(buffer.Span, out var fromPrefix))
            {
                ArmIdle();
                return fromPrefix;
            }

            if (_whole)
            {
                // Finished whole at its end marker: nothing after it is read, so a stall or a cut behind it cannot fail it.
                return 0;
            }

            // The idle timeout runs on the harness's clock; a stalled provider must not hold the caller forever.
            // Re-armed with CancelAfter, not TryReset: TryReset cannot stop a TimeProvider's timer.
            if (Interlocked.CompareExchange(ref _state, Reading, Idle) != Idle || _idle.IsCancellationRequested)
            {
                throw Volatile.Read(ref _state) == Abandoned ? AbandonedError() : Fail(null, canceled: false, $"no data for {_guard.IdleTimeout}");
            }

            _idle.CancelAfter(_guard.IdleTimeout);
            using var linked = cancellationToken.CanBeCanceled
                ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _idle.Token)
                : null;
            int read;
            try
            {
                read = await _inner.ReadAsync(buffer, linked?.Token ?? _idle.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested)
            {
                Finish(endOfBody: false, "the stream was cancelled while reading", canceled: true);
                throw new OperationCanceledException(ex.Message, ex, cancellationToken);
            }
            catch (OperationCanceledException ex) when (_idle.IsCancellationRequested)
            {
                return PastEndMarker() ? EndAtMarker() : throw Fail(ex, canceled: false, $"no data for {_guard.IdleTimeout}");
            }
            catch (Exception ex) when (ex is not StreamInterruptedException)
            {
                return PastEndMarker() ? EndAtMarker() : throw Fail(ex, canceled: false);
            }
            finally
            {
                // Re-armed for the gap until the caller's next read; a finished stream has nothing left to time.
                Interlocked.CompareExchange(ref _state, Idle, Reading);
                ArmIdle();
            }

            return OnRead(buffer.Span[..read], buffer.Length);
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
                Finish(endOfBody: false, ClosedEarly, canceled: _lastReadToken.IsCancellationRequested);
                _inner.Dispose();
                _idle.Dispose();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            Finish(endOfBody: false, ClosedEarly, canceled: _lastReadToken.IsCancellationRequested);
            await _inner.DisposeAsync().ConfigureAwait(false);
            _idle.Dispose();
            await base.DisposeAsync().ConfigureAwait(false);
        }

        /// <summary>Times the gap until the caller's next read, or stops timing once the stream has finished.</summary>
        private void ArmIdle()
        {
            try
            {
                _idle.CancelAfter(IsFinished() ? Timeout.InfiniteTimeSpan : _guard.IdleTimeout);
            }
            catch (ObjectDisposedException)
            {
                // Disposed by the caller on another thread: nothing left to time.
            }
        }

        /// <summary>
        /// The idle timer fired. During a read, the read's own token ends it as a stall. Between reads,
        /// the caller has stopped reading without disposing: the harness closes the stream so that its
        /// connection is released and the call is settled to what arrived and recorded as incomplete.
        /// </summary>
        private void OnIdle()
        {
            if (Interlocked.CompareExchange(ref _state, Abandoned, Idle) != Idle)
            {
                return;
            }

            Finish(endOfBody: false, AbandonedByCaller, canceled: false);
            _inner.Dispose();
        }

        private StreamInterruptedException AbandonedError()
        {
            int events;
            lock (_gate)
            {
                events = _observer.Events;
            }

            return new StreamInterruptedException(_guard.Provider, _guard.Model, AbandonedByCaller, events, null);
        }

        private bool TryReadPrefix(Span<byte> buffer, out int read)
        {
            if (_prefix is null || buffer.IsEmpty)
            {
                read = 0;
                return false;
            }

            read = Math.Min(buffer.Length, _prefixLength - _prefixOffset);
            _prefix.AsSpan(_prefixOffset, read).CopyTo(buffer);
            _prefixOffset += read;
            if (_prefixOffset == _prefixLength)
            {
                // Reads are sequential and nothing else holds the prefix: it goes back to the pool it came from.
                System.Buffers.ArrayPool<byte>.Shared.Return(_prefix);
                _prefix = null;
            }

            if (!_prefixObserved)
            {
                Observe(buffer[..read]);
            }

            return true;
        }

        private int OnRead(ReadOnlySpan<byte> bytes, int requested)
        {
            if (bytes.IsEmpty && requested > 0)
            {
                var normal = false;
                lock (_gate)
                {
                    if (!_finished)
                    {
                        _observer.Complete();
                        normal = _observer.SawDone;
                    }
                }

                if (!normal && !IsFinished())
                {
                    throw Fail(null, canceled: false, "the stream ended without its end marker");
                }

                Finish(endOfBody: true, error: null, canceled: false);
                return 0;
            }

            Observe(bytes);
            return bytes.Length;
        }

        private void Observe(ReadOnlySpan<byte> bytes)
        {
            string? problem = null;
            lock (_gate)
            {
                if (_finished || bytes.IsEmpty)
                {
                    return;
                }

                var hadError = _observer.ErrorEvent is not null;
                _observer.Observe(bytes);
                if (_observer.EventTooLarge)
                {
                    problem = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"an event larger than MaxStreamEventBytes ({_guard.MaxEventBytes} bytes)");
                }
                else if (_observer.Malformed)
                {
                    problem = "a malformed event";
                }
                else if (!hadError && _observer.ErrorEvent is not null)
                {
                    problem = "an error event";
                }
            }

            if (problem is not null)
            {
                throw Fail(null, canceled: false, problem);
            }
        }

        private bool IsFinished()
        {
            lock (_gate)
            {
                return _finished;
            }
        }

        /// <summary>
        /// Whether the end marker has arrived and the stream is still open: the answer is whole, and what comes after
        /// the marker (a reader that goes on reading past it, as a raw reader or the Responses client does) is no part of it.
        /// </summary>
        private bool PastEndMarker()
        {
            lock (_gate)
            {
                return !_finished && _observer.SawDone;
            }
        }

        /// <summary>Ends a read past the end marker that stalled or failed as the end of the stream: the answer was whole.</summary>
        private int EndAtMarker()
        {
            Finish(endOfBody: true, error: null, canceled: false);
            return 0;
        }

        private StreamInterruptedException Fail(Exception? cause, bool canceled, string? reason = null)
        {
            reason ??= $"the connection failed while reading ({cause?.GetType().Name})";
            int events;
            lock (_gate)
            {
                events = _observer.Events;
            }

            Finish(endOfBody: false, reason, canceled, failed: true);
            return new StreamInterruptedException(_guard.Provider, _guard.Model, reason, events, cause);
        }

        /// <summary>Ends the stream once, and tells its completion how it ended.</summary>
        /// <param name="endOfBody">Whether the provider's body ended.</param>
        /// <param name="error">Why the stream ended, if it did not end whole.</param>
        /// <param name="canceled">Whether the reader's token was cancelled.</param>
        /// <param name="failed">
        /// Whether the caller is told the stream failed (a <see cref="StreamInterruptedException"/>): then it did not end
        /// normally even when the end marker came in the read that failed it, after an error or a malformed event.
        /// </param>
        private void Finish(bool endOfBody, string? error, bool canceled, bool failed = false)
        {
            bool normal;
            lock (_gate)
            {
                if (_finished)
                {
                    return;
                }

                _finished = true;
                if (!endOfBody)
                {
                    // A client may stop reading right after data: [DONE], before the blank line.
                    _observer.FlushCompleteLines();
                }

                // Only the end marker ([DONE], or a terminal Responses event) proves the answer is whole:
                // some providers send usage with every chunk, so usage alone proves nothing. A failure found
                // before the marker breaks the answer, however the reads fell around the marker.
                normal = !failed && _observer.SawDone;
                _whole = normal;
            }

            try
            {
                _completion.OnStreamCompleted(_observer, normal, canceled && !normal, normal ? null : error ?? "the stream ended without its end marker");
            }
            finally
            {
                _observer.Dispose();
            }
        }
    }
}
