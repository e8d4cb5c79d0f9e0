using System.Net;
using AgentHarness.DependencyInjection.Internal;
using AgentHarness.Pipeline.Internal;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Logging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using OpenAI.Chat;

namespace AgentHarness.Tests.DependencyInjection;

/// <summary>
/// The model client's stand-in for the factory's request logging handler: a request goes through that handler only
/// while its logger logs at Information or Trace, decided again for every request.
/// </summary>
public sealed class RequestLogsWhenEnabledTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SendAsync_LoggerOffThenOnThenOff_GoesThroughTheFactoryHandlerOnlyWhileOn()
    {
        var logger = new FakeLogger();
        var logging = new LoggingHttpMessageHandler(logger);
        var inner = new CountingHandler();
        using var invoker = new HttpMessageInvoker(new RequestLogsWhenEnabled(logging, logger) { InnerHandler = inner });

        logger.ControlLevel(LogLevel.Information, enabled: false);
        logger.ControlLevel(LogLevel.Trace, enabled: false);
        using (await invoker.SendAsync(new HttpRequestMessage(HttpMethod.Post, "https://provider.test/v1/chat/completions"), Ct))
        {
        }

        // Past the factory's handler: it was never even given the chain below.
        Assert.Equal(1, inner.Requests);
        Assert.Null(logging.InnerHandler);
        Assert.Equal(0, logger.Collector.Count);

        logger.ControlLevel(LogLevel.Information, enabled: true);
        logger.ControlLevel(LogLevel.Trace, enabled: true);
        using (await invoker.SendAsync(new HttpRequestMessage(HttpMethod.Post, "https://provider.test/v1/chat/completions"), Ct))
        {
        }

        Assert.Equal(2, inner.Requests);
        Assert.Same(inner, logging.InnerHandler);
        // The factory's own logs: the request's start and end at Information (and its headers at Trace).
        var logged = logger.Collector.GetSnapshot().Where(static r => r.Level == LogLevel.Information).ToList();
        Assert.Equal(2, logged.Count);
        Assert.Contains("https://provider.test/v1/chat/completions", logged[0].Message, StringComparison.Ordinal);
        var count = logger.Collector.Count;

        logger.ControlLevel(LogLevel.Information, enabled: false);
        logger.ControlLevel(LogLevel.Trace, enabled: false);
        using (await invoker.SendAsync(new HttpRequestMessage(HttpMethod.Post, "https://provider.test/v1/chat/completions"), Ct))
        {
        }

        Assert.Equal(3, inner.Requests);
        Assert.Equal(count, logger.Collector.Count);
    }

    [Fact]
    public void Send_Synchronous_ChoosesAsTheAsynchronousPathDoes()
    {
        var logger = new FakeLogger();
        var logging = new LoggingHttpMessageHandler(logger);
        var inner = new CountingHandler();
        using var invoker = new HttpMessageInvoker(new RequestLogsWhenEnabled(logging, logger) { InnerHandler = inner });

        logger.ControlLevel(LogLevel.Information, enabled: false);
        logger.ControlLevel(LogLevel.Trace, enabled: false);
        invoker.Send(new HttpRequestMessage(HttpMethod.Get, "https://provider.test/v1/models"), Ct).Dispose();
        Assert.Equal(0, logger.Collector.Count);

        logger.ControlLevel(LogLevel.Information, enabled: true);
        logger.ControlLevel(LogLevel.Trace, enabled: true);
        invoker.Send(new HttpRequestMessage(HttpMethod.Get, "https://provider.test/v1/models"), Ct).Dispose();

        Assert.Equal(2, inner.Requests);
        Assert.Equal(2, logger.Collector.GetSnapshot().Count(static r => r.Level == LogLevel.Information));
    }

    [Fact]
    public async Task SendAsync_OnlyTraceLogged_GoesThroughTheFactoryHandlerForItsHeaderLogs()
    {
        var logger = new FakeLogger();
        var logging = new LoggingHttpMessageHandler(logger);
        using var invoker = new HttpMessageInvoker(new RequestLogsWhenEnabled(logging, logger) { InnerHandler = new CountingHandler() });
        logger.ControlLevel(LogLevel.Information, enabled: false);

        using (await invoker.SendAsync(new HttpRequestMessage(HttpMethod.Get, "https://provider.test/v1/models"), Ct))
        {
        }

        Assert.NotNull(logging.InnerHandler);
        Assert.NotEmpty(logger.Collector.GetSnapshot());
        Assert.All(logger.Collector.GetSnapshot(), static r => Assert.Equal(LogLevel.Trace, r.Level));
    }

    [Fact]
    public async Task Dispose_AfterLoggedRequests_DisposesTheChainBelowOnce()
    {
        var logger = new FakeLogger();
        var inner = new CountingHandler();
        var invoker = new HttpMessageInvoker(new RequestLogsWhenEnabled(new LoggingHttpMessageHandler(logger), logger) { InnerHandler = inner });
        (await invoker.SendAsync(new HttpRequestMessage(HttpMethod.Get, "https://provider.test/v1/models"), Ct)).Dispose();

        invoker.Dispose();

        Assert.Equal(1, inner.Disposals);
    }

    [Fact]
    public async Task ModelClient_LogLevelRaisedAtRunTime_NextAttemptIsLoggedAtItsProvidersAddress()
    {
        var logs = new FakeLogCollector();
        var attemptLogs = false;
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1")));
        using var host = TestHarness.Create(
            mock.Handler,
            static b => b.AddProvider("openai", static p =>
            {
                p.BaseUrl = new Uri("https://openai.test/v1");
                p.ApiKey = "key-openai";
            }),
            s => s.AddLogging(l => l
                .SetMinimumLevel(LogLevel.Trace)
                .AddFilter((category, level) => level >= LogLevel.Warning || (attemptLogs && category!.EndsWith(".ClientHandler", StringComparison.Ordinal)))
                .AddProvider(new FakeLoggerProvider(logs))));
        var client = host.Harness.GetChatClient("openai/gpt-4.1");

        await client.CompleteChatAsync([new UserChatMessage("Classify.")], cancellationToken: Ct);
        Assert.DoesNotContain(logs.GetSnapshot(), static r => r.Category!.StartsWith("System.Net.Http.HttpClient.", StringComparison.Ordinal));

        attemptLogs = true;
        await client.CompleteChatAsync([new UserChatMessage("Classify.")], cancellationToken: Ct);

        var attempt = logs.GetSnapshot().Where(static r => r.Category == "System.Net.Http.HttpClient.AgentHarness.ClientHandler").ToList();
        Assert.Equal(2, attempt.Count(static r => r.Level == LogLevel.Information));
        Assert.Contains(attempt, static r => r.Message.Contains("https://openai.test/v1/chat/completions", StringComparison.Ordinal));
        Assert.Equal(2, mock.Requests.Count);
    }

    [Fact]
    public async Task SendAttemptAsync_LoggerOffThenOn_StraightToTheNextSenderOnlyWhileOff()
    {
        var logger = new FakeLogger();
        var logging = new LoggingHttpMessageHandler(logger);
        var inner = new SenderHandler();
        using var handler = new RequestLogsWhenEnabled(logging, logger) { InnerHandler = inner };
        using var invoker = new HttpMessageInvoker(handler);

        // The chain is started, as the transport stage's is, by an ordinary request first.
        using (await invoker.SendAsync(new HttpRequestMessage(HttpMethod.Post, "https://provider.test/v1/chat/completions"), Ct))
        {
        }

        logger.ControlLevel(LogLevel.Information, enabled: false);
        logger.ControlLevel(LogLevel.Trace, enabled: false);
        var count = logger.Collector.Count;
        using (await handler.SendAttemptAsync(new HttpRequestMessage(HttpMethod.Post, "https://provider.test/v1/chat/completions"), Ct))
        {
        }

        Assert.Equal(1, inner.Direct);
        Assert.Equal(count, logger.Collector.Count);

        logger.ControlLevel(LogLevel.Information, enabled: true);
        using (await handler.SendAttemptAsync(new HttpRequestMessage(HttpMethod.Post, "https://provider.test/v1/chat/completions"), Ct))
        {
        }

        // Logged, so through the factory's handler and the next handler's ordinary path.
        Assert.Equal(1, inner.Direct);
        Assert.Equal(2, inner.Requests);
        Assert.Contains(logger.Collector.GetSnapshot().Skip(count), static r => r.Level == LogLevel.Information && r.Message.Contains("https://provider.test/v1/chat/completions", StringComparison.Ordinal));
    }

    /// <summary>A transport that can also take attempts directly, counting both ways in.</summary>
    private sealed class SenderHandler : HttpMessageHandler, IAttemptSender
    {
        public int Requests { get; private set; }

        public int Direct { get; private set; }

        public ValueTask<HttpResponseMessage> SendAttemptAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Direct++;
            return new ValueTask<HttpResponseMessage>(new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request });
        }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests++;
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request });
        }
    }

    private sealed class CountingHandler : HttpMessageHandler
    {
        public int Requests { get; private set; }

        public int Disposals { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(Send(request, cancellationToken));

        protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests++;
            return new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request };
        }

        protected override void Dispose(bool disposing)
        {
            Disposals++;
            base.Dispose(disposing);
        }
    }
}
