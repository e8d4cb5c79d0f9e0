namespace AgentHarness.Http.Internal;

/// <summary>Reads a request's body whole, once, without the copies and doubling buffers of buffering it in its content.</summary>
internal static class RequestContent
{
    /// <summary>Reads the body into an array of its declared length when it declares one; otherwise buffers it.</summary>
    public static async Task<byte[]> ReadAsync(HttpContent content, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength is { } length and > 0 and <= int.MaxValue)
        {
            var bytes = new byte[length];
            var exact = new MemoryStream(bytes, writable: true);
            await using (exact.ConfigureAwait(false))
            {
                try
                {
                    await content.CopyToAsync(exact, cancellationToken).ConfigureAwait(false);
                    return exact.Position == length ? bytes : bytes.AsSpan(0, (int)exact.Position).ToArray();
                }
                catch (NotSupportedException)
                {
                    // The content wrote more than it declared: read it without a fixed size below.
                }
            }
        }

        return await content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
    }
}
