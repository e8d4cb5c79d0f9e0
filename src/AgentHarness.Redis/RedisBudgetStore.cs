using System.Collections.Concurrent;
using System.Globalization;
using AgentHarness.Budget.Internal;
using AgentHarness.Redis.Internal;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AgentHarness.Redis;

/// <summary>
/// Budget counters shared by every replica through Redis: a reservation over all the counters of a call
/// is one Lua script (one round trip), settles are idempotent by reservation id, reservations are leases
/// that Redis drops when their process died, and counters expire after their window. Registered with
/// <c>AddRedisBudgetStore</c>; the harness uses it through <see cref="IBudgetStore"/>.
/// </summary>
/// <remarks>
/// <para>
/// When Redis cannot be reached within <see cref="RedisBudgetStoreOptions.OperationTimeout"/> (or the
/// call's own total timeout), a reservation fails closed with <see cref="BudgetStoreUnavailableException"/>,
/// or, with <see cref="RedisUnavailableBehavior.FailOpen"/>, is held in this process only and counted in
/// <see cref="FailedOpen"/>. A settle that cannot reach Redis is retried in the background for
/// <see cref="RedisBudgetStoreOptions.SettleRetryWindow"/>, never holding up the call that made it.
/// </para>
/// <para>
/// Window boundaries are the harness's: each replica names a counter by the window its own
/// <see cref="TimeProvider"/> puts the call in. Leases run on the Redis server's clock alone.
/// </para>
/// </remarks>
public sealed class RedisBudgetStore : IBudgetStore, IAsyncDisposable, IDisposable
{
    private const int MaxPendingSettles = 100_000;
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan LastRetryDelay = TimeSpan.FromSeconds(5);

    private readonly RedisConnection _connection;
    private readonly bool _disposeConnection;
    private readonly RedisBudgetStoreOptions _options;
    private readonly string _sectionPath;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _keyStart;
    private readonly InMemoryBudgetStore _local;
    private readonly ConcurrentDictionary<string, byte> _heldLocally = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private long _failedOpen;
    private long _refused;
    private long _pendingSettles;
    private long _lostSettles;
    private int _unreachable;

    internal RedisBudgetStore(RedisConnection connection, RedisBudgetStoreOptions options, string sectionPath, TimeProvider timeProvider, ILogger logger, bool disposeConnection = true)
    {
        _connection = connection;
        _disposeConnection = disposeConnection;
        _options = options;
        _sectionPath = sectionPath;
        _time = timeProvider;
        _logger = logger;
        _keyStart = "{" + options.KeyPrefix + "}:";
        _local = new InMemoryBudgetStore(timeProvider);
    }

    /// <summary>Gets how many reservations were let through without Redis (fail open), held in this process only.</summary>
    public long FailedOpen => Interlocked.Read(ref _failedOpen);

    /// <summary>Gets how many reservations were refused because Redis could not be reached (fail closed).</summary>
    public long RefusedUnavailable => Interlocked.Read(ref _refused);

    /// <summary>Gets how many settles are waiting for Redis to answer again.</summary>
    public long PendingSettles => Interlocked.Read(ref _pendingSettles);

    /// <summary>Gets how many settles were given up after <see cref="RedisBudgetStoreOptions.SettleRetryWindow"/>; their counters lack them.</summary>
    public long LostSettles => Interlocked.Read(ref _lostSettles);

