using System.Buffers;

namespace AgentHarness.Http.Internal;

/// <summary>What the first event of a stream that decides anything was.</summary>
internal enum StreamSignal
{
    /// <summary>No event so far carried output or ended the stream: role-only or empty deltas, comments, keep-alives.</summary>
    None,

    /// <summary>An event carried output: text, a tool call, a refusal, reasoning, any non-empty delta.</summary>
    Output,

    /// <summary>The end marker arrived: <c>[DONE]</c>, or a terminal Responses event.</summary>
    Done,

    /// <summary>An error event arrived.</summary>
    Error,

    /// <summary>An event's data was neither JSON nor the end marker, or was not UTF-8.</summary>
    Malformed,

    /// <summary>An event was larger than the observer's limit; nothing after it was read.</summary>
    TooLarge,
}

/// <summary>
/// Follows a server-sent event stream as the caller reads it, without changing a byte: it notes
/// the model and the usage events carry and whether the stream reached its end marker. Lines may
/// be split across reads in any way.
/// </summary>
/// <remarks>
/// The answer is whole at its end marker, and nothing after it is observed: the official client stops reading at
/// <c>[DONE]</c>, so bytes behind it (in the same read or a later one) are no event of the answer, and judging them
/// would make the outcome depend on how reads fell. The same holds after a terminal Responses event.
/// </remarks>
internal sealed class SseUsageObserver : IDisposable
{
    private static ReadOnlySpan<byte> DataField => "data:"u8;

    private static ReadOnlySpan<byte> DoneMarker => "[DONE]"u8;

    private readonly int _maxEventBytes;
    private byte[] _line = ArrayPool<byte>.Shared.Rent(1024);
    private int _lineLength;
    private byte[] _data = ArrayPool<byte>.Shared.Rent(1024);
    private int _dataLength;
    private bool _hasData;
    private UsageReading _reading;
    private readonly OutputText _output = new();

    /// <param name="maxEventBytes">The most bytes one event (and any one line) may have; past it the observer stops.</param>
    public SseUsageObserver(int maxEventBytes = BodyLimits.DefaultMaxStreamEventBytes)
    {
        _maxEventBytes = maxEventBytes;
        _reading.Deltas = _output;
    }

    /// <summary>Gets the limit of one event, in bytes.</summary>
    public int MaxEventBytes => _maxEventBytes;

    /// <summary>
    /// Gets what the first deciding event was, in stream order: the same however the bytes were split
    /// into reads, since events are judged one by one as they complete.
    /// </summary>
    public StreamSignal FirstSignal { get; private set; }

    /// <summary>Gets a value indicating whether an event was larger than <see cref="MaxEventBytes"/>.</summary>
    public bool EventTooLarge { get; private set; }

    /// <summary>Gets what the events read so far reported.</summary>
    public UsageReading Reading => _reading;

    /// <summary>Gets the output text the events carried, to charge a stream that stopped before its usage event.</summary>
    public OutputText Output => _output;

    /// <summary>Gets a value indicating whether the stream's end marker arrived: <c>[DONE]</c>, or a terminal Responses event.</summary>
    public bool SawDone { get; private set; }

    /// <summary>Gets how many events (blank-line terminated) with data arrived, up to and with the end marker.</summary>
    public int Events { get; private set; }

    /// <summary>Gets a value indicating whether an event's data was neither JSON nor the end marker.</summary>
    public bool Malformed { get; private set; }

    /// <summary>Gets the data of the first error event, kept to classify the failure, or <see langword="null"/>.</summary>
    public byte[]? ErrorEvent { get; private set; }


    /// <summary>Reads the next bytes of the stream, up to its end marker; what follows the marker is ignored.</summary>
    public void Observe(ReadOnlySpan<byte> chunk)
    {
        while (!chunk.IsEmpty && !EventTooLarge && !SawDone)
        {
            var newline = chunk.IndexOf((byte)'\n');
            if (newline < 0)
            {
                AppendLine(chunk);
                return;
            }

            ReadOnlySpan<byte> line;
            if (_lineLength == 0)
            {
                // The whole line is in this read (the common case): it is read where it is, not copied first.
                if (newline > _maxEventBytes)
                {
                    TooLarge();
                    return;
                }

                line = chunk[..newline];
            }
            else
            {
                if (!AppendLine(chunk[..newline]))
                {
                    return;
                }

                line = _line.AsSpan(0, _lineLength);
            }

            chunk = chunk[(newline + 1)..];
            if (!line.IsEmpty && line[^1] == (byte)'\r')
            {
                line = line[..^1];
            }

            if (!_hasData && BlankLineFirst(chunk, out var blank) && line.StartsWith(DataField))
            {
                // A one-line event whose blank line is in this read too: its data is read where it is.
                var value = DataValue(line);
                if (value.Length + 1 > _maxEventBytes)
                {
                    TooLarge();
                    return;
                }

                Dispatch(value);
                chunk = chunk[blank..];
                _lineLength = 0;
                continue;
            }

            OnLine(line);
            _lineLength = 0;
        }
    }

