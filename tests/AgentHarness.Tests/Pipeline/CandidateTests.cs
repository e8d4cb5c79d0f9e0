using AgentHarness.Pipeline.Internal;

namespace AgentHarness.Tests.Pipeline;

public sealed class CandidateTests
{
    private static Candidate Create() =>
        new(new ProviderEndpoint("openai", new ProviderOptions { BaseUrl = new Uri("https://openai.test/v1"), ApiKey = "key" }), "gpt-4.1", null, null, 0);

    [Fact]
    public void TargetFor_SameRequestedModel_NamesTheCallAndCandidateEachTime()
    {
        var candidate = Create();

        var first = candidate.TargetFor("policy/review");
        var second = candidate.TargetFor("policy/review");

        Assert.Same(first, second);
        Assert.Equal(("openai", "policy/review", "gpt-4.1"), (second.Provider, second.RequestedModel, second.Model));
    }

    [Fact]
    public void TargetFor_AnotherRequestedModel_NamesThatModel()
    {
        var candidate = Create();
        candidate.TargetFor("policy/review");

        var other = candidate.TargetFor("openai/gpt-4.1");
        var none = candidate.TargetFor(string.Empty);

        Assert.Equal("openai/gpt-4.1", other.RequestedModel);
        Assert.Null(none.RequestedModel);
        Assert.Same(none, candidate.TargetFor(string.Empty));
        Assert.Equal("policy/review", candidate.TargetFor("policy/review").RequestedModel);
    }
}
