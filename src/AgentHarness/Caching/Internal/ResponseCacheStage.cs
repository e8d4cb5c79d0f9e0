using System.Net;
using System.Net.Http.Headers;
using AgentHarness.Pipeline.Internal;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using System.Runtime.CompilerServices;

namespace AgentHarness.Caching.Internal;

/// <summary>
/// The response cache: a call-level step between the call's context and the routing loop, and an observer of the
/// call's end. A hit ends the call with the stored answer (no budget, no attempt, $0); a miss runs the loop, and a
/// whole and good answer is stored when the call ends.
/// </summary>
/// <remarks>
/// <para>
/// Concurrent identical calls in one process make one upstream call: a read-and-write call looks up its key with
/// <see cref="HybridCache.GetOrCreateAsync{TState, T}(string, TState, Func{TState, CancellationToken, ValueTask{T}}, HybridCacheEntryOptions?, IEnumerable{string}?, CancellationToken)"/>,
/// whose single flight either finds the entry (in memory, then in the second level) or makes this call its producer.
/// The producer does not answer inside the factory, since a streamed answer must reach its caller long before it has
/// ended: the factory only says "you produce" and waits for the producer's call to end, when this observer hands it
/// the entry (or nothing, for an answer not worth keeping: the waiters then call upstream themselves). The flight
/// writes nothing itself; a good entry is written with <see cref="HybridCache.SetAsync{T}"/>, so a failure or an empty
/// answer is never kept.
/// </para>
/// <para>
/// Only the first candidate's answer is stored unless <see cref="ResponseCacheOptions.StoreFallbackAnswers"/> says
/// otherwise; the entry names the model that answered, and its key names the id asked for.
/// </para>
/// </remarks>
internal sealed partial class ResponseCacheStage : ICallObserver, IResponseCache
{
    private static readonly MediaTypeHeaderValue JsonType = new("application/json");
    private static readonly MediaTypeHeaderValue EventStreamType = new("text/event-stream");

    // The flight neither reads the second level's copy into memory nor writes: the observer writes only a good answer.
    private static readonly HybridCacheEntryOptions FlightOptions = new()
    {
        Flags = HybridCacheEntryFlags.DisableLocalCacheWrite | HybridCacheEntryFlags.DisableDistributedCacheWrite,
    };

    private static readonly HybridCacheEntryOptions MemoryOnlyOptions = new()
    {
        Flags = HybridCacheEntryFlags.DisableDistributedCache | HybridCacheEntryFlags.DisableUnderlyingData | HybridCacheEntryFlags.DisableLocalCacheWrite,
    };

    // A removal's time, read from the second level only, never from memory, and never written by the read.
    private static readonly HybridCacheEntryOptions SecondLevelOnlyOptions = new()
    {
        Flags = HybridCacheEntryFlags.DisableLocalCache | HybridCacheEntryFlags.DisableUnderlyingData | HybridCacheEntryFlags.DisableDistributedCacheWrite,
    };

    private static readonly HybridCacheEntryOptions ReadOnlyOptions = new()
    {
        Flags = HybridCacheEntryFlags.DisableUnderlyingData | HybridCacheEntryFlags.DisableLocalCacheWrite | HybridCacheEntryFlags.DisableDistributedCacheWrite,
    };

    private readonly HybridCache _cache;
    private readonly ResponseCacheOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string[] _scopeBy;

    // Whether the HybridCache has a second level that other processes share: then a copy in memory is kept only for
    // LocalTimeToLive before the second level is read again, so that removals by other replicas reach this one.
    private readonly bool _shared;
    private readonly TimeSpan _longestTimeToLive;

    public ResponseCacheStage(IServiceProvider services, IOptions<AgentHarnessOptions> options, TimeProvider time, ILoggerFactory loggerFactory)
    {
        _cache = services.GetService<HybridCache>()
            ?? throw new InvalidOperationException(
                "AddResponseCache needs a HybridCache: register one with services.AddHybridCache() (package Microsoft.Extensions.Caching.Hybrid), " +
                "and an IDistributedCache under it for a second level, or use AddRedisResponseCache from AgentHarness.Redis.");

        // HybridCache takes the registered IDistributedCache as its second level, but for the in-memory one, which it
        // ignores (by its type: naming it here would make the core depend on Microsoft.Extensions.Caching.Memory).
        _shared = services.GetService<IDistributedCache>() is { } distributed
            && distributed.GetType().FullName != "Microsoft.Extensions.Caching.Distributed.MemoryDistributedCache";
        _options = options.Value.ResponseCache;
        _scopeBy = [.. _options.ScopeBy.Select(MetadataKey)];

        // A removal is remembered as long as any entry stored before it may be served.
        _longestTimeToLive = _options.Models.Values.Select(static m => m?.TimeToLive ?? TimeSpan.Zero).Append(_options.TimeToLive).Max();
        _time = time;
        _logger = loggerFactory.CreateLogger(AgentHarnessLogCategories.Routing);
    }

