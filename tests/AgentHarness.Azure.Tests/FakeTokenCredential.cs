using Azure.Core;

namespace AgentHarness.Azure.Tests;

/// <summary>
/// A TokenCredential whose answers a test decides: <c>entra-token-N</c>, valid for <see cref="Lifetime"/> from the fake
/// clock's now; while <see cref="Hold"/> is set each request waits for <see cref="Release"/>.
/// </summary>
internal sealed class FakeTokenCredential(TimeProvider time) : TokenCredential
{
    private readonly SemaphoreSlim _released = new(0);
    private readonly SemaphoreSlim _started = new(0);
    private int _requests;

    public TimeSpan Lifetime { get; set; } = TimeSpan.FromHours(1);

    public bool Hold { get; set; }

    public Exception? Failure { get; set; }

    public int Requests => Volatile.Read(ref _requests);

    public List<string[]> Scopes { get; } = [];

    /// <summary>Lets waiting fetches answer; a test releases more than it expects, so that a second fetch fails the test instead of hanging it.</summary>
    public void Release(int count = 1) => _released.Release(count);

    public Task WaitForRequestAsync(CancellationToken cancellationToken) => _started.WaitAsync(cancellationToken);

    public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        GetTokenAsync(requestContext, cancellationToken).AsTask().GetAwaiter().GetResult();

    public override async ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken)
    {
        var number = Interlocked.Increment(ref _requests);
        lock (Scopes)
        {
            Scopes.Add(requestContext.Scopes);
        }

        _started.Release();
        if (Hold)
        {
            await _released.WaitAsync(cancellationToken);
        }

        if (Failure is { } failure)
        {
            throw failure;
        }

        return new AccessToken($"entra-token-{number}", time.GetUtcNow() + Lifetime);
    }
}
