using System.Net;
using System.Text;
using System.Text.Json;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace AgentHarness.Tests.Routing;

public sealed class AttemptTargetTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task OptionsKey_PolicyAttempts_EachCarriesTheRequestedIdAndItsCandidate()
    {
        var transport = new TargetRecorder(failHost: "mistral.test");
        using var host = TestHarness.Create(transport, static b =>
        {
            TestHarness.ThreeProviders(b);
            b.Configure(static o =>
            {
                var policy = new PolicyOptions { AttemptsPerModel = 1, RetryBaseDelay = TimeSpan.Zero };
                policy.Models.Add(new PolicyMemberOptions { Model = "mistral/small" });
                policy.Models.Add(new PolicyMemberOptions { Model = "anthropic/claude-sonnet-4-5" });
                o.Policies["claude-4"] = policy;
            });
        });

        await host.Harness.GetChatClient("policy/claude-4").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal(
            [
                ("mistral", "policy/claude-4", "small", "mistral/small"),
                ("requesty", "policy/claude-4", "anthropic/claude-sonnet-4-5", "requesty/anthropic/claude-sonnet-4-5"),
            ],
            transport.Targets.Select(static t => (t!.Provider, t.RequestedModel, t.Model, t.CandidateId)));
    }

    [Fact]
    public async Task OptionsKey_ModelList_CarriesTheProviderAndNoModel()
    {
        var transport = new TargetRecorder();
        using var host = TestHarness.Create(transport, static b => TestHarness.ThreeProviders(b), s =>
            s.AddHttpClient("AgentHarness.Management").ConfigurePrimaryHttpMessageHandler(() => transport));

        await host.Services.GetRequiredService<IModelDiscovery>().ListModelsAsync("openai", Ct);

        var target = Assert.Single(transport.Targets);
        Assert.Equal(("openai", null, null, null), (target!.Provider, target.RequestedModel, target.Model, target.CandidateId));
        Assert.Equal("(no model) via openai", target.ToString());
    }

    [Fact]
    public void ToString_Attempt_NamesTheRequestedIdAndTheCandidate()
    {
        var target = new AttemptTarget("anthropic", "policy/claude-4", "claude-sonnet-4-5");

        Assert.Equal("policy/claude-4 via anthropic/claude-sonnet-4-5", target.ToString());
    }

    /// <summary>Records the target of each request; answers 500 for <c>failHost</c>, a chat answer or a model list otherwise.</summary>
    private sealed class TargetRecorder(string? failHost = null) : HttpMessageHandler
    {
        private readonly List<AttemptTarget?> _targets = [];

        public IReadOnlyList<AttemptTarget?> Targets
        {
            get
            {
                lock (_targets)
                {
                    return [.. _targets];
                }
            }
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (_targets)
            {
                _targets.Add(request.Options.TryGetValue(AttemptTarget.OptionsKey, out var target) ? target : null);
            }

            if (request.RequestUri!.Host == failHost)
            {
                return Responses.Error(HttpStatusCode.InternalServerError);
            }

            if (request.Method == HttpMethod.Get)
            {
                return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("""{"object":"list","data":[]}""", Encoding.UTF8, "application/json") };
            }

            var body = await request.Content!.ReadAsStringAsync(cancellationToken);
            return Responses.Json(Responses.ChatJson(JsonDocument.Parse(body).RootElement.GetProperty("model").GetString()!));
        }
    }
}
