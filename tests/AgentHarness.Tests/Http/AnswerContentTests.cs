using System.Buffers;
using System.Text;
using AgentHarness.Http.Internal;

namespace AgentHarness.Tests.Http;

public sealed class AnswerContentTests
{
    private const string Answer = """{"id":"c","choices":[{"message":{"content":"bug-fix"}}]}""";

    [Fact]
    public async Task ReadAsStringAsync_OnceRead_GivesTheAnswer()
    {
        using var content = Create(Answer);

        Assert.Equal(Answer, await content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ReadAsStreamAsync_CopiedToTheEnd_GivesTheAnswerAndThenNothing()
    {
        using var content = Create(Answer);
        var stream = await content.ReadAsStreamAsync(TestContext.Current.CancellationToken);
        using var copy = new MemoryStream();

        await stream.CopyToAsync(copy, TestContext.Current.CancellationToken);
        var after = await stream.ReadAsync(new byte[16], TestContext.Current.CancellationToken);

        Assert.Equal(Answer, Encoding.UTF8.GetString(copy.ToArray()));
        Assert.Equal(0, after);
    }

    [Fact]
    public void ReadAsStream_ReadInSmallPieces_GivesEveryByteInOrder()
    {
        using var content = Create(Answer);
        using var stream = content.ReadAsStream(TestContext.Current.CancellationToken);
        var read = new List<byte>();
        var piece = new byte[7];
        int count;
        while ((count = stream.Read(piece, 0, piece.Length)) > 0)
        {
            read.AddRange(piece.AsSpan(0, count).ToArray());
        }

        Assert.Equal(Answer, Encoding.UTF8.GetString([.. read]));
    }

    [Fact]
    public async Task CopyToAsync_ASecondTime_FailsInsteadOfReadingAReturnedBuffer()
    {
        using var content = Create(Answer);
        await content.CopyToAsync(Stream.Null, TestContext.Current.CancellationToken);

        await Assert.ThrowsAsync<InvalidOperationException>(() => content.CopyToAsync(Stream.Null, TestContext.Current.CancellationToken));
    }

    [Fact]
    public void Headers_ContentLength_IsTheAnswersLength()
    {
        using var content = Create(Answer);

        Assert.Equal(Encoding.UTF8.GetByteCount(Answer), content.Headers.ContentLength);
    }

    [Fact]
    public void Memory_BeforeTheContentIsRead_IsTheAnswer()
    {
        using var content = Create(Answer);

        Assert.Equal(Answer, Encoding.UTF8.GetString(content.Memory.Span));
    }

    [Fact]
    public void Dispose_Unread_AndAgain_DoesNotThrow()
    {
        var content = Create(Answer);

        content.Dispose();
        content.Dispose();
    }

    [Fact]
    public async Task Dispose_WhileItsStreamIsBeingRead_EndsTheStreamWithoutReadingFurther()
    {
        // As with a socket's body, disposing the content closes the stream it handed out: the buffer is back in the pool.
        var content = Create(Answer);
        var stream = await content.ReadAsStreamAsync(TestContext.Current.CancellationToken);
        var first = new byte[4];
        _ = await stream.ReadAsync(first, TestContext.Current.CancellationToken);

        content.Dispose();
        using var rest = new MemoryStream();
        await stream.CopyToAsync(rest, TestContext.Current.CancellationToken);

        Assert.Equal(Answer[..4], Encoding.UTF8.GetString(first));
        Assert.Equal(0, rest.Length);
        Assert.Equal(0, await stream.ReadAsync(new byte[8], TestContext.Current.CancellationToken));
    }

    private static AnswerContent Create(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var pooled = ArrayPool<byte>.Shared.Rent(bytes.Length);
        bytes.CopyTo(pooled, 0);
        return new AnswerContent(pooled, bytes.Length);
    }
}
