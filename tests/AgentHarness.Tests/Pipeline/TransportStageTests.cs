using System.Diagnostics.Tracing;
using System.Net;
using AgentHarness.Tests.Support;
using OpenAI.Chat;

namespace AgentHarness.Tests.Pipeline;

/// <summary>
/// The transport stage's way down the chain: the official client's own request goes straight to the harness's own
/// handlers, and a request the harness built goes through the invoker, which reports it to System.Net.Http's
/// telemetry as the client's HttpClient reports the first.
/// </summary>
public sealed class TransportStageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SendAsync_AttemptsTheHarnessBuilt_EachReportedToHttpTelemetryOnce()
    {
        // Hosts of this test's own, so that the process-wide event source's other requests do not count.
        var mock = new RecordingMock();
        mock.Respond("https://first.transport-stage.test/v1/chat/completions", _ => Responses.Error(HttpStatusCode.ServiceUnavailable));
        mock.Respond("https://second.transport-stage.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1-mini")));
        using var host = TestHarness.Create(mock.Handler, static b => b
            .AddProvider("first", static p =>
            {
                p.BaseUrl = new Uri("https://first.transport-stage.test/v1");
                p.ApiKey = "key-first";
            })
            .AddProvider("second", static p =>
            {
                p.BaseUrl = new Uri("https://second.transport-stage.test/v1");
                p.ApiKey = "key-second";
            })
            .Configure(static o =>
            {
                var policy = new PolicyOptions { RetryBaseDelay = TimeSpan.Zero, AttemptsPerModel = 1 };
                policy.Models.Add(new PolicyMemberOptions { Model = "first/gpt-4.1" });
                policy.Models.Add(new PolicyMemberOptions { Model = "second/gpt-4.1-mini" });
                o.Policies["chain"] = policy;
            }));
        using var listener = new RequestStarts();

        await host.Harness.GetChatClient("policy/chain").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);

        Assert.Equal(2, mock.Requests.Count);
        // A policy's attempts name their members' models, so each is a request the harness built (the official client's
        // own was reported by its HttpClient under the harness's address): each is reported once, at its provider's.
        Assert.Equal(
            ["first.transport-stage.test", "second.transport-stage.test"],
            listener.Hosts.Where(static h => h.EndsWith(".transport-stage.test", StringComparison.Ordinal)));
    }

    /// <summary>The hosts of System.Net.Http's RequestStart events, as they are written.</summary>
    private sealed class RequestStarts : EventListener
    {
        private readonly List<string> _hosts = [];

        public IReadOnlyList<string> Hosts
        {
            get
            {
                lock (_hosts)
                {
                    return [.. _hosts];
                }
            }
        }

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "System.Net.Http")
            {
                EnableEvents(eventSource, EventLevel.Informational);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (eventData.EventName == "RequestStart" && eventData.PayloadNames?.IndexOf("host") is >= 0 and var index)
            {
                lock (_hosts)
                {
                    _hosts.Add((string)eventData.Payload![index]!);
                }
            }
        }
    }
}
