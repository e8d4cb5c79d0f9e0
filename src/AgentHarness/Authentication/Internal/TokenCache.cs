using Microsoft.Extensions.Logging;

namespace AgentHarness.Authentication.Internal;

/// <summary>
/// One provider's access token: fetched from its <see cref="ProviderTokenSource"/>, kept until shortly before it expires,
/// and replaced in the background while it is still good, so that calls never wait for a refresh. At most one fetch runs
/// at a time, however many calls want a token: they all wait for that one.
/// </summary>
/// <remarks>
/// <para>
/// A token is asked for again at its <see cref="ProviderToken.RefreshOn"/>, else <see cref="RefreshAhead"/> before it
/// expires (never before half its remaining life, so a short-lived token is not fetched on every call). It is sent until
/// <see cref="ExpiryMargin"/> before it expires: a token that close to its end could expire on the way. Only a call that
/// finds no token it may send waits for a fetch.
/// </para>
/// <para>
/// A failed background refresh keeps the current token (it is still good) and is tried again after
/// <see cref="RetryDelay"/>; a failed fetch that calls wait for fails those calls with a
/// <see cref="ProviderCredentialException"/> naming the provider, and the next call tries again. The token itself is
/// never logged, and never part of an exception message.
/// </para>
/// </remarks>
internal sealed partial class TokenCache
{
    internal static readonly TimeSpan RefreshAhead = TimeSpan.FromMinutes(5);
    internal static readonly TimeSpan ExpiryMargin = TimeSpan.FromSeconds(30);
    internal static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(30);

    /// <summary>How long one fetch may take: a source that hangs must not hold every call to the provider for ever.</summary>
    internal static readonly TimeSpan FetchTimeout = TimeSpan.FromMinutes(1);

    private readonly string _provider;
    private readonly string? _scope;
    private readonly ProviderTokenSource _source;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private Current? _current;
    private TaskCompletionSource<Current>? _fetching;
    private long _noRefreshBeforeTicks;

    public TokenCache(string provider, string? scope, ProviderTokenSource source, TimeProvider time, ILogger logger)
    {
        _provider = provider;
        _scope = scope;
        _source = source;
        _time = time;
        _logger = logger;
    }

    /// <summary>
    /// Gets the <c>Authorization</c> value of a token that may be sent now, or <see langword="null"/> when there is none
    /// (then <see cref="GetAsync"/> waits for one). Past the token's refresh time a background refresh starts.
    /// </summary>
    public string? Ready()
    {
        var current = Volatile.Read(ref _current);
        if (current is null)
        {
            return null;
        }

        var now = _time.GetUtcNow();
        if (now >= current.UsableUntil)
        {
            return null;
        }

        if (now >= current.RefreshAt && now.UtcTicks >= Volatile.Read(ref _noRefreshBeforeTicks))
        {
            _ = Fetch(background: true);
        }

        return current.Authorization;
    }

    /// <summary>Gets the <c>Authorization</c> value of a token that may be sent, waiting for a fetch when there is none.</summary>
    /// <exception cref="ProviderCredentialException">The source failed, or returned a token that has expired.</exception>
    public ValueTask<string> GetAsync(CancellationToken cancellationToken) =>
        Ready() is { } ready ? new(ready) : WaitAsync(cancellationToken);

