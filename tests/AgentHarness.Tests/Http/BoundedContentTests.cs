using System.IO.Compression;
using AgentHarness.Http.Internal;
using AgentHarness.Tests.Support;

namespace AgentHarness.Tests.Http;

public sealed class BoundedContentTests
{
    private const int Limit = 64 * 1024;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static StreamContent Unsized(Stream stream) => new(stream);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(20_000)]
    [InlineData(Limit)]
    public async Task ReadAsync_BodyUpToTheLimit_ReturnsItWhole(int size)
    {
        var body = Enumerable.Range(0, size).Select(i => (byte)i).ToArray();

        var unsized = await BoundedContent.ReadAsync(Unsized(new MemoryStream(body)), Limit, Ct);
        var sized = await BoundedContent.ReadAsync(new ByteArrayContent(body), Limit, Ct);

        Assert.Equal(body, unsized);
        Assert.Equal(body, sized);
    }

    [Fact]
    public async Task ReadAsync_OneBytePastTheLimit_ThrowsNamingTheLimit()
    {
        var ex = await Assert.ThrowsAsync<BodyTooLargeException>(() => BoundedContent.ReadAsync(Unsized(new MemoryStream(new byte[Limit + 1])), Limit, Ct).AsTask());

        Assert.Contains("MaxResponseBytes (65536 bytes)", ex.Message, StringComparison.Ordinal);
        Assert.Equal(HttpRequestError.ConfigurationLimitExceeded, ex.HttpRequestError);
    }

    [Fact]
    public async Task ReadAsync_DeclaredLengthAboveTheLimit_ThrowsBeforeReadingAByte()
    {
        var body = new CountingStream(new MemoryStream(new byte[Limit + 10]));
        var content = new StreamContent(body);
        content.Headers.ContentLength = Limit + 10;

        var ex = await Assert.ThrowsAsync<BodyTooLargeException>(() => BoundedContent.ReadAsync(content, Limit, Ct).AsTask());

        Assert.Contains("declares 65546 bytes", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, body.Pulled);
    }

    [Fact]
    public async Task ReadAsync_EndlessBody_StopsOneBytePastTheLimit()
    {
        var body = new EndlessStream("{\"a\":\""u8.ToArray(), "x"u8.ToArray());

        await Assert.ThrowsAsync<BodyTooLargeException>(() => BoundedContent.ReadAsync(Unsized(body), Limit, Ct).AsTask());

        Assert.Equal(Limit + 1, body.Pulled);
    }

    [Fact]
    public async Task ReadAsync_GzipThatInflatesFarPastTheLimit_StopsAtTheLimitOfInflatedBytes()
    {
        var inflated = new CountingStream(new GZipStream(new MemoryStream(Gzip(64 * 1024 * 1024)), CompressionMode.Decompress));

        await Assert.ThrowsAsync<BodyTooLargeException>(() => BoundedContent.ReadAsync(Unsized(inflated), Limit, Ct).AsTask());

        Assert.Equal(Limit + 1, inflated.Pulled);
    }

    [Fact]
    public void Read_EndlessBody_StopsOneBytePastTheLimitAndAllocatesAFewTimesIt()
    {
        const int Large = 4 * 1024 * 1024;
        var body = new EndlessStream([], "x"u8.ToArray());
        var content = Unsized(body);

        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<BodyTooLargeException>(() => BoundedContent.Read(content, Large, Ct));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(Large + 1, body.Pulled);
        Assert.True(allocated < 4L * Large, $"allocated {allocated} bytes");
    }

    [Fact]
    public void Read_BodyWithinTheLimit_ReturnsItWhole()
    {
        var body = Enumerable.Range(0, 50_000).Select(i => (byte)i).ToArray();

        Assert.Equal(body, BoundedContent.Read(Unsized(new MemoryStream(body)), Limit, Ct));
        Assert.Throws<BodyTooLargeException>(() => BoundedContent.Read(new ByteArrayContent(new byte[Limit + 1]), Limit, Ct));
    }

    private static byte[] Gzip(int zeros)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var block = new byte[1024 * 1024];
            for (var written = 0; written < zeros; written += block.Length)
            {
                gzip.Write(block);
            }
        }

        return output.ToArray();
    }
}
