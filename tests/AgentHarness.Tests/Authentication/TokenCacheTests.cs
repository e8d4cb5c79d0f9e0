using AgentHarness.Authentication.Internal;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace AgentHarness.Tests.Authentication;

public sealed class TokenCacheTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static (TokenCache Cache, FakeTokenSource Source, FakeTimeProvider Time) Create(string? scope = null)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 5, 1, 9, 0, 0, TimeSpan.Zero));
        var source = new FakeTokenSource(time);
        return (new TokenCache("azure", scope, source, time, NullLogger.Instance), source, time);
    }

    [Fact]
    public async Task GetAsync_32ConcurrentCallsWithoutToken_OneFetchServesThemAll()
    {
        var (cache, source, _) = Create();
        source.AnswerAtOnce = false;

        var calls = Enumerable.Range(0, 32).Select(_ => cache.GetAsync(Ct).AsTask()).ToArray();
        await source.WaitForFetchAsync(Ct);
        source.Release(32);
        var tokens = await Task.WhenAll(calls);

        Assert.Equal(1, source.Fetches);
        Assert.All(tokens, t => Assert.Equal("Bearer token-1", t));
    }

    [Fact]
    public async Task Ready_32ConcurrentCallsNearExpiry_CurrentTokenServedAndOneBackgroundRefresh()
    {
        var (cache, source, time) = Create();
        Assert.Equal("Bearer token-1", await cache.GetAsync(Ct));

        // Four minutes before expiry: past the refresh time (five minutes before), still good to send.
        time.Advance(TimeSpan.FromMinutes(56));
        source.AnswerAtOnce = false;
        var tokens = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(() => cache.GetAsync(Ct).AsTask(), Ct)));
        await source.WaitForFetchAsync(Ct);

        Assert.All(tokens, t => Assert.Equal("Bearer token-1", t));
        source.Release(32);
        await cache.Fetching;
        Assert.Equal(2, source.Fetches);
        Assert.Equal("Bearer token-2", cache.Ready());
    }

    [Fact]
    public async Task GetAsync_TokenTooCloseToExpiry_WaitsForANewOne()
    {
        var (cache, source, time) = Create();
        await cache.GetAsync(Ct);

        time.Advance(TimeSpan.FromMinutes(59) + TimeSpan.FromSeconds(45));

        Assert.Null(cache.Ready());
        Assert.Equal("Bearer token-2", await cache.GetAsync(Ct));
    }

    [Fact]
    public async Task GetAsync_ShortLivedToken_RefreshedAtHalfItsLifeNotOnEveryCall()
    {
        var (cache, source, time) = Create();
        source.Lifetime = TimeSpan.FromMinutes(4);
        await cache.GetAsync(Ct);

        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal("Bearer token-1", cache.Ready());
        Assert.Equal(1, source.Fetches);
    }

    [Fact]
    public async Task GetAsync_SourceThrows_ProviderCredentialExceptionNamingTheProvider()
    {
        var (cache, source, _) = Create();
        source.Failure = new InvalidOperationException("managed identity endpoint unreachable");

        var ex = await Assert.ThrowsAsync<ProviderCredentialException>(() => cache.GetAsync(Ct).AsTask());

        Assert.Equal("azure", ex.Provider);
        Assert.Contains("provider 'azure'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("managed identity endpoint unreachable", ex.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(ex.InnerException);
    }

    [Fact]
    public async Task GetAsync_SourceReturnsExpiredToken_ProviderCredentialException()
    {
        var (cache, source, _) = Create();
        source.Lifetime = TimeSpan.FromSeconds(10);

        var ex = await Assert.ThrowsAsync<ProviderCredentialException>(() => cache.GetAsync(Ct).AsTask());

        Assert.Contains("not in the future", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ready_BackgroundRefreshFails_KeepsCurrentTokenAndWaitsBeforeAskingAgain()
    {
        var (cache, source, time) = Create();
        await cache.GetAsync(Ct);
        time.Advance(TimeSpan.FromMinutes(56));
        source.Failure = new InvalidOperationException("down");

        Assert.Equal("Bearer token-1", cache.Ready());
        await cache.Fetching;
        Assert.Equal("Bearer token-1", cache.Ready());
        await cache.Fetching;

        Assert.Equal(2, source.Fetches);
    }

    [Fact]
    public async Task GetAsync_Scope_PassedToTheSource()
    {
        var (cache, source, _) = Create(scope: "api://custom/.default");

        await cache.GetAsync(Ct);

        Assert.Equal(("azure", "api://custom/.default"), Assert.Single(source.Requests));
    }

    [Fact]
    public void ToString_ProviderToken_DoesNotShowTheToken()
    {
        var token = new ProviderToken("secret-token-value", DateTimeOffset.UnixEpoch);

        Assert.DoesNotContain("secret-token-value", token.ToString(), StringComparison.Ordinal);
    }
}
