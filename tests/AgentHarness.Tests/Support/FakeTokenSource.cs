namespace AgentHarness.Tests.Support;

/// <summary>
/// A token source whose answers a test decides: each fetch waits for <see cref="Release"/> (or answers at once when
/// <see cref="AnswerAtOnce"/> is set), and issues <c>token-N</c> valid for <see cref="Lifetime"/> from the fake clock's now.
/// </summary>
internal sealed class FakeTokenSource(TimeProvider time) : ProviderTokenSource
{
    private readonly SemaphoreSlim _released = new(0);
    private readonly SemaphoreSlim _started = new(0);
    private int _fetches;

    public TimeSpan Lifetime { get; set; } = TimeSpan.FromHours(1);

    public bool AnswerAtOnce { get; set; } = true;

    /// <summary>Gets or sets what the next fetches throw, instead of issuing a token.</summary>
    public Exception? Failure { get; set; }

    public int Fetches => Volatile.Read(ref _fetches);

    public List<(string Provider, string? Scope)> Requests { get; } = [];

    /// <summary>Lets waiting fetches answer; a test releases more than it expects, so that a second fetch fails the test instead of hanging it.</summary>
    public void Release(int count = 1) => _released.Release(count);

    /// <summary>Waits until a fetch has started.</summary>
    public Task WaitForFetchAsync(CancellationToken cancellationToken) => _started.WaitAsync(cancellationToken);

    public override async ValueTask<ProviderToken> GetTokenAsync(string provider, string? scope, CancellationToken cancellationToken)
    {
        var number = Interlocked.Increment(ref _fetches);
        lock (Requests)
        {
            Requests.Add((provider, scope));
        }

        _started.Release();
        if (!AnswerAtOnce)
        {
            await _released.WaitAsync(cancellationToken);
        }

        if (Failure is { } failure)
        {
            throw failure;
        }

        return new ProviderToken($"token-{number}", time.GetUtcNow() + Lifetime);
    }
}