    /// <inheritdoc/>
    public async ValueTask<BudgetReserveResult> TryReserveAsync(IReadOnlyList<BudgetCounter> counters, BudgetReservation reservation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(counters);
        ArgumentException.ThrowIfNullOrEmpty(reservation.Id, nameof(reservation));
        ArgumentOutOfRangeException.ThrowIfNegative(reservation.AmountUsd, nameof(reservation));
        cancellationToken.ThrowIfCancellationRequested();
        if (counters.Count == 0)
        {
            return BudgetReserveResult.Success;
        }

        var lease = _options.LeaseTime ?? reservation.Lease;
        var (keys, values) = ReserveArguments(counters, reservation, lease);
        RedisResult result;
        try
        {
            result = await EvaluateAsync(BudgetScripts.Reserve, keys, values, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or RedisException or TimeoutException)
        {
            // It may have landed: release it as soon as Redis answers (the lease ends it otherwise),
            // and a reserve still on its way finds the release's tombstone and reserves nothing.
            if (MayHaveBeenSent(ex))
            {
                _ = ReleaseAsync(counters, reservation with { Lease = lease });
            }

            if (ex is OperationCanceledException)
            {
                throw;
            }

            return await UnreachableAsync(counters, reservation, ex).ConfigureAwait(false);
        }

        Reachable();
        var answer = (RedisResult[])result!;
        switch ((int)answer[0])
        {
            case 1 or 2:
                return BudgetReserveResult.Success;
            case 0:
                return new BudgetReserveResult(false, (int)answer[1], new BudgetCounterState(Picodollars.Join((long)answer[2], (long)answer[3]), Picodollars.Join((long)answer[4], (long)answer[5])));
            default:
                throw new InvalidOperationException($"Reservation '{reservation.Id}' was already settled; a reservation id is used for one reservation only.");
        }
    }

    /// <inheritdoc/>
    public ValueTask<BudgetSettleResult> SettleAsync(IReadOnlyList<BudgetCounter> counters, BudgetReservation reservation, decimal actualUsd, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(counters);
        ArgumentException.ThrowIfNullOrEmpty(reservation.Id, nameof(reservation));
        ArgumentOutOfRangeException.ThrowIfNegative(reservation.AmountUsd, nameof(reservation));
        ArgumentOutOfRangeException.ThrowIfNegative(actualUsd);
        if (counters.Count == 0)
        {
            return ValueTask.FromResult(new BudgetSettleResult([], actualUsd, AlreadySettled: false));
        }

        if (_heldLocally.TryRemove(reservation.Id, out _))
        {
            // Reserved while Redis was unreachable: it ends here, and its spend goes to Redis under an id of
            // its own, as a charge that reserved nothing there.
            _ = _local.SettleAsync(counters, reservation, actualUsd, CancellationToken.None);
            if (actualUsd <= 0m)
            {
                return ValueTask.FromResult(new BudgetSettleResult([], 0m, AlreadySettled: false));
            }

            reservation = new BudgetReservation(reservation.Id + "~open", 0m, reservation.Lease);
        }

        return new ValueTask<BudgetSettleResult>(SettleWithRetriesAsync(counters, reservation, actualUsd, cancellationToken));
    }

    /// <inheritdoc/>
    public async ValueTask<BudgetCounterState> GetAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        RedisResult result;
        try
        {
            result = await EvaluateAsync(BudgetScripts.Read, [FiguresKey(key), LeasesKey(key)], [], cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            throw Unavailable(ex, "the counter could not be read");
        }

        var figures = (RedisResult[])result!;
        return new BudgetCounterState(Picodollars.Join((long)figures[0], (long)figures[1]), Picodollars.Join((long)figures[2], (long)figures[3]));
    }

    /// <summary>Stops retrying settles and closes the store's own connection (not the application's).</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
            if (_disposeConnection)
            {
                await _connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Stops retrying settles and closes the store's own connection (not the application's).</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    internal RedisKey FiguresKey(string counter) => _keyStart + "b:" + counter;

    internal RedisKey LeasesKey(string counter) => _keyStart + "l:" + counter;

    internal RedisKey TombstoneKey(string reservationId) => _keyStart + "s:" + reservationId;

    /// <summary>Whether a failed command may have reached the server: one that never left the process cannot have reserved anything.</summary>
    private static bool MayHaveBeenSent(Exception ex) =>
        ex is not RedisConnectionException { CommandStatus: CommandStatus.WaitingToBeSent or CommandStatus.WaitingInBacklog };

    private static long Milliseconds(TimeSpan span) => Math.Max(1, (long)Math.Ceiling(span.TotalMilliseconds));

    private async Task<RedisResult> EvaluateAsync(string script, RedisKey[] keys, RedisValue[] values, CancellationToken cancellationToken)
    {
        // One bound for the whole operation, connecting included: Redis never holds a call past it, nor past the call's own token.
        var work = RunAsync(_connection, script, keys, values);
        return await work.WaitAsync(_options.OperationTimeout, _time, cancellationToken).ConfigureAwait(false);

        static async Task<RedisResult> RunAsync(RedisConnection connection, string script, RedisKey[] keys, RedisValue[] values)
        {
            var multiplexer = await connection.Multiplexer.ConfigureAwait(false);
            return await multiplexer.GetDatabase().ScriptEvaluateAsync(script, keys, values).ConfigureAwait(false);
        }
    }

    private (RedisKey[] Keys, RedisValue[] Values) ReserveArguments(IReadOnlyList<BudgetCounter> counters, BudgetReservation reservation, TimeSpan lease)
    {
        var keys = new RedisKey[1 + (2 * counters.Count)];
        var values = new RedisValue[4 + (3 * counters.Count)];
        var (dollars, picos) = Picodollars.Up(reservation.AmountUsd);
        keys[0] = TombstoneKey(reservation.Id);
        values[0] = reservation.Id;
        values[1] = dollars;
        values[2] = picos;
        values[3] = Milliseconds(lease);
        for (var i = 0; i < counters.Count; i++)
        {
            keys[1 + (2 * i)] = FiguresKey(counters[i].Key);
            keys[2 + (2 * i)] = LeasesKey(counters[i].Key);
            var (limitDollars, limitPicos) = Picodollars.Down(counters[i].LimitUsd);
            values[4 + (3 * i)] = limitDollars;
            values[5 + (3 * i)] = limitPicos;
            values[6 + (3 * i)] = counters[i].ExpiresAt.ToUnixTimeMilliseconds();
        }

        return (keys, values);
    }

    private (RedisKey[] Keys, RedisValue[] Values) SettleArguments(IReadOnlyList<BudgetCounter> counters, BudgetReservation reservation, decimal actualUsd)
    {
        var keys = new RedisKey[1 + (2 * counters.Count)];
        var values = new RedisValue[6 + counters.Count];
        var (heldDollars, heldPicos) = Picodollars.Up(reservation.AmountUsd);
        var (actualDollars, actualPicos) = Picodollars.Up(actualUsd);
        keys[0] = TombstoneKey(reservation.Id);
        values[0] = reservation.Id;
        values[1] = heldDollars;
        values[2] = heldPicos;
        values[3] = actualDollars;
        values[4] = actualPicos;
        values[5] = Milliseconds(_options.SettleRetryWindow + TimeSpan.FromMinutes(1));
        for (var i = 0; i < counters.Count; i++)
        {
            keys[1 + (2 * i)] = FiguresKey(counters[i].Key);
            keys[2 + (2 * i)] = LeasesKey(counters[i].Key);
            values[6 + i] = counters[i].ExpiresAt.ToUnixTimeMilliseconds();
        }

        return (keys, values);
    }

    private async Task<BudgetSettleResult> SettleWithRetriesAsync(IReadOnlyList<BudgetCounter> counters, BudgetReservation reservation, decimal actualUsd, CancellationToken cancellationToken)
    {
        var (keys, values) = SettleArguments(counters, reservation, actualUsd);
        var giveUpAt = _time.GetUtcNow() + _options.SettleRetryWindow;
        var delay = FirstRetryDelay;
        var pending = false;
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var result = await EvaluateAsync(BudgetScripts.Settle, keys, values, cancellationToken).ConfigureAwait(false);
                    Reachable();
                    var answer = (RedisResult[])result!;

                    // A retry that finds the tombstone found its own earlier attempt, whose answer was lost:
                    // that attempt's result is this settle's. Only a first attempt that finds one is a duplicate.
                    return ParseSettle((string)answer[1]!, alreadySettled: (int)answer[0] == 2 && attempt == 1);
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException && !cancellationToken.IsCancellationRequested)
                {
                    if (_stopping.IsCancellationRequested || _time.GetUtcNow() + delay >= giveUpAt
                        || (!pending && Interlocked.Read(ref _pendingSettles) >= MaxPendingSettles))
                    {
                        Interlocked.Increment(ref _lostSettles);
                        Log.SettleLost(_logger, ex, reservation.Id, actualUsd, counters[0].Key, _options.SettleRetryWindow);
                        throw Unavailable(ex, "the settle is lost");
                    }

                    MarkUnreachable(ex);
                    if (!pending)
                    {
                        pending = true;
                        Interlocked.Increment(ref _pendingSettles);
                    }

                    Log.SettleRetry(_logger, reservation.Id, delay);
                    try
                    {
                        await Task.Delay(delay, _time, _stopping.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                    {
                        // Disposed while waiting to retry (a replica shut down in an outage): the settle is lost like one
                        // whose window ran out, and said so, not left to look like a failure of the call's own.
                        Interlocked.Increment(ref _lostSettles);
                        Log.SettleLost(_logger, ex, reservation.Id, actualUsd, counters[0].Key, _options.SettleRetryWindow);
                        throw Unavailable(ex, "the settle is lost");
                    }
                    delay = delay * 2 > LastRetryDelay ? LastRetryDelay : delay * 2;
                }
            }
        }
        finally
        {
            if (pending)
            {
                Interlocked.Decrement(ref _pendingSettles);
            }
        }
    }

