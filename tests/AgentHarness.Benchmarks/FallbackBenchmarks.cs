using System.ClientModel;
using System.Net;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace AgentHarness.Benchmarks;

/// <summary>
/// The harness's own cost of a fallback: a policy whose primary answers 503 and whose second member
/// answers, against a policy whose primary answers at once. Both run on one in-memory handler, so
/// the difference is the failed attempt's classification, the candidate switch and the extra request.
/// </summary>
[MemoryDiagnoser]
public class FallbackBenchmarks
{
    private static readonly byte[] Body = Encoding.UTF8.GetBytes(
        """{"id":"c","object":"chat.completion","created":1,"model":"gpt-4.1-mini","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":42,"completion_tokens":1,"total_tokens":43}}""");

    private static readonly byte[] Unavailable = Encoding.UTF8.GetBytes(
        """{"error":{"message":"The server is overloaded","type":"server_error","param":null,"code":"server_error"}}""");

    private ServiceProvider _services = null!;
    private ChatClient _direct = null!;
    private ChatClient _fallback = null!;

    [GlobalSetup]
    public void Setup()
    {
        var services = new ServiceCollection();
        services.AddAgentHarness()
            .AddProvider("primary", p => { p.BaseUrl = new Uri("https://primary.invalid/v1"); p.ApiKey = "key-primary"; })
            .AddProvider("secondary", p => { p.BaseUrl = new Uri("https://secondary.invalid/v1"); p.ApiKey = "key-secondary"; })
            .Configure(o =>
            {
                // The primary must be tried on every call: a cooldown would turn the fallback into a skip.
                o.FailuresBeforeCooldown = 1000;
                o.CooldownPeriod = TimeSpan.Zero;
                var healthy = new PolicyOptions { AttemptsPerModel = 1 };
                healthy.Models.Add(new PolicyMemberOptions { Model = "secondary/gpt-4.1-mini" });
                o.Policies["healthy"] = healthy;
                var failing = new PolicyOptions { AttemptsPerModel = 1 };
                failing.Models.Add(new PolicyMemberOptions { Model = "primary/gpt-4.1" });
                failing.Models.Add(new PolicyMemberOptions { Model = "secondary/gpt-4.1-mini" });
                o.Policies["failover"] = failing;
            })
            .ConfigureHttpClient(b => b.ConfigurePrimaryHttpMessageHandler(() => new PrimaryDownHandler()));
        _services = services.BuildServiceProvider();
        var harness = _services.GetRequiredService<IAgentHarness>();
        _direct = harness.GetChatClient("policy/healthy");
        _fallback = harness.GetChatClient("policy/failover");
    }

    /// <summary>Gets the client of the policy whose first member answers (after <see cref="Setup"/>).</summary>
    internal ChatClient Direct => _direct;

    /// <summary>Gets the client of the policy whose first member answers 503 (after <see cref="Setup"/>).</summary>
    internal ChatClient Fallback => _fallback;

    [GlobalCleanup]
    public void Cleanup()
    {
        var last = _services.GetRequiredService<IUsageLedger>().GetRecords()[^1];
        if (last.Attempts.Count != 2 || last.Attempts[0].StatusCode != 503 || last.Outcome != UsageOutcome.Succeeded)
        {
            throw new InvalidOperationException("The fallback benchmark did not fail over from a 503 to an answer.");
        }

        _services.Dispose();
    }

    [Benchmark(Baseline = true)]
    public Task<ClientResult<ChatCompletion>> PolicyFirstCandidateAnswers() => _direct.CompleteChatAsync(HarnessSetup.Messages);

    [Benchmark]
    public Task<ClientResult<ChatCompletion>> PolicyFallsBackAfter503() => _fallback.CompleteChatAsync(HarnessSetup.Messages);

    private sealed class PrimaryDownHandler : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var down = request.RequestUri!.Host == "primary.invalid";
            var content = new ByteArrayContent(down ? Unavailable : Body);
            content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
            return Task.FromResult(new HttpResponseMessage(down ? HttpStatusCode.ServiceUnavailable : HttpStatusCode.OK) { Content = content, RequestMessage = request });
        }
    }
}
