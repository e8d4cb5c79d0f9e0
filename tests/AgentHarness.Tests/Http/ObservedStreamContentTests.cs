using System.Net;
using System.Text;
using AgentHarness.Tests.Budget;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;
using Xunit;

namespace AgentHarness.Tests.Http;

/// <summary>A committed stream as the caller holds it: what happens when the caller stops reading it.</summary>
public sealed class ObservedStreamContentTests
{
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(20);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static TestHarness Create(HttpMessageHandler transport, Action<AgentHarnessOptions>? configure = null) =>
        TestHarness.Create(transport, b =>
        {
            TestHarness.ThreeProviders(b, maxRetries: 0);
            b.Configure(o =>
            {
                configure?.Invoke(o);
                o.Catalog.UnpricedModels = UnpricedModelHandling.Refuse;
                o.Catalog.Models["openai/m"] = new ModelPriceOptions { InputPerToken = 0.000001m, OutputPerToken = 0.000002m, MaxOutputTokens = 4000 };
                o.Budgets["per-customer"] = new BudgetRuleOptions { Dimension = "customer", Window = BudgetWindow.Day, LimitUsd = 1m };
                o.Budgets["global"] = new BudgetRuleOptions { Dimension = "global", Window = BudgetWindow.Day, LimitUsd = 1m };
                o.Policies["stream"] = new PolicyOptions { StreamIdleTimeout = IdleTimeout, Models = { new() { Model = "openai/m" } } };
            });
        });

    private static string Event(string text) =>
        $$"""data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"{{text}}"},"finish_reason":null}],"usage":null}""" + "\n\n";