    private static BudgetSettleResult ParseSettle(string result, bool alreadySettled)
    {
        var parts = result.Split(' ');
        var charged = Picodollars.Join(long.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture));
        if (alreadySettled)
        {
            return new BudgetSettleResult([], charged, AlreadySettled: true);
        }

        var states = new BudgetCounterState[(parts.Length - 2) / 4];
        for (var i = 0; i < states.Length; i++)
        {
            var at = 2 + (4 * i);
            states[i] = new BudgetCounterState(
                Picodollars.Join(long.Parse(parts[at], CultureInfo.InvariantCulture), long.Parse(parts[at + 1], CultureInfo.InvariantCulture)),
                Picodollars.Join(long.Parse(parts[at + 2], CultureInfo.InvariantCulture), long.Parse(parts[at + 3], CultureInfo.InvariantCulture)));
        }

        return new BudgetSettleResult(states, charged, AlreadySettled: false);
    }

    private async Task ReleaseAsync(IReadOnlyList<BudgetCounter> counters, BudgetReservation reservation)
    {
        try
        {
            await SettleWithRetriesAsync(counters, reservation, 0m, CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Logged where it failed; the lease still ends the reservation.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private async ValueTask<BudgetReserveResult> UnreachableAsync(IReadOnlyList<BudgetCounter> counters, BudgetReservation reservation, Exception ex)
    {
        MarkUnreachable(ex);
        if (_options.WhenUnavailable != RedisUnavailableBehavior.FailOpen)
        {
            Interlocked.Increment(ref _refused);
            throw Unavailable(ex, string.Create(CultureInfo.InvariantCulture, $"the budget could not be checked, so the call is refused ({_sectionPath}:WhenUnavailable is {_options.WhenUnavailable}; FailOpen lets such calls through counted locally)"));
        }

        Interlocked.Increment(ref _failedOpen);
        Log.FailedOpen(_logger, reservation.Id, reservation.AmountUsd, counters[0].Key);
        var local = await _local.TryReserveAsync(counters, reservation, CancellationToken.None).ConfigureAwait(false);
        if (local.Succeeded)
        {
            _heldLocally[reservation.Id] = 0;
        }

        return local;
    }

    private BudgetStoreUnavailableException Unavailable(Exception ex, string consequence) => new(
        string.Create(CultureInfo.InvariantCulture, $"The Redis budget store (key prefix '{_options.KeyPrefix}') could not be reached within {_options.OperationTimeout}: {consequence}. {ex.GetType().Name}: {ex.Message}"),
        ex);

    private void MarkUnreachable(Exception ex)
    {
        if (Interlocked.Exchange(ref _unreachable, 1) == 0)
        {
            Log.Unreachable(_logger, ex, _options.KeyPrefix, _options.WhenUnavailable == RedisUnavailableBehavior.FailOpen ? "let through, counted in this process (fail open)" : "refused (fail closed)");
        }
    }

    private void Reachable()
    {
        if (Volatile.Read(ref _unreachable) == 1 && Interlocked.Exchange(ref _unreachable, 0) == 1)
        {
            Log.Reachable(_logger, _options.KeyPrefix, FailedOpen, RefusedUnavailable);
        }
    }
}
