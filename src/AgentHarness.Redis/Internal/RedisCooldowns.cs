using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AgentHarness.Redis.Internal;

/// <summary>
/// Cooldowns shared by every replica on one Redis (<see cref="RedisBudgetStoreOptions.SharedCooldowns"/>):
/// a cooldown is a key <c>{prefix}:cd:&lt;candidate&gt;</c> that expires with its period, announced on the
/// channel <c>{prefix}:cooldowns</c>; the probe is a key <c>{prefix}:probe:&lt;candidate&gt;</c> taken with
/// <c>SET NX</c> and a lease. Each replica keeps what it heard in memory, which is all a call consults.
/// </summary>
internal sealed partial class RedisCooldowns : ISharedCooldowns, IDisposable
{
    private const string ReleaseScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

    // A cooldown opened by this replica's probe (it failed) ends that probe too, in the same step: its key would
    // otherwise hold every replica's next probe back for the whole probe lease, not for one period.
    private const string OpenScript = """
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
        return 1
        """;

    // The probe is decided inside a call, under the candidate's lock: Redis gets a brief moment to answer, not the
    // operation timeout (which may be longer than the call's own total timeout), and past it this replica probes alone.
    private static readonly TimeSpan MaxProbeWait = TimeSpan.FromMilliseconds(500);

    private readonly RedisConnection _connection;
    private readonly TimeProvider _time;
    private readonly TimeSpan _operationTimeout;
    private readonly TimeSpan _probeWait;
    private readonly TimeSpan _probeLease;
    private readonly ILogger _logger;
    private readonly string _keyStart;
    private readonly RedisChannel _channel;
    private readonly string _self = Guid.NewGuid().ToString("N");

    // Candidate → the timestamp (of the TimeProvider) its cooldown elsewhere ends at.
    private readonly ConcurrentDictionary<string, long> _elsewhere = new(StringComparer.Ordinal);

    // This replica's own handlers: the multiplexer may be the application's, shared with other harnesses.
    private readonly Action<RedisChannel, RedisValue> _onMessage;
    private readonly EventHandler<ConnectionFailedEventArgs> _onRestored;
    private int _started;

    public RedisCooldowns(RedisConnection connection, string keyPrefix, TimeProvider timeProvider, TimeSpan operationTimeout, TimeSpan probeLease, ILogger logger)
    {
        _connection = connection;
        _time = timeProvider;
        _operationTimeout = operationTimeout;
        _probeWait = operationTimeout < MaxProbeWait ? operationTimeout : MaxProbeWait;
        _probeLease = probeLease;
        _logger = logger;
        _keyStart = "{" + keyPrefix + "}:";
        _channel = RedisChannel.Literal(_keyStart + "cooldowns");
        _onMessage = (_, message) => Heard(message);
        _onRestored = (_, _) => _ = ResyncAsync();
        _ = StartAsync();
    }

    /// <summary>Completes once the replica listens and has read the cooldowns already running.</summary>
    internal Task Started { get; private set; } = Task.CompletedTask;

    public TimeSpan? CoolingDownElsewhere(string key)
    {
        if (_elsewhere.IsEmpty || !_elsewhere.TryGetValue(key, out var until))
        {
            return null;
        }

        var left = _time.GetElapsedTime(_time.GetTimestamp(), until);
        if (left > TimeSpan.Zero)
        {
            return left;
        }

        // The period is over: a probe's verdict (a closing or a new cooldown) is awaited, as long as a probe may take.
        if (-left < _probeLease)
        {
            return TimeSpan.Zero;
        }

        _elsewhere.TryRemove(new KeyValuePair<string, long>(key, until));
        return null;
    }

    public void Opened(string key, TimeSpan period) => _ = RunAsync(OpenedAsync, key, period);

    public void Closed(string key)
    {
        _elsewhere.TryRemove(key, out _);
        _ = RunAsync(ClosedAsync, key, TimeSpan.Zero);
    }

    public bool TryTakeProbe(string key)
    {
        try
        {
            // A connection still being made, or lost, cannot answer in time: not waited for.
            if (_connection.Multiplexer.IsCompletedSuccessfully && _connection.Multiplexer.Result is { IsConnected: true } multiplexer)
            {
                var taken = multiplexer.GetDatabase().StringSetAsync(_keyStart + "probe:" + key, _self, _probeLease, When.NotExists);
                if (taken.Wait(_probeWait))
                {
                    return taken.Result;
                }
            }
        }
        catch (Exception ex) when (ex is AggregateException or RedisException or ObjectDisposedException)
        {
            LogProbeAlone(_logger, ex.InnerException ?? ex, key);
        }

        // Redis cannot say: this replica decides alone, as it would without shared cooldowns.
        return true;
    }

    public void ReleaseProbe(string key) => _ = RunAsync(ReleaseProbeAsync, key, TimeSpan.Zero);

    public void Dispose()
    {
        if (_connection.Multiplexer.IsCompletedSuccessfully)
        {
            // Only this replica's handler: another harness on the same multiplexer and prefix keeps listening.
            var multiplexer = _connection.Multiplexer.Result;
            multiplexer.ConnectionRestored -= _onRestored;
            multiplexer.GetSubscriber().Unsubscribe(_channel, _onMessage, CommandFlags.FireAndForget);
        }
    }

