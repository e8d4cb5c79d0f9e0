using System.Net;
using System.Text;

namespace AgentHarness.Redis.LoadWorker;

/// <summary>
/// The in-process upstream: reads the kind of answer from the prompt (<c>kind:json</c>, <c>500</c>,
/// <c>stream</c>, <c>cut</c>, <c>slow</c>) and answers with random token counts.
/// </summary>
internal sealed class Upstream(int seed, bool hang) : HttpMessageHandler
{
    private readonly Random _random = new(seed * 7919);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = await request.Content!.ReadAsStringAsync(cancellationToken);
        if (hang)
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
        }

        int input, output;
        lock (_random)
        {
            input = _random.Next(5, 30);
            output = _random.Next(1, 201);
        }

        if (body.Contains("kind:500", StringComparison.Ordinal))
        {
            return new HttpResponseMessage(HttpStatusCode.InternalServerError)
            {
                Content = new StringContent("""{"error":{"message":"upstream failed","type":"server_error"}}""", Encoding.UTF8, "application/json"),
            };
        }

        if (body.Contains("kind:slow", StringComparison.Ordinal))
        {
            await Task.Delay(2, cancellationToken);
        }

        if (body.Contains("kind:stream", StringComparison.Ordinal) || body.Contains("kind:cut", StringComparison.Ordinal))
        {
            var cut = body.Contains("kind:cut", StringComparison.Ordinal);
            var events = new StringBuilder();
            for (var i = 0; i < 3; i++)
            {
                events.Append("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word \"},\"finish_reason\":null}]}\n\n");
            }

            var head = Encoding.UTF8.GetBytes(events.ToString());
            var tail = Encoding.UTF8.GetBytes(
                $"data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}],\"usage\":{{\"prompt_tokens\":{input},\"completion_tokens\":{output},\"total_tokens\":{input + output}}}}}\n\ndata: [DONE]\n\n");
            var content = new StreamContent(new EventStream(head, cut ? null : tail));
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/event-stream");
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = content };
        }

        return new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StringContent(
                $$$"""{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":{{{input}}},"completion_tokens":{{{output}}},"total_tokens":{{{input + output}}}}}""",
                Encoding.UTF8,
                "application/json"),
        };
    }

    /// <summary>A stream of events; without a tail, the connection breaks after the head.</summary>
    private sealed class EventStream(byte[] head, byte[]? tail) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var all = head.Length + (tail?.Length ?? 0);
            if (_position >= head.Length && tail is null)
            {
                throw new IOException("The upstream connection was reset.");
            }

            if (_position >= all)
            {
                return 0;
            }

            var source = _position < head.Length ? head : tail!;
            var start = _position < head.Length ? _position : _position - head.Length;
            var n = Math.Min(count, source.Length - start);
            Array.Copy(source, start, buffer, offset, n);
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
