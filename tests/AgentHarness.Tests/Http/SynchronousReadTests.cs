using AgentHarness.Http.Internal;

namespace AgentHarness.Tests.Http;

public sealed class SynchronousReadTests
{
    [Fact]
    public void Read_TokenCancelledDuringABlockedRead_ClosesTheStreamAndThrowsCanceled()
    {
        using var cts = new CancellationTokenSource();
        using var stream = new BlockingStream(cts);

        var ex = Assert.Throws<OperationCanceledException>(() => SynchronousRead.Read(stream, new byte[16], cts.Token));

        Assert.Equal(cts.Token, ex.CancellationToken);
        Assert.True(stream.Disposed);
    }

    [Fact]
    public void ReadAll_TokenCancelledDuringABlockedRead_ThrowsCanceled()
    {
        using var cts = new CancellationTokenSource();
        using var content = new StreamContent(new BlockingStream(cts));

        Assert.Throws<OperationCanceledException>(() => SynchronousRead.ReadAll(content, cts.Token));
    }

    [Fact]
    public void ReadAll_Body_ReturnsEveryByte()
    {
        var bytes = Enumerable.Range(0, 100_000).Select(i => (byte)i).ToArray();
        using var content = new StreamContent(new MemoryStream(bytes, writable: false));

        Assert.Equal(bytes, SynchronousRead.ReadAll(content, TestContext.Current.CancellationToken));
    }

    /// <summary>A stream whose read cancels the token, then blocks until the stream is closed, as a stalled socket would.</summary>
    private sealed class BlockingStream(CancellationTokenSource cancel) : Stream
    {
        private readonly ManualResetEventSlim _closed = new();

        public bool Disposed => _closed.IsSet;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            // The registration runs synchronously inside Cancel, so the stream is closed before Wait.
            cancel.Cancel();
            _closed.Wait(TestContext.Current.CancellationToken);
            throw new ObjectDisposedException(nameof(BlockingStream));
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            _closed.Set();
            base.Dispose(disposing);
        }
    }
}