    private async Task StartAsync()
    {
        if (Interlocked.Exchange(ref _started, 1) == 1)
        {
            return;
        }

        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Started = started.Task;
        try
        {
            var multiplexer = await _connection.Multiplexer.ConfigureAwait(false);
            await multiplexer.GetSubscriber().SubscribeAsync(_channel, _onMessage).ConfigureAwait(false);
            multiplexer.ConnectionRestored += _onRestored;
            await ResyncAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Without Redis each replica keeps its own cooldowns; the connection retries.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogUnavailable(_logger, ex);
        }
        finally
        {
            started.TrySetResult();
        }
    }

    /// <summary>Reads the cooldowns running now: at start, and after a reconnect missed announcements.</summary>
    private async Task ResyncAsync()
    {
        try
        {
            var multiplexer = await _connection.Multiplexer.ConfigureAwait(false);
            var database = multiplexer.GetDatabase();
            foreach (var endpoint in multiplexer.GetEndPoints())
            {
                var server = multiplexer.GetServer(endpoint);
                if (server.IsReplica || !server.IsConnected)
                {
                    continue;
                }

                await foreach (var cooling in server.KeysAsync(pattern: Pattern(_keyStart + "cd:") + "*").ConfigureAwait(false))
                {
                    var left = await database.KeyTimeToLiveAsync(cooling).ConfigureAwait(false);
                    if (left is { } remaining && remaining > TimeSpan.Zero && await database.StringGetAsync(cooling).ConfigureAwait(false) != _self)
                    {
                        Remember(cooling.ToString()[(_keyStart.Length + 3)..], remaining);
                    }
                }
            }
        }
#pragma warning disable CA1031 // See StartAsync.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogUnavailable(_logger, ex);
        }
    }

    /// <summary>Text matched literally by a Redis key pattern: a prefix may hold <c>*</c>, <c>?</c>, <c>[</c> or <c>\</c>, which would match other prefixes' keys.</summary>
    private static string Pattern(string literal)
    {
        var escaped = new System.Text.StringBuilder(literal.Length + 8);
        foreach (var c in literal)
        {
            if (c is '*' or '?' or '[' or ']' or '\\')
            {
                escaped.Append('\\');
            }

            escaped.Append(c);
        }

        return escaped.ToString();
    }

    private void Heard(RedisValue message)
    {
        // "o <replica> <period ms> <candidate>" when a replica opened a cooldown, "c <replica> <candidate>" when
        // its probe closed it; a replica's own announcements come back to it and are not news.
        var parts = message.ToString().Split(' ', 4);
        if (parts.Length < 3 || parts[1] == _self)
        {
            return;
        }

        if (parts[0] == "o" && parts.Length == 4 && long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
        {
            Remember(parts[3], TimeSpan.FromMilliseconds(ms));
        }
        else if (parts[0] == "c")
        {
            _elsewhere.TryRemove(string.Join(' ', parts[2..]), out _);
        }
    }

    private void Remember(string key, TimeSpan remaining) =>
        _elsewhere[key] = _time.GetTimestamp() + (long)(remaining.TotalSeconds * _time.TimestampFrequency);

    private async Task OpenedAsync(IDatabase database, string key, TimeSpan period)
    {
        var milliseconds = Math.Max(1, (long)Math.Ceiling(period.TotalMilliseconds));
        await database.ScriptEvaluateAsync(OpenScript, [_keyStart + "cd:" + key, _keyStart + "probe:" + key], [_self, milliseconds]).ConfigureAwait(false);
        await database.PublishAsync(_channel, string.Create(CultureInfo.InvariantCulture, $"o {_self} {milliseconds} {key}")).ConfigureAwait(false);
    }

    private async Task ClosedAsync(IDatabase database, string key, TimeSpan period)
    {
        await database.KeyDeleteAsync(_keyStart + "cd:" + key).ConfigureAwait(false);
        await database.ScriptEvaluateAsync(ReleaseScript, [_keyStart + "probe:" + key], [_self]).ConfigureAwait(false);
        await database.PublishAsync(_channel, $"c {_self} {key}").ConfigureAwait(false);
    }

    private Task ReleaseProbeAsync(IDatabase database, string key, TimeSpan period) =>
        database.ScriptEvaluateAsync(ReleaseScript, [_keyStart + "probe:" + key], [_self]);

    private async Task RunAsync(Func<IDatabase, string, TimeSpan, Task> operation, string key, TimeSpan period)
    {
        try
        {
            var multiplexer = await _connection.Multiplexer.WaitAsync(_operationTimeout, _time).ConfigureAwait(false);
            await operation(multiplexer.GetDatabase(), key, period).WaitAsync(_operationTimeout, _time).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Telling the others is best effort: without Redis each replica decides alone.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogUnavailable(_logger, ex);
        }
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "Shared cooldowns: Redis cannot be reached; each replica keeps its own cooldowns until it answers.")]
    private static partial void LogUnavailable(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "Shared cooldowns: Redis did not answer whether another replica probes {Candidate}; this replica probes it on its own.")]
    private static partial void LogProbeAlone(ILogger logger, Exception exception, string candidate);
}
