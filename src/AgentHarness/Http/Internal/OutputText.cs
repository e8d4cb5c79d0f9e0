using System.Buffers;
using System.Text;
using System.Text.Json;

namespace AgentHarness.Http.Internal;

/// <summary>
/// The output text a stream has carried so far, kept as UTF-8 so that a stream cut short before its
/// usage event can still be charged for what it delivered. Past <see cref="MaxBytes"/> only the
/// byte count grows, so a runaway stream cannot exhaust memory.
/// </summary>
internal sealed class OutputText : IDisposable
{
    public const int MaxBytes = 4 * 1024 * 1024;

    private byte[] _buffer = [];
    private int _length;

    /// <summary>Gets how many bytes of text arrived beyond what is kept.</summary>
    public long DroppedBytes { get; private set; }

    /// <summary>Appends the unescaped value of the string token the reader is on.</summary>
    /// <returns>
    /// <see langword="false"/> when the value is not text (invalid UTF-8, a lone surrogate): its bytes
    /// are counted as dropped, so that what the stream carried is still charged.
    /// </returns>
    public bool Append(ref Utf8JsonReader reader)
    {
        var most = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        if (_length + most > MaxBytes)
        {
            DroppedBytes += most;
            return true;
        }

        if (_length + most > _buffer.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(Math.Max(256, _buffer.Length * 2), _length + most));
            _buffer.AsSpan(0, _length).CopyTo(larger);
            Return();
            _buffer = larger;
        }

        try
        {
            _length += reader.CopyString(_buffer.AsSpan(_length));
            return true;
        }
        catch (InvalidOperationException)
        {
            // The token is a string, so only undecodable bytes make it throw.
            DroppedBytes += most;
            return false;
        }
    }

    /// <summary>Gets the kept text; only a span that records message content reads it.</summary>
    public string Text => _length == 0 ? string.Empty : Encoding.UTF8.GetString(_buffer, 0, _length);

    /// <summary>Estimates the tokens of the text: the kept text counted, the dropped bytes at four per token.</summary>
    public long CountTokens(Func<string, int> count) =>
        (_length == 0 ? 0 : count(Encoding.UTF8.GetString(_buffer, 0, _length))) + (DroppedBytes / 4);

    public void Dispose()
    {
        Return();
        _buffer = [];
        _length = 0;
    }

    private void Return()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }
    }
}
