using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AgentHarness.IntegrationTests.Support;

/// <summary>
/// A raw TCP server on the loopback interface that answers every request with less body than its framing promises, then
/// closes the connection: a whole answer with a <c>Content-Length</c> 500 bytes beyond what it sends, or an event stream
/// whose chunked body stops without its last chunk. The client's read of the body ends early, as with a provider that
/// went away in the middle of its answer. Kestrel cannot end a connection so (it resets it, and a reset can discard what
/// was sent before it), so this server writes the bytes itself and closes gracefully.
/// </summary>
internal sealed class ShortBodyServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly byte[] _body;
    private readonly string _contentType;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _accepting;
    private int _requests;

    private ShortBodyServer(string body, string contentType)
    {
        _body = Encoding.UTF8.GetBytes(body);
        _contentType = contentType;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>Gets the OpenAI-compatible base address, for example <c>http://127.0.0.1:41234/v1</c>.</summary>
    public Uri BaseUrl => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/v1");

    /// <summary>Gets how many requests were read and answered.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Starts a server that sends <paramref name="body"/> and closes before the body it promised is whole.</summary>
    /// <param name="body">What is sent of the body.</param>
    /// <param name="contentType"><c>text/event-stream</c> for a chunked stream; anything else for a <c>Content-Length</c>.</param>
    public static ShortBodyServer Start(string body, string contentType = "application/json") => new(body, contentType);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        await _accepting.ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();

                // The whole request is read first: closing a socket with unread bytes would reset the connection, not end it.
                await ReadRequestAsync(stream, _stopping.Token).ConfigureAwait(false);
                Interlocked.Increment(ref _requests);
                var chunked = _contentType == "text/event-stream";
                var framing = chunked ? "Transfer-Encoding: chunked" : $"Content-Length: {_body.Length + 500}";
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: {_contentType}\r\n{framing}\r\nConnection: close\r\n\r\n"), _stopping.Token).ConfigureAwait(false);
                if (chunked)
                {
                    // One chunk, and never the zero-length chunk that would end the body.
                    await stream.WriteAsync(Encoding.ASCII.GetBytes($"{_body.Length:x}\r\n"), _stopping.Token).ConfigureAwait(false);
                    await stream.WriteAsync(_body, _stopping.Token).ConfigureAwait(false);
                    await stream.WriteAsync("\r\n"u8.ToArray(), _stopping.Token).ConfigureAwait(false);
                }
                else
                {
                    await stream.WriteAsync(_body, _stopping.Token).ConfigureAwait(false);
                }

                await stream.FlushAsync(_stopping.Token).ConfigureAwait(false);
                client.Client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
            {
                // The client went away first, or the server is stopping.
            }
        }
    }

    /// <summary>Reads a request's head and its body, of a <c>Content-Length</c> or chunked.</summary>
    private static async Task ReadRequestAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var received = new List<byte>();
        var buffer = new byte[8192];
        int headEnd;
        while ((headEnd = IndexOf(received, "\r\n\r\n"u8)) < 0)
        {
            received.AddRange(buffer.AsSpan(0, await ReadSomeAsync(stream, buffer, cancellationToken).ConfigureAwait(false)));
        }

        var head = Encoding.ASCII.GetString([.. received.Take(headEnd)]);
        var bodyStart = headEnd + 4;
        var length = head.Split("\r\n")
            .Select(static line => line.Split(':', 2))
            .Where(static parts => parts.Length == 2 && parts[0].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            .Select(static parts => (int?)int.Parse(parts[1].Trim(), System.Globalization.CultureInfo.InvariantCulture))
            .FirstOrDefault();
        if (length is { } contentLength)
        {
            while (received.Count - bodyStart < contentLength)
            {
                received.AddRange(buffer.AsSpan(0, await ReadSomeAsync(stream, buffer, cancellationToken).ConfigureAwait(false)));
            }

            return;
        }

        if (head.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            while (IndexOf(received, "\r\n0\r\n\r\n"u8, bodyStart - 2) < 0)
            {
                received.AddRange(buffer.AsSpan(0, await ReadSomeAsync(stream, buffer, cancellationToken).ConfigureAwait(false)));
            }
        }
    }

    private static async Task<int> ReadSomeAsync(NetworkStream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        var read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return read > 0 ? read : throw new IOException("The client closed the connection before its request was whole.");
    }

    private static int IndexOf(List<byte> bytes, ReadOnlySpan<byte> value, int from = 0)
    {
        for (var i = Math.Max(from, 0); i + value.Length <= bytes.Count; i++)
        {
            var match = true;
            for (var j = 0; j < value.Length && match; j++)
            {
                match = bytes[i + j] == value[j];
            }

            if (match)
            {
                return i;
            }
        }

        return -1;
    }
}
