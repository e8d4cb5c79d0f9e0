using StackExchange.Redis;

namespace AgentHarness.Redis.Internal;

/// <summary>
/// The store's connection: its own, opened from the connection string without waiting for the server
/// (it reconnects on its own), or the application's <see cref="IConnectionMultiplexer"/>, which it
/// leaves open.
/// </summary>
internal sealed class RedisConnection : IAsyncDisposable, IDisposable
{
    private readonly Task<IConnectionMultiplexer> _multiplexer;
    private readonly bool _owned;

    private RedisConnection(Task<IConnectionMultiplexer> multiplexer, bool owned)
    {
        _multiplexer = multiplexer;
        _owned = owned;
    }

    /// <summary>Opens a connection of the store's own. A server that is down does not fail this; commands fail until it is up.</summary>
    public static RedisConnection Open(string connectionString)
    {
        var options = ConfigurationOptions.Parse(connectionString);

        // Started without the server, reconnected when it comes back: a budget store must not take the
        // application down with it, and a command while disconnected fails at once rather than queue
        // for a server that may be gone: the call's budget check cannot wait for it.
        options.AbortOnConnectFail = false;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        return new RedisConnection(ConnectionMultiplexer.ConnectAsync(options).ContinueWith(static t => (IConnectionMultiplexer)t.Result, TaskScheduler.Default), owned: true);
    }

    /// <summary>Uses the application's connection; its settings (timeouts, backlog) are its own.</summary>
    public static RedisConnection Shared(IConnectionMultiplexer multiplexer) => new(Task.FromResult(multiplexer), owned: false);

    /// <summary>Gets the connection once it exists; the first connect may take up to its connect timeout.</summary>
    public Task<IConnectionMultiplexer> Multiplexer => _multiplexer;

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        if (_owned && _multiplexer.IsCompletedSuccessfully)
        {
            await _multiplexer.Result.DisposeAsync().ConfigureAwait(false);
        }
        else if (_owned)
        {
            _ = _multiplexer.ContinueWith(static t => t.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        }
    }
}
