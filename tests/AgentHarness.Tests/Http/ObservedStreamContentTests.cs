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

    private static TestHarness Create(HttpMessageHandler transport) =>
        TestHarness.Create(transport, b =>
        {
            TestHarness.ThreeProviders(b, maxRetries: 0);
            b.Configure(o =>
            {
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
