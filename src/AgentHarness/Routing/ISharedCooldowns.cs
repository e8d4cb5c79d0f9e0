namespace AgentHarness;

/// <summary>
/// Shares candidates' cooldowns between the processes of an application (its replicas): a candidate
/// (a provider's model, such as <c>openai/gpt-4.1</c>) that cools down in one cools down in all, and
/// once the cooldown is over one process at a time probes it. The harness consults it when one is
/// registered in the service collection; without one, every process keeps its own cooldowns.
/// </summary>
/// <remarks>
/// <para>
/// Failures are counted in each process: <c>FailuresBeforeCooldown</c> failures in a row in any one of
/// them opens the cooldown for every process. Calls ask <see cref="CoolingDownElsewhere"/> on every
/// attempt, so it must answer from memory, without I/O; the others are told of openings and closings
/// as they happen and may do their I/O in the background. <see cref="TryTakeProbe"/> alone may wait,
/// briefly, and is asked only when a cooldown is over.
/// </para>
/// <para>Implementations must be thread safe, and never throw: a store that cannot reach its peers
/// answers as if the process were alone.</para>
/// </remarks>
public interface ISharedCooldowns
{
    /// <summary>How much longer another process holds the candidate back, or <see langword="null"/> when none does.</summary>
    /// <param name="key">The candidate key.</param>
    /// <returns>
    /// The rest of the cooldown another process opened; <see cref="TimeSpan.Zero"/> when its period is over and
    /// the verdict of a probe is awaited; <see langword="null"/> when the candidate is not cooling down elsewhere
    /// (never was, or a probe found it healthy).
    /// </returns>
    TimeSpan? CoolingDownElsewhere(string key);

    /// <summary>Tells the other processes that this one opened a cooldown of <paramref name="period"/> for the candidate.</summary>
    /// <param name="key">The candidate key.</param>
    /// <param name="period">The cooldown period, from now.</param>
    void Opened(string key, TimeSpan period);

    /// <summary>Tells the other processes that this one's probe succeeded: the candidate is healthy again.</summary>
    /// <param name="key">The candidate key.</param>
    void Closed(string key);

    /// <summary>Takes the single probe across processes for a candidate whose cooldown is over.</summary>
    /// <param name="key">The candidate key.</param>
    /// <returns><see langword="true"/> when this process may probe; <see langword="false"/> while another one does.</returns>
    bool TryTakeProbe(string key);

    /// <summary>Gives the probe back without a verdict (the call said nothing about the candidate), so another process may probe at once.</summary>
    /// <param name="key">The candidate key.</param>
    void ReleaseProbe(string key);
}