    /// <summary>
    /// Answers the call from the cache when it may and can; otherwise prepares it for storing and returns
    /// <see langword="null"/>, and the routing loop runs.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<HttpResponseMessage?> LookupAsync(CallContext call)
    {
        var mode = Mode(call);
        var request = call.Request;
        if (mode is null or ResponseCacheMode.Bypass || request.Model is null || !AnswerShapes.Cacheable(request.Operation, request.Stream))
        {
            return null;
        }

        var key = CacheKey.Compute(request.Operation, call.ModelRequested, _scopeBy, call.CallMetadata, request.Bytes);
        if (key is null)
        {
            return null;
        }

        var state = new CacheCall(key, write: mode is ResponseCacheMode.ReadWrite or ResponseCacheMode.WriteOnly);
        call.CacheState = state;
        if (mode == ResponseCacheMode.WriteOnly)
        {
            return null;
        }

        // A second pass only after an entry was removed: past its own expiry (the memory level's clock is not the harness's),
        // or removed by another replica since it was stored.
        for (var pass = 0; pass < 2; pass++)
        {
            CachedAnswer? entry;
            var keepInMemory = false;
            if (mode == ResponseCacheMode.ReadOnly)
            {
                // Nothing is written: an entry from the second level, or a memory copy whose time in memory is over, is
                // checked against the removals the other replicas wrote down every time.
                entry = await _cache.GetOrCreateAsync<object?, CachedAnswer?>(key, null, static (_, _) => default, ReadOnlyOptions, null, call.CallerToken).ConfigureAwait(false);
                if (entry is not null && !FreshInMemory(entry) && await RemovedSinceStoredAsync(call, key, entry, call.CallerToken).ConfigureAwait(false))
                {
                    return null;
                }
            }
            else if (await _cache.GetOrCreateAsync<object?, CachedAnswer?>(key, null, static (_, _) => default, MemoryOnlyOptions, null, CancellationToken.None).ConfigureAwait(false) is { } inMemory)
            {
                // The common hit, from memory, without a flight. A copy whose time in memory is over stands unless another
                // replica removed it since: then it goes, and the next pass elects one producer among concurrent calls.
                entry = inMemory;
                if (!FreshInMemory(inMemory))
                {
                    if (await RemovedSinceStoredAsync(call, key, inMemory, call.CallerToken).ConfigureAwait(false))
                    {
                        await _cache.RemoveAsync(key, CancellationToken.None).ConfigureAwait(false);
                        continue;
                    }

                    keepInMemory = true;
                }
            }
            else
            {
                var flight = new Flight();
                var lookup = _cache.GetOrCreateAsync(key, flight, static (f, _) => f.ProduceAsync(), FlightOptions, null, CancellationToken.None);
                if (lookup.IsCompleted)
                {
                    entry = lookup.Result;
                    keepInMemory = FromSecondLevel(entry);
                }
                else
                {
                    var found = flight.Producing.IsCompleted ? null : lookup.AsTask();
                    if (found is null || await Task.WhenAny(found, flight.Producing).WaitAsync(call.CallerToken).ConfigureAwait(false) != found)
                    {
                        // This call is the flight's producer: it goes upstream, and its end hands the entry to the waiters.
                        state.Flight = flight;
                        return null;
                    }

                    // From the second level, or handed over by this process's producer: the flight writes nothing, so this
                    // process keeps it in memory, for the rest of its life or until its time in memory is over.
                    entry = await found.ConfigureAwait(false);
                    keepInMemory = entry is not null;
                }
            }

            if (entry is null)
            {
                // Not stored, or the flight this call joined kept nothing: it goes upstream itself.
                return null;
            }

            var left = entry.Expires - _time.GetUtcNow();
            if (left > TimeSpan.Zero)
            {
                if (FromSecondLevel(entry) && await RemovedSinceStoredAsync(call, key, entry, call.CallerToken).ConfigureAwait(false))
                {
                    // Another replica removed it (or its scope, or every entry) after it was stored, and this process had
                    // not heard: it goes, and the next pass elects one producer.
                    await _cache.RemoveAsync(key, CancellationToken.None).ConfigureAwait(false);
                    continue;
                }

                if (keepInMemory)
                {
                    Observe(_cache.SetAsync(key, KeptLocally(entry), new HybridCacheEntryOptions { Expiration = left, LocalCacheExpiration = left, Flags = HybridCacheEntryFlags.DisableDistributedCache }, Tags(call), CancellationToken.None));
                }

                return Serve(call, state, entry);
            }

            await _cache.RemoveAsync(key, CancellationToken.None).ConfigureAwait(false);
        }

        return null;
    }

