namespace AgentHarness;

/// <summary>
/// Removes answers from the response cache (<c>AddResponseCache</c>): one entry, every entry of a scope, or all of them.
/// Removal reaches this process and the cache's second level at once; every other replica that shares the second level
/// stops serving the entries within <see cref="ResponseCacheOptions.LocalTimeToLive"/>, the longest it keeps an entry in
/// its memory before reading the second level again.
/// </summary>
public interface IResponseCache
{
    /// <summary>Removes one entry.</summary>
    /// <param name="key">The entry's key, as a call served from it or stored in it recorded it (<see cref="UsageRecord.CacheKey"/>).</param>
    /// <param name="cancellationToken">Cancels the removal.</param>
    /// <returns>A task that completes when the entry is removed.</returns>
    ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Removes every entry of one scope: the calls whose run metadata had these values of <see cref="ResponseCacheOptions.ScopeBy"/>.</summary>
    /// <param name="metadata">The scope's metadata values, for example <c>customer</c> = <c>acme</c>; a key of the scope that is missing means a call without it.</param>
    /// <param name="cancellationToken">Cancels the removal.</param>
    /// <returns>A task that completes when the scope is removed.</returns>
    ValueTask RemoveScopeAsync(IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken = default);

    /// <summary>Removes every entry the harness stored.</summary>
    /// <param name="cancellationToken">Cancels the removal.</param>
    /// <returns>A task that completes when the entries are removed.</returns>
    ValueTask RemoveAllAsync(CancellationToken cancellationToken = default);
}