    /// <summary>Gets the fetch that is running, or a completed task: for tests, which wait for a background refresh to end.</summary>
    internal Task Fetching
    {
        get
        {
            lock (_gate)
            {
                return _fetching?.Task is { } running ? running.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default) : Task.CompletedTask;
            }
        }
    }

    /// <summary>Starts a fetch unless one is running or a token is ready; the warm-up calls it at start.</summary>
    public void Prefetch()
    {
        if (Ready() is null)
        {
            _ = Fetch(background: true);
        }
    }

    private async ValueTask<string> WaitAsync(CancellationToken cancellationToken) =>
        (await Fetch(background: false).WaitAsync(cancellationToken).ConfigureAwait(false)).Authorization;

    /// <summary>Joins the fetch that is running, or starts one, on a pool thread: the caller's thread never runs the source.</summary>
    private Task<Current> Fetch(bool background)
    {
        TaskCompletionSource<Current> fetching;
        lock (_gate)
        {
            if (_fetching is { } running)
            {
                return running.Task;
            }

            if (background && _time.GetUtcNow().UtcTicks < _noRefreshBeforeTicks)
            {
                // A refresh failed a moment ago; the current token is still good, so the source is not asked again yet.
                return _current is { } current ? Task.FromResult(current) : Task.FromException<Current>(new ProviderCredentialException(_provider, Message("no token is available yet"), null));
            }

            fetching = _fetching = new TaskCompletionSource<Current>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        _ = Task.Run(() => RunAsync(fetching, background));
        return fetching.Task;
    }

    private async Task RunAsync(TaskCompletionSource<Current> fetching, bool background)
    {
        Current? result = null;
        Exception? failure = null;
        try
        {
            using var timeout = new CancellationTokenSource(FetchTimeout, _time);
            var token = await _source.GetTokenAsync(_provider, _scope, timeout.Token).ConfigureAwait(false);
            var now = _time.GetUtcNow();
            if (token is null)
            {
                failure = new ProviderCredentialException(_provider, Message("the token source returned no token"), null);
            }
            else if (token.ExpiresOn - ExpiryMargin <= now)
            {
                failure = new ProviderCredentialException(_provider, Message($"the token source returned a token that expires at {token.ExpiresOn:O}, which is not in the future"), null);
            }
            else
            {
                result = Current.From(token, now);
            }
        }
        catch (OperationCanceledException ex)
        {
            failure = new ProviderCredentialException(_provider, Message($"the token source did not answer within {FetchTimeout}"), ex);
        }
#pragma warning disable CA1031 // Whatever the source throws is the provider's credential failure, told to every waiting call.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failure = new ProviderCredentialException(_provider, Message($"{ex.GetType().Name}: {ex.Message}"), ex);
        }

        lock (_gate)
        {
            if (result is not null)
            {
                // Set before the fetch is over: a call that finds no fetch running finds the new token.
                Volatile.Write(ref _current, result);
            }
            else
            {
                Volatile.Write(ref _noRefreshBeforeTicks, (_time.GetUtcNow() + RetryDelay).UtcTicks);
            }

            _fetching = null;
        }

        if (result is not null)
        {
            LogTokenFetched(_logger, _provider, result.ExpiresOn);
            fetching.SetResult(result);
        }
        else
        {
            LogTokenFailed(_logger, background && Volatile.Read(ref _current) is not null ? LogLevel.Warning : LogLevel.Error, _provider, failure!.Message);
            fetching.SetException(failure!);

            // A background refresh nobody waits for must not be an unobserved exception.
            _ = fetching.Task.Exception;
        }
    }

    private string Message(string why) => $"No access token for provider '{_provider}': {why}. Nothing was sent to the provider.";

    [LoggerMessage(EventId = 60, Level = LogLevel.Debug, Message = "Access token for provider {Provider} fetched; it expires at {ExpiresOn}.")]
    private static partial void LogTokenFetched(ILogger logger, string provider, DateTimeOffset expiresOn);

    [LoggerMessage(EventId = 61, Message = "Access token for provider {Provider} could not be fetched: {Reason}")]
    private static partial void LogTokenFailed(ILogger logger, LogLevel level, string provider, string reason);

    /// <summary>A token as it is sent, with the times it is refreshed at and sent until.</summary>
    private sealed record Current(string Authorization, DateTimeOffset RefreshAt, DateTimeOffset UsableUntil, DateTimeOffset ExpiresOn)
    {
        public static Current From(ProviderToken token, DateTimeOffset now)
        {
            var usableUntil = token.ExpiresOn - ExpiryMargin;
            var refreshAt = token.RefreshOn ?? token.ExpiresOn - RefreshAhead;
            var halfway = now + ((usableUntil - now) / 2);
            return new Current("Bearer " + token.Value, refreshAt < halfway ? halfway : refreshAt, usableUntil, token.ExpiresOn);
        }

        // A record prints its members: this one must not print the token.
        public override string ToString() => $"token expiring at {ExpiresOn:O}";
    }
}