    /// <summary>Copies a streamed answer that may be stored as the caller reads it; anything else passes as it is.</summary>
    public HttpResponseMessage Capture(CallContext call, HttpResponseMessage response)
    {
        if (call.CacheState is CacheCall { Write: true, Hit: false } state && call.Streamed && response.IsSuccessStatusCode && response.Content is { } content)
        {
            state.Capture = new CapturingContent.Capture(_options.MaxEntryBytes);
            response.Content = new CapturingContent(content, state.Capture);
        }

        return response;
    }

    public void OnCallEnded(CallContext call)
    {
        if (call.CacheState is not CacheCall { Hit: false } state)
        {
            return;
        }

        CachedAnswer? entry = null;
        try
        {
            if (state.Write && Storable(call, state) is { } body)
            {
                var ttl = TimeToLive(call);
                var now = _time.GetUtcNow();
                entry = new CachedAnswer(body, call.Request.Operation, call.Reading.Model, call.Current?.Provider.Name, call.CostUsd, now + ttl, _shared ? now + _options.LocalTimeToLive : null, stored: now);
                call.CacheKey = state.Key;
                Observe(_cache.SetAsync(state.Key, entry, new HybridCacheEntryOptions { Expiration = ttl, LocalCacheExpiration = ttl }, Tags(call), CancellationToken.None));
            }
        }
#pragma warning disable CA1031 // Storing is a favour: it must never fail the call it would store, nor lose its record.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            LogStoreFailed(_logger, exception, call.ModelRequested);
            entry = null;
        }
        finally
        {
            state.Flight?.Complete(entry);
        }
    }

    /// <summary>The tags of a call's entry: every entry's, and its scope's.</summary>
    private string[] Tags(CallContext call) => [CacheKey.AllTag, CacheKey.ScopeTag(_scopeBy, call.CallMetadata)];

    public async ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        await _cache.RemoveAsync(key, cancellationToken).ConfigureAwait(false);
        await WriteRemovalAsync(key, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask RemoveScopeAsync(IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var keyed = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in metadata)
        {
            keyed[MetadataKey(name)] = value;
        }

        return RemoveTagAsync(CacheKey.ScopeTag(_scopeBy, keyed), cancellationToken);
    }

    public ValueTask RemoveAllAsync(CancellationToken cancellationToken = default) => RemoveTagAsync(CacheKey.AllTag, cancellationToken);

    /// <summary>
    /// Removes the entries of a tag. HybridCache's removal reaches this process and the second level, and another process
    /// only if it has not read that tag yet: with a shared second level the removal's time is also written there, where
    /// the other replicas read it whenever they take an entry from it (once an entry's time in their memory is over).
    /// </summary>
    private async ValueTask RemoveTagAsync(string tag, CancellationToken cancellationToken)
    {
        await _cache.RemoveByTagAsync(tag, cancellationToken).ConfigureAwait(false);
        await WriteRemovalAsync(tag, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes down, in a shared second level, when an entry, a scope or every entry was removed, for as long as an entry stored before may be served.</summary>
    private ValueTask WriteRemovalAsync(string keyOrTag, CancellationToken cancellationToken) =>
        _shared
            ? _cache.SetAsync(RemovalKey(keyOrTag), new RemovalStamp(_time.GetUtcNow().UtcTicks), new HybridCacheEntryOptions { Expiration = _longestTimeToLive, Flags = HybridCacheEntryFlags.DisableLocalCache }, tags: null, cancellationToken)
            : default;

    /// <summary>
    /// Whether a removal another replica wrote down (of the entry, its scope, or every entry) came after the entry was
    /// stored. A second level that cannot be read says nothing was removed: the copy in memory goes on being served.
    /// </summary>
    private async ValueTask<bool> RemovedSinceStoredAsync(CallContext call, string key, CachedAnswer entry, CancellationToken cancellationToken)
    {
        var stored = (entry.Stored ?? (entry.Expires - TimeToLive(call))).UtcTicks;
        var own = RemovedAtAsync(key, cancellationToken);
        var all = RemovedAtAsync(CacheKey.AllTag, cancellationToken);
        var scope = RemovedAtAsync(CacheKey.ScopeTag(_scopeBy, call.CallMetadata), cancellationToken);
        return await own.ConfigureAwait(false) >= stored | await all.ConfigureAwait(false) >= stored | await scope.ConfigureAwait(false) >= stored;
    }

    private async ValueTask<long> RemovedAtAsync(string keyOrTag, CancellationToken cancellationToken)
    {
        try
        {
            return (await _cache.GetOrCreateAsync<object?, RemovalStamp?>(RemovalKey(keyOrTag), null, static (_, _) => default, SecondLevelOnlyOptions, null, cancellationToken).ConfigureAwait(false))?.UtcTicks ?? 0;
        }
#pragma warning disable CA1031 // A second level that cannot be read (Redis down) knows of no removal: what memory holds stands.
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
        {
            LogRemovalsUnread(_logger, exception);
            return 0;
        }
    }

    private static string RemovalKey(string keyOrTag) => "agentharness:removed:" + keyOrTag;

    /// <summary>
    /// The run metadata key a scope names: an extra key may be written <c>extra.&lt;name&gt;</c>, as budget dimensions and
    /// usage groups write it, and is held under its name.
    /// </summary>
    private static string MetadataKey(string name) =>
        name.StartsWith(UsageGroupKeys.ExtraPrefix, StringComparison.OrdinalIgnoreCase) ? name[UsageGroupKeys.ExtraPrefix.Length..] : name;

    /// <summary>How long an entry of this call's model id is served.</summary>
    private TimeSpan TimeToLive(CallContext call) =>
        _options.Models.TryGetValue(call.ModelRequested, out var model) && model.TimeToLive is { } own ? own : _options.TimeToLive;

    /// <summary>Whether an entry may be served from memory as it is: without a shared second level always, else within its time in memory.</summary>
    private bool FreshInMemory(CachedAnswer entry) => !_shared || (entry.LocalUntil is { } until && _time.GetUtcNow() < until);

    /// <summary>Whether an entry was read from a shared second level: only this process's own copies carry a time in memory.</summary>
    private bool FromSecondLevel(CachedAnswer? entry) => _shared && entry is { LocalUntil: null };

    /// <summary>The copy of an entry this process keeps in memory: with a second level shared by other processes, for <see cref="ResponseCacheOptions.LocalTimeToLive"/>.</summary>
    private CachedAnswer KeptLocally(CachedAnswer entry) => _shared ? entry.KeptLocallyUntil(_time.GetUtcNow() + _options.LocalTimeToLive) : entry;

    /// <summary>What the cache does for a call: its innermost run's mode, else what its model id or the options say; <see langword="null"/> for nothing.</summary>
    private ResponseCacheMode? Mode(CallContext call)
    {
        foreach (var run in call.Runs)
        {
            if (run.CacheMode is { } mode)
            {
                return mode;
            }
        }

        var enabled = _options.Models.TryGetValue(call.ModelRequested, out var model) && model.Enabled is { } own ? own : _options.Enabled;
        return enabled ? ResponseCacheMode.ReadWrite : null;
    }

    /// <summary>The answer's bytes when it is whole and good and the fallback rule lets it be stored; otherwise <see langword="null"/>.</summary>
    private byte[]? Storable(CallContext call, CacheCall state)
    {
        if (call.Outcome != UsageOutcome.Succeeded || call.StatusCode is not (>= 200 and < 300) || (!_options.StoreFallbackAnswers && FellBack(call)))
        {
            return null;
        }

        // The budget sent this answer's attempt with an output limit of its own (to fit what was left): the answer may be
        // cut at a limit the request under this key never asked for, and must not be served to calls that can afford more.
        if (call.Attempt.OutputLimit is not null)
        {
            return null;
        }

        if (call.Streamed)
        {
            // Only a stream read to its end marker ends Succeeded; one the caller read past the cap was not kept.
            var assembled = state.Capture is { Overflowed: false } capture ? AnswerShapes.Assemble(capture.Bytes()) : null;
            return assembled is not null && assembled.Length <= _options.MaxEntryBytes && AnswerShapes.IsGood(call.Request.Operation, assembled) ? assembled : null;
        }

        // The answer's buffer goes back to the pool once the client has read it: the entry keeps a copy of its own.
        return call.Answer is { } answer && answer.Length <= _options.MaxEntryBytes && AnswerShapes.IsGood(call.Request.Operation, answer.Span) ? answer.ToArray() : null;
    }

    /// <summary>Whether the answer came from another candidate than the first one the call meant to try: a skip, or a failed attempt of another.</summary>
    private static bool FellBack(CallContext call)
    {
        var attempts = call.Attempts;
        if (attempts.Count == 0)
        {
            return false;
        }

        var last = attempts[attempts.Count - 1];
        for (var i = 0; i < attempts.Count; i++)
        {
            var attempt = attempts[i];
            if (attempt.Outcome == AttemptOutcome.Skipped
                || !string.Equals(attempt.Provider, last.Provider, StringComparison.Ordinal)
                || !string.Equals(attempt.Model, last.Model, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private HttpResponseMessage Serve(CallContext call, CacheCall state, CachedAnswer entry)
    {
        state.Hit = true;
        call.CacheKey = state.Key;
        call.CacheHit = new CacheHit(entry.Provider, entry.CostUsd);
        call.Reading.Model = entry.Model;
        var stream = call.Request.Stream;
        // A stream is replayed from a stream that cannot seek, as a provider's is: the official client checks that a
        // seekable one was not read before it buffers it when the stream is disposed.
        HttpContent content = stream ? new StreamContent(new ReplayStream(entry.Stream)) : new ByteArrayContent(entry.Body);
        content.Headers.ContentType = stream ? EventStreamType : JsonType;
        return new HttpResponseMessage(HttpStatusCode.OK) { Content = content, RequestMessage = call.Request.Message };
    }

    private void Observe(ValueTask write)
    {
        if (write.IsCompletedSuccessfully)
        {
            return;
        }

        _ = ObserveAsync(write);
    }

    private async Task ObserveAsync(ValueTask write)
    {
        try
        {
            await write.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A second level that cannot be written loses the entry, never the call.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            LogStoreFailed(_logger, exception, "(second level)");
        }
    }

    [LoggerMessage(EventId = 30, Level = LogLevel.Warning, Message = "The response cache could not store the answer of a call to {Model}; the call itself is unaffected.")]
    private static partial void LogStoreFailed(ILogger logger, Exception exception, string model);

    // Debug: the second level's own client logs its outage; this says only what the cache made of it.
    [LoggerMessage(EventId = 31, Level = LogLevel.Debug, Message = "The response cache could not read the removals other replicas wrote to its second level; the copy in memory is served.")]
    private static partial void LogRemovalsUnread(ILogger logger, Exception exception);

    /// <summary>An entry's bytes, read once from the start like a provider's answer.</summary>
    private sealed class ReplayStream(byte[] bytes) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var read = Math.Min(buffer.Length, bytes.Length - _position);
            bytes.AsSpan(_position, read).CopyTo(buffer);
            _position += read;
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            new(Read(buffer.Span));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>The cache's state for one call.</summary>
    private sealed class CacheCall(string key, bool write)
    {
        public string Key { get; } = key;

        public bool Write { get; } = write;

        public bool Hit { get; set; }

        public Flight? Flight { get; set; }

        public CapturingContent.Capture? Capture { get; set; }
    }

    /// <summary>
    /// A single flight this call may produce: its factory says the call is the producer and waits for the call's end.
    /// </summary>
    /// <remarks>
    /// The entry is handed over synchronously: only the flight itself awaits it, and it ends (leaving the cache's list of
    /// flights) before the call's end returns, so that no later call joins a flight that is over. The flight's waiters
    /// resume asynchronously (<c>HybridCache</c>'s own result), never inside the stream's last read.
    /// </remarks>
    private sealed class Flight
    {
        private readonly TaskCompletionSource _producing = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<CachedAnswer?> _entry = new();

        public Task Producing => _producing.Task;

        public ValueTask<CachedAnswer?> ProduceAsync()
        {
            _producing.TrySetResult();
            return new ValueTask<CachedAnswer?>(_entry.Task);
        }

        public void Complete(CachedAnswer? entry) => _entry.TrySetResult(entry);
    }
}
