using AgentHarness.AI.Internal;

namespace AgentHarness.Tests.AI;

public sealed class ModelOverridesTests
{
    private static readonly object Registered = new();

    [Fact]
    public void For_NoIdOrTheNameTheClientSends_TheRegisteredCallWithNothingBuilt()
    {
        var built = 0;
        var overrides = new ModelOverrides<object>("openai/gpt-4.1-nano", "gpt-4.1-nano", Registered, _ => ++built);

        Assert.Null(overrides.For(null));
        Assert.Null(overrides.For("gpt-4.1-nano"));
        Assert.Same(Registered, overrides.For("openai/gpt-4.1-nano"));
        Assert.Equal(0, built);
        Assert.Equal(0, overrides.CachedClientCount);
    }

    [Fact]
    public void For_AnotherId_BuiltOnceAndCached()
    {
        var built = new List<string>();
        var overrides = new ModelOverrides<object>("openai/gpt-4.1-nano", "gpt-4.1-nano", Registered, id =>
        {
            built.Add(id);
            return new object();
        });

        var first = overrides.For("openai/gpt-4.1");

        Assert.Same(first, overrides.For("openai/gpt-4.1"));
        Assert.NotSame(Registered, first);
        Assert.Equal(["openai/gpt-4.1"], built);
    }

    [Fact]
    public void For_TenThousandDistinctIds_CachesAtMostTheBound()
    {
        var overrides = new ModelOverrides<object>("policy/review", "policy/review", Registered, static _ => new object());

        for (var i = 0; i < 10_000; i++)
        {
            Assert.NotNull(overrides.For($"acme/model-{i}"));
        }

        Assert.Equal(ModelOverrides<object>.MaxCachedClients, overrides.CachedClientCount);

        // An id beyond the bound is served all the same, by an adapter of its own per call.
        Assert.NotSame(overrides.For("acme/model-9999"), overrides.For("acme/model-9999"));
        Assert.Same(overrides.For("acme/model-0"), overrides.For("acme/model-0"));
    }

    [Fact]
    public void For_AnIdTheHarnessCannotRoute_ThrowsWhatTheHarnessThrowsAndCachesNothing()
    {
        var overrides = new ModelOverrides<object>("policy/review", "policy/review", Registered, static id => throw new UnroutableModelException(id, "no provider"));

        Assert.Throws<UnroutableModelException>(() => overrides.For("nowhere/model"));
        Assert.Equal(0, overrides.CachedClientCount);
    }
}
