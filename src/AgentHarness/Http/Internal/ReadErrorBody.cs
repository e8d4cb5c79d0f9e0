namespace AgentHarness.Http.Internal;

/// <summary>
/// An error answer's body that the credentials handler has already read whole (within the answer limit) and redacted:
/// the transport stage above takes its bytes as they are instead of reading and copying them again.
/// </summary>
/// <param name="bytes">The body, read whole and with any configured key removed.</param>
internal sealed class ReadErrorBody(byte[] bytes) : ByteArrayContent(bytes)
{
    /// <summary>Gets the body's bytes.</summary>
    public byte[] Bytes { get; } = bytes;
}
