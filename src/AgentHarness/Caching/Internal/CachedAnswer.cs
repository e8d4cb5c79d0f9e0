using System.Buffers;
using System.ComponentModel;
using System.Text;
using AgentHarness.Http.Internal;
using Microsoft.Extensions.Caching.Hybrid;

namespace AgentHarness.Caching.Internal;

/// <summary>
/// One entry of the response cache: a whole answer as the provider sent it (a stream's is assembled into the whole
/// answer it stands for), the model and provider that gave it, what it cost, and when it stops being served.
/// </summary>
/// <remarks>
/// Immutable and sealed, so that <c>HybridCache</c> keeps the instance itself in memory and a hit from memory neither
/// copies nor deserializes it. The expiry is the harness's own, on its <see cref="TimeProvider"/>: the memory level's
/// clock is not the harness's.
/// </remarks>
[ImmutableObject(true)]
internal sealed class CachedAnswer(byte[] body, string operation, string? model, string? provider, decimal costUsd, DateTimeOffset expires, DateTimeOffset? localUntil = null, DateTimeOffset? stored = null)
{
    /// <summary>Gets the whole answer's bytes.</summary>
    public byte[] Body { get; } = body;

    /// <summary>Gets the operation the answer is of.</summary>
    public string Operation { get; } = operation;

    /// <summary>Gets the model that answered, as the answer reported it.</summary>
    public string? Model { get; } = model;

    /// <summary>Gets the provider that answered.</summary>
    public string? Provider { get; } = provider;

    /// <summary>Gets what the answer cost when it was bought: what a hit saves.</summary>
    public decimal CostUsd { get; } = costUsd;

    /// <summary>Gets when the entry stops being served, on the harness's clock.</summary>
    public DateTimeOffset Expires { get; } = expires;

    /// <summary>
    /// Gets until when this process serves the entry from its memory without looking at the second level again, on the
    /// harness's clock; <see langword="null"/> without a second level, where memory is the only copy. Never serialized:
    /// each replica's copy has its own.
    /// </summary>
    public DateTimeOffset? LocalUntil { get; } = localUntil;

    /// <summary>Gets when the entry was stored, on the storing process's clock; <see langword="null"/> for an entry written before it was kept.</summary>
    public DateTimeOffset? Stored { get; } = stored;

    /// <summary>This entry, as a copy this process keeps in memory until <paramref name="localUntil"/>.</summary>
    public CachedAnswer KeptLocallyUntil(DateTimeOffset localUntil) => new(Body, Operation, Model, Provider, CostUsd, Expires, localUntil, Stored) { _stream = _stream };

    /// <summary>Lazily, the answer as a stream of events, for streamed requests.</summary>
    public byte[] Stream => _stream ??= ChatEvents.FromWhole(Body);

    // Kept by a copy (KeptLocallyUntil): building it again every LocalTimeToLive would be waste.
    private byte[]? _stream;
}

/// <summary>The entries' form in the second level: a version byte, then each field, length-prefixed.</summary>
internal sealed class CachedAnswerSerializer : IHybridCacheSerializer<CachedAnswer>
{
    // 2 added when the entry was stored; a version 1 entry has no such time.
    private const byte Version = 2;

    public CachedAnswer Deserialize(ReadOnlySequence<byte> source)
    {
        var bytes = source.IsSingleSegment ? source.First.Span : source.ToArray();
        using var reader = new BinaryReader(new MemoryStream(bytes.ToArray()), Encoding.UTF8);
        var version = reader.ReadByte();
        if (version is not (1 or Version))
        {
            throw new InvalidDataException("The response cache entry has an unknown version.");
        }

        var operation = reader.ReadString();
        var model = reader.ReadBoolean() ? reader.ReadString() : null;
        var provider = reader.ReadBoolean() ? reader.ReadString() : null;
        var cost = reader.ReadDecimal();
        var expires = new DateTimeOffset(reader.ReadInt64(), TimeSpan.Zero);
        var storedTicks = version >= 2 ? reader.ReadInt64() : 0;
        DateTimeOffset? stored = storedTicks == 0 ? null : new DateTimeOffset(storedTicks, TimeSpan.Zero);
        var body = reader.ReadBytes(reader.ReadInt32());
        return new CachedAnswer(body, operation, model, provider, cost, expires, localUntil: null, stored);
    }

    public void Serialize(CachedAnswer value, IBufferWriter<byte> target)
    {
        using var buffer = new MemoryStream(value.Body.Length + 128);
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Version);
            writer.Write(value.Operation);
            Optional(writer, value.Model);
            Optional(writer, value.Provider);
            writer.Write(value.CostUsd);
            writer.Write(value.Expires.UtcTicks);
            writer.Write(value.Stored?.UtcTicks ?? 0L);
            writer.Write(value.Body.Length);
            writer.Write(value.Body);
        }

        target.Write(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }

    private static void Optional(BinaryWriter writer, string? value)
    {
        writer.Write(value is not null);
        if (value is not null)
        {
            writer.Write(value);
        }
    }
}
