using System.Buffers;
using System.Buffers.Binary;
using Microsoft.Extensions.Caching.Hybrid;

namespace AgentHarness.Caching.Internal;

/// <summary>
/// When an entry, a scope or every entry of the response cache was removed, as the removing process's clock said: written
/// to a shared second level, where the other replicas read it before they serve a copy they took earlier.
/// </summary>
/// <param name="UtcTicks">The removal's time, in UTC ticks.</param>
[System.ComponentModel.ImmutableObject(true)]
internal sealed record RemovalStamp(long UtcTicks);

/// <summary>A stamp's form in the second level: its eight bytes, little-endian; the harness's own, so that no application serializer is asked.</summary>
internal sealed class RemovalStampSerializer : IHybridCacheSerializer<RemovalStamp>
{
    public RemovalStamp Deserialize(ReadOnlySequence<byte> source)
    {
        Span<byte> bytes = stackalloc byte[sizeof(long)];
        if (source.Length != sizeof(long))
        {
            throw new InvalidDataException("The response cache's removal stamp is not eight bytes.");
        }

        source.CopyTo(bytes);
        return new RemovalStamp(BinaryPrimitives.ReadInt64LittleEndian(bytes));
    }

    public void Serialize(RemovalStamp value, IBufferWriter<byte> target)
    {
        BinaryPrimitives.WriteInt64LittleEndian(target.GetSpan(sizeof(long)), value.UtcTicks);
        target.Advance(sizeof(long));
    }
}
