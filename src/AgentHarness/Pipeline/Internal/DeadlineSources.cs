namespace AgentHarness.Pipeline.Internal;

/// <summary>
/// Cancellation sources, each with its timer on the harness's clock, kept for the next calls' deadlines: a call that
/// ended without its source firing hands it back reset, so the common call neither creates nor destroys a timer.
/// </summary>
/// <remarks>
/// <para>
/// A source is kept only when <see cref="CancellationTokenSource.TryReset"/> succeeds: it was never cancelled, and its
/// timer is stopped and was never queued to fire, so nothing can cancel it late. Registrations still on it are dropped
/// by the reset. Only calls that handed nothing on to the caller give their source back (<see cref="CallDeadline.Recycle"/>):
/// a stream's transport may still hold the token of its first phase.
/// </para>
/// <para>
/// A few slots, taken and put back with one interlocked exchange each, bound what is kept: beyond them a source is
/// disposed as before, and an empty pool creates one.
/// </para>
/// </remarks>
internal sealed class DeadlineSources
{
    private readonly CancellationTokenSource?[] _slots = new CancellationTokenSource?[Math.Clamp(Environment.ProcessorCount * 2, 4, 32)];

    /// <param name="time">The clock every source's timer runs on.</param>
    public DeadlineSources(TimeProvider time) => Time = time;

    /// <summary>Gets the clock every source's timer runs on.</summary>
    public TimeProvider Time { get; }

    /// <summary>Gets a source that fires after <paramref name="delay"/>: a kept one re-armed, or a new one.</summary>
    public CancellationTokenSource Rent(TimeSpan delay)
    {
        var slots = _slots;
        for (var i = 0; i < slots.Length; i++)
        {
            if (Volatile.Read(ref slots[i]) is not null && Interlocked.Exchange(ref slots[i], null) is { } kept)
            {
                kept.CancelAfter(delay);
                return kept;
            }
        }

        return new CancellationTokenSource(delay, Time);
    }

    /// <summary>Keeps a source for a later call when it can be reset, else disposes it.</summary>
    public void Return(CancellationTokenSource source)
    {
        if (source.TryReset())
        {
            var slots = _slots;
            for (var i = 0; i < slots.Length; i++)
            {
                if (Volatile.Read(ref slots[i]) is null && Interlocked.CompareExchange(ref slots[i], source, null) is null)
                {
                    return;
                }
            }
        }

        source.Dispose();
    }
}