    /// <summary>Whether <paramref name="rest"/> starts with a blank line, and how long its line break is.</summary>
    private static bool BlankLineFirst(ReadOnlySpan<byte> rest, out int length)
    {
        length = rest.StartsWith("\n"u8) ? 1 : rest.StartsWith("\r\n"u8) ? 2 : 0;
        return length > 0;
    }

    private static ReadOnlySpan<byte> DataValue(ReadOnlySpan<byte> line)
    {
        var value = line[DataField.Length..];
        return !value.IsEmpty && value[0] == (byte)' ' ? value[1..] : value;
    }

    /// <summary>Dispatches an event left without its terminating blank line when the stream ends.</summary>
    public void Complete()
    {
        if (EventTooLarge || SawDone)
        {
            return;
        }

        if (_lineLength > 0)
        {
            OnLine(_line.AsSpan(0, _lineLength));
            _lineLength = 0;
        }

        Dispatch();
    }

    /// <summary>
    /// Dispatches an event whose data lines arrived whole but whose blank line did not, as when a
    /// client stops reading right after <c>data: [DONE]</c>. A partial line is not an event.
    /// </summary>
    public void FlushCompleteLines()
    {
        if (!EventTooLarge && !SawDone)
        {
            Dispatch();
        }
    }

    public void Dispose()
    {
        _output.Dispose();
        ArrayPool<byte>.Shared.Return(Interlocked.Exchange(ref _line, []));
        ArrayPool<byte>.Shared.Return(Interlocked.Exchange(ref _data, []));
    }

    private void OnLine(ReadOnlySpan<byte> line)
    {
        if (line.IsEmpty)
        {
            Dispatch();
            return;
        }

        if (!line.StartsWith(DataField))
        {
            return;
        }

        var value = DataValue(line);
        if (_dataLength + value.Length + 1 > _maxEventBytes)
        {
            // The data of one event grows across its lines: the whole event is held to the limit.
            TooLarge();
            return;
        }

        if (_hasData)
        {
            Append(ref _data, ref _dataLength, "\n"u8);
        }

        Append(ref _data, ref _dataLength, value);
        _hasData = true;
    }

    private void Dispatch()
    {
        if (!_hasData)
        {
            return;
        }

        Dispatch(_data.AsSpan(0, _dataLength));
        _dataLength = 0;
        _hasData = false;
    }

    /// <summary>Judges the data of one whole event.</summary>
    private void Dispatch(ReadOnlySpan<byte> data)
    {
        Events++;
        if (data.SequenceEqual(DoneMarker))
        {
            SawDone = true;
            Signal(StreamSignal.Done);
        }
        else
        {
            var hadError = _reading.HasError;
            var wellFormed = _reading.Read(data);
            Malformed |= !wellFormed;
            SawDone |= _reading.Terminal;
            if (_reading.HasError && ErrorEvent is null)
            {
                ErrorEvent = data.ToArray();
            }

            // One event can be several things; the worst decides.
            Signal(!hadError && _reading.HasError ? StreamSignal.Error
                : !wellFormed ? StreamSignal.Malformed
                : _reading.Terminal ? StreamSignal.Done
                : _reading.HasOutput ? StreamSignal.Output
                : StreamSignal.None);
        }
    }

    private void Signal(StreamSignal signal)
    {
        if (FirstSignal == StreamSignal.None)
        {
            FirstSignal = signal;
        }
    }

    /// <summary>Appends to the current line; past the limit the observer stops instead.</summary>
    private bool AppendLine(ReadOnlySpan<byte> bytes)
    {
        if (_lineLength + bytes.Length > _maxEventBytes)
        {
            TooLarge();
            return false;
        }

        Append(ref _line, ref _lineLength, bytes);
        return true;
    }

    private void TooLarge()
    {
        EventTooLarge = true;
        Signal(StreamSignal.TooLarge);
        _lineLength = 0;
        _dataLength = 0;
        _hasData = false;
    }

    private static void Append(ref byte[] buffer, ref int length, ReadOnlySpan<byte> bytes)
    {
        if (length + bytes.Length > buffer.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(buffer.Length * 2, length + bytes.Length));
            buffer.AsSpan(0, length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = larger;
        }

        bytes.CopyTo(buffer.AsSpan(length));
        length += bytes.Length;
    }
}