    [Fact]
    public async Task Read_CallerStopsReadingWithoutDisposing_HarnessClosesItAfterTheIdleTimeoutAndSettlesWhatArrived()
    {
        var upstream = new List<TrackedStream>();
        var transport = new DelegateHandler((_, _) =>
        {
            var stream = new TrackedStream(new StallingStream([.. new[] { Event("Hello"), Event(" world"), "data: [DONE]\n\n" }.Select(Encoding.UTF8.GetBytes)]));
            lock (upstream)
            {
                upstream.Add(stream);
            }

            var content = new StreamContent(stream);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/event-stream");
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = content });
        });
        using var host = Create(transport);
        var guard = host.Services.GetRequiredService<IBudgetGuard>();
        using var run = host.Harness.BeginRun("agent", r =>
        {
            r.Customer = "acme";
            r.MaxCostUsd = 0.04m;
        });
        var client = host.Harness.GetChatClient("policy/stream");

        // Each stream reserves 4,000 output tokens ($0.008): five abandoned streams would hold the whole $0.04 cap.
        for (var i = 0; i < 5; i++)
        {
            var updates = client.CompleteChatStreamingAsync([new UserChatMessage($"call {i}")], cancellationToken: Ct).GetAsyncEnumerator(Ct);
            Assert.True(await updates.MoveNextAsync());

            // Read to its first event, then dropped: neither read to the end nor disposed.
            host.Time.Advance(IdleTimeout);
        }

        var records = host.Ledger.GetRecords();
        Assert.Equal(5, records.Count);
        Assert.All(records, static r =>
        {
            Assert.Equal(UsageOutcome.Incomplete, r.Outcome);
            Assert.Equal(CostBasis.Estimated, r.CostBasis);
            Assert.True(r.CostUsd > 0m);
            Assert.Contains("nobody read the stream", r.Error, StringComparison.Ordinal);
        });
        Assert.All(upstream, static s => Assert.True(s.Disposed));
        Assert.Equal(0m, run.ReservedUsd);
        Assert.Equal(records.Sum(static r => r.CostUsd), run.SpentUsd);
        Assert.Equal(0m, (await guard.GetStatusAsync("per-customer", "acme", Ct)).ReservedUsd);
        Assert.Equal(0m, (await guard.GetStatusAsync("global", cancellationToken: Ct)).ReservedUsd);

        // A call that fits what is really left is not refused by reservations nobody holds any more.
        var last = client.CompleteChatStreamingAsync([new UserChatMessage("last")], cancellationToken: Ct).GetAsyncEnumerator(Ct);
        Assert.True(await last.MoveNextAsync());
        await last.DisposeAsync();
    }

    [Fact]
    public async Task Read_CallerReadsAgainAfterTheHarnessClosedTheStream_ThrowsStreamInterrupted()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(StallingStream.Response([Event("Hello"), Event(" world"), "data: [DONE]\n\n"])));
        using var host = Create(transport);
        var updates = host.Harness.GetChatClient("policy/stream").CompleteChatStreamingAsync([new UserChatMessage("hi")], cancellationToken: Ct).GetAsyncEnumerator(Ct);
        Assert.True(await updates.MoveNextAsync());

        host.Time.Advance(IdleTimeout);

        var ex = await Assert.ThrowsAsync<StreamInterruptedException>(async () => await updates.MoveNextAsync());
        Assert.Contains("nobody read the stream", ex.Message, StringComparison.Ordinal);
        Assert.Single(host.Ledger.GetRecords());
    }

    [Fact]
    public async Task Read_CallerReadsWithinTheIdleTimeout_StreamIsNotClosed()
    {
        var transport = new DelegateHandler((_, _) => Task.FromResult(StallingStream.Response([Event("Hello"), Event(" world"), "data: [DONE]\n\n"], end: true)));
        using var host = Create(transport);
        var updates = host.Harness.GetChatClient("policy/stream").CompleteChatStreamingAsync([new UserChatMessage("hi")], cancellationToken: Ct).GetAsyncEnumerator(Ct);
        var text = new StringBuilder();
        while (true)
        {
            host.Time.Advance(IdleTimeout - TimeSpan.FromSeconds(1));
            if (!await updates.MoveNextAsync())
            {
                break;
            }

            foreach (var part in updates.Current.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        Assert.Equal("Hello world", text.ToString());
        Assert.Equal(UsageOutcome.Succeeded, Assert.Single(host.Ledger.GetRecords()).Outcome);
    }

    [Theory]
    [InlineData("data: {not json\n\n", "a malformed event")]
    [InlineData("data: {\"error\":{\"code\":\"server_error\"}}\n\n", "an error event")]
    public async Task Read_FailingEventAndEndMarkerInOneRead_ThrowsAndRecordsIncompleteAndUnhealthy(string failing, string reason)
    {
        // The end marker comes in the read that holds the failure: the caller is told the stream broke, and so is the record.
        var transport = new DelegateHandler((_, _) => Task.FromResult(StallingStream.Response([Event("hello "), failing + "data: [DONE]\n\n"], end: true)));
        using var host = Create(transport, o => o.FailuresBeforeCooldown = 1);
        var client = host.Harness.GetChatClient("policy/stream");
        var text = new StringBuilder();

        var ex = await Assert.ThrowsAsync<StreamInterruptedException>(async () =>
        {
            await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("hi")], cancellationToken: Ct))
            {
                text.Append(string.Concat(update.ContentUpdate.Select(static p => p.Text)));
            }
        });

        Assert.Equal((reason, "hello "), (ex.Reason, text.ToString()));
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Incomplete, reason), (record.Outcome, record.Error));

        // The cooldown counted the failure: the next call passes the only member over.
        await Record.ExceptionAsync(async () =>
        {
            await foreach (var _ in client.CompleteChatStreamingAsync([new UserChatMessage("again")], cancellationToken: Ct))
            {
            }
        });
        var next = host.Ledger.GetRecords()[^1];
        Assert.Equal(AttemptOutcome.Skipped, next.Attempts[0].Outcome);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Read_EventsAfterTheEndMarkerInItsRead_AreIgnoredAndTheStreamSucceeds(bool allInTheFirstRead)
    {
        // All in the first read (the peek's), or in the caller's read after the first output.
        const string AfterDone = "data: [DONE]\n\n" + "data: {\"choices\":[{\"delta\":{\"content\":\"late\"}}]}\n\n" + "data: {garbage\n\n";
        string[] chunks = allInTheFirstRead ? [Event("hello ") + AfterDone] : [Event("hello "), AfterDone];
        var transport = new DelegateHandler((_, _) => Task.FromResult(StallingStream.Response(chunks, end: true)));
        using var host = Create(transport);
        var text = new StringBuilder();

        await foreach (var update in host.Harness.GetChatClient("policy/stream").CompleteChatStreamingAsync([new UserChatMessage("hi")], cancellationToken: Ct))
        {
            text.Append(string.Concat(update.ContentUpdate.Select(static p => p.Text)));
        }

        // The official client stops at [DONE] too: the late chunk is no part of the answer.
        Assert.Equal("hello ", text.ToString());
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Succeeded, null), (record.Outcome, record.Error));
    }

    [Fact]
    public async Task Read_ResponsesStreamWithGarbageAfterItsTerminalEvent_ReaderGetsTheWholeBodyAndTheCallSucceeds()
    {
        // The Responses API has no [DONE]: its terminal event ends the answer, and a reader going on to the end of the
        // body (the official Responses client reads to it) is not failed by what follows.
        const string First = """data: {"type":"response.created","response":{"id":"r1","model":"m"}}""" + "\n\n"
            + """data: {"type":"response.output_text.delta","delta":"hello "}""" + "\n\n";
        const string Last = """data: {"type":"response.completed","response":{"id":"r1","model":"m","usage":{"input_tokens":5,"output_tokens":2}}}""" + "\n\n"
            + "data: {garbage\n\n";
        var transport = new DelegateHandler((_, _) => Task.FromResult(StallingStream.Response([First, Last], end: true)));
        using var host = Create(transport);

        var body = await ReadRawAsync(host, "/responses", """{"model":"policy/stream","stream":true,"input":"hi"}""");

        Assert.Equal(First + Last, body);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Succeeded, 5, 2), (record.Outcome, record.InputTokens, record.OutputTokens));
    }

    [Fact]
    public async Task Read_ReaderGoesOnPastTheEndMarkerAndTheProviderStalls_TheStreamEndsWholeAfterTheIdleTimeout()
    {
        var upstream = new TaskCompletionSource<StallingStream>(TaskCreationOptions.RunContinuationsAsynchronously);
        var transport = new DelegateHandler((_, _) =>
        {
            var response = StallingStream.Response([Event("hello "), "data: [DONE]\n\n"], end: false, out var stream);
            upstream.TrySetResult(stream);
            return Task.FromResult(response);
        });
        using var host = Create(transport);
        using var http = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient(AgentHarness.Internal.DefaultAgentHarness.HttpClientName);
        using var request = RawRequest("/chat/completions", """{"model":"policy/stream","stream":true,"messages":[{"role":"user","content":"hi"}]}""");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        await using var stream = await response.Content.ReadAsStreamAsync(Ct);
        var buffer = new byte[4096];
        var received = new StringBuilder();
        while (!received.ToString().Contains("[DONE]", StringComparison.Ordinal))
        {
            received.Append(Encoding.UTF8.GetString(buffer, 0, await stream.ReadAsync(buffer, Ct)));
        }

        // A raw reader reads on past [DONE]; the provider keeps the connection open and says nothing more.
        var read = stream.ReadAsync(buffer, Ct).AsTask();
        await (await upstream.Task).Stalled.WaitAsync(Ct);
        host.Time.Advance(IdleTimeout);

        Assert.Equal(0, await read);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Succeeded, null), (record.Outcome, record.Error));
    }

    private static HttpRequestMessage RawRequest(string path, string json) =>
        new(HttpMethod.Post, new Uri(AgentHarness.Routing.Internal.RoutingHandler.VirtualEndpoint + path))
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };

    private static async Task<string> ReadRawAsync(TestHarness host, string path, string json)
    {
        using var http = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient(AgentHarness.Internal.DefaultAgentHarness.HttpClientName);
        using var request = RawRequest(path, json);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync(Ct);
    }

    private sealed class TrackedStream(Stream inner) : Stream
    {
        public bool Disposed { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
