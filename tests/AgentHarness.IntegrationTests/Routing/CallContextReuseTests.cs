using System.ClientModel;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using AgentHarness.IntegrationTests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using OpenAI.Chat;

namespace AgentHarness.IntegrationTests.Routing;

/// <summary>
/// Calls of one harness client, many at once over real sockets, whose contexts (and answer buffers) are reused from
/// call to call: every caller must get its own answer and every record must be its own call's, whatever the calls
/// before it on the same context did (fell back, streamed, were cut off, abandoned or cancelled).
/// </summary>
public sealed partial class CallContextReuseTests
{
    private const int Calls = 400;
    private const int AtOnce = 16;
    private const decimal PrimaryIn = 0.000001m;
    private const decimal PrimaryOut = 0.000002m;
    private const decimal FallbackIn = 0.000003m;
    private const decimal FallbackOut = 0.000004m;
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(60);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>What call <c>i</c> does, by <c>i % 10</c>.</summary>
    private enum Kind
    {
        Whole,
        WholeAgain,
        WholeFallback,
        Stream,
        StreamFallback,
        StreamClosedEarly,
        StreamAbandoned,
        CanceledInFlight,
        CanceledBefore,
        WholeSynchronous,
    }

    private static Kind KindOf(int i) => (Kind)(i % 10);

    private static int InputTokens(int i) => 10 + i;

    private static int OutputTokens(int i) => 20 + i;

    [Fact]
    public async Task CompleteChat_ManyMixedCallsAtOnceOverSockets_EachCallerAndRecordIsItsOwnCall()
    {
        await using var primary = await Upstream.StartAsync("primary", Ct);
        await using var fallback = await Upstream.StartAsync("fallback", Ct);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var host = HarnessHost.Create(builder =>
        {
            builder.Services.AddSingleton<TimeProvider>(time);
            builder
                .AddProvider("primary", p => { p.BaseUrl = primary.BaseUrl; p.ApiKey = "key-primary"; })
                .AddProvider("fallback", p => { p.BaseUrl = fallback.BaseUrl; p.ApiKey = "key-fallback"; })
                .Configure(o =>
                {
                    o.FailuresBeforeCooldown = 1000;
                    o.Catalog.Models["primary/m1"] = new ModelPriceOptions { InputPerToken = PrimaryIn, OutputPerToken = PrimaryOut, MaxOutputTokens = 1000, ContextWindow = 100_000 };
                    o.Catalog.Models["fallback/m1"] = new ModelPriceOptions { InputPerToken = FallbackIn, OutputPerToken = FallbackOut, MaxOutputTokens = 1000, ContextWindow = 100_000 };
                    var policy = new PolicyOptions { AttemptsPerModel = 1, RetryBaseDelay = TimeSpan.Zero, StreamIdleTimeout = IdleTimeout };
                    policy.Models.Add(new PolicyMemberOptions { Model = "primary/m1" });
                    policy.Models.Add(new PolicyMemberOptions { Model = "fallback/m1" });
                    o.Policies["mix"] = policy;
                });
        });
        var client = host.Harness.GetChatClient("policy/mix");
        using var outer = host.Harness.BeginRun("outer", r => r.MaxCostUsd = 100m);
        var runs = new AgentRun[Calls];
        var abandoned = new ConcurrentBag<IAsyncEnumerator<StreamingChatCompletionUpdate>>();
        var errors = new ConcurrentBag<string>();
        using var gate = new SemaphoreSlim(AtOnce);

        async Task CallAsync(int i)
        {
            await gate.WaitAsync(Ct);
            try
            {
                // Each call in its own run (nested in the outer one) with its own task: its record must name them.
                var run = runs[i] = host.Harness.BeginRun(string.Create(CultureInfo.InvariantCulture, $"agent-{i}"), r => r.MaxCostUsd = 1m);
                run.BeginTask(string.Create(CultureInfo.InvariantCulture, $"task-{i}"));
                var problem = await OneCallAsync(client, primary, i, abandoned);
                if (problem is not null)
                {
                    errors.Add($"call {i} ({KindOf(i)}): {problem}");
                }
            }
            catch (Exception ex)
            {
                errors.Add($"call {i} ({KindOf(i)}): {ex.GetType().Name}: {ex.Message}");
            }
            finally
            {
                gate.Release();
            }
        }

        // A bound for a broken build only (a call that never ends); a sound one takes a few seconds.
        await Task.WhenAll(Enumerable.Range(0, Calls).Select(i => Task.Run(() => CallAsync(i), Ct))).WaitAsync(TimeSpan.FromMinutes(2), Ct);

        // The streams nobody read further nor disposed are closed by the harness when their idle timeout elapses.
        time.Advance(IdleTimeout + TimeSpan.FromSeconds(1));

        Assert.Empty(errors);
        var records = host.Ledger.GetRecords();
        Assert.Equal(Calls, records.Count);
        var byTask = records.GroupBy(r => r.Task!).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(Calls, byTask.Count);
        for (var i = 0; i < Calls; i++)
        {
            var record = Assert.Single(byTask[string.Create(CultureInfo.InvariantCulture, $"task-{i}")]);
            var kind = KindOf(i);
            var because = $"call {i} ({kind}): {record.Outcome} {record.Error} attempts [{string.Join(", ", record.Attempts.Select(a => $"{a.Provider} {a.Outcome} {a.StatusCode}"))}]";
            Assert.True(string.Equals(record.Agent, $"agent-{i}", StringComparison.Ordinal), because);
            Assert.Equal(runs[i].RunId, record.RunId);
            Assert.True(record.Streaming == kind is Kind.Stream or Kind.StreamFallback or Kind.StreamClosedEarly or Kind.StreamAbandoned, because);
            var fellBack = kind is Kind.WholeFallback or Kind.StreamFallback;
            switch (kind)
            {
                case Kind.Whole or Kind.WholeAgain or Kind.WholeFallback or Kind.WholeSynchronous or Kind.Stream or Kind.StreamFallback:
                    Assert.True(record.Outcome == UsageOutcome.Succeeded, because);
                    Assert.True((InputTokens(i), OutputTokens(i)) == (record.InputTokens, record.OutputTokens), because);
                    Assert.True(record.Provider == (fellBack ? "fallback" : "primary"), because);
                    Assert.True(record.Attempts.Select(a => a.StatusCode).SequenceEqual(fellBack ? [503, 200] : [200]), because);
                    var expected = fellBack
                        ? (InputTokens(i) * FallbackIn) + (OutputTokens(i) * FallbackOut)
                        : (InputTokens(i) * PrimaryIn) + (OutputTokens(i) * PrimaryOut);
                    Assert.True(record.CostUsd == expected, $"{because}: cost {record.CostUsd}, expected {expected}");
                    break;
                case Kind.StreamClosedEarly:
                    Assert.True(record.Outcome == UsageOutcome.Incomplete, because);
                    Assert.True(record.Error!.Contains("closed the stream", StringComparison.Ordinal), because);
                    Assert.True(record.Attempts.Count == 1, because);
                    break;
                case Kind.StreamAbandoned:
                    Assert.True(record.Outcome == UsageOutcome.Incomplete, because);
                    Assert.True(record.Error!.Contains("StreamIdleTimeout", StringComparison.Ordinal), because);
                    Assert.True(record.Attempts.Count == 1, because);
                    break;
                case Kind.CanceledInFlight:
                    Assert.True(record.Outcome == UsageOutcome.Canceled, because);
                    Assert.True(record.Attempts.Count == 1, because);
                    break;
                case Kind.CanceledBefore:
                    Assert.True(record.Outcome == UsageOutcome.Canceled, because);
                    Assert.True(record.Attempts.Count == 0 && record.CostUsd == 0m, because);
                    break;
            }

            // The call's own run counted it alone, and holds nothing for it any more.
            Assert.True(runs[i].CallCount == 1, because);
            Assert.True(runs[i].SpentUsd == record.CostUsd, $"{because}: run spent {runs[i].SpentUsd}, record {record.CostUsd}");
            Assert.True(runs[i].ReservedUsd == 0m, $"{because}: run reserved {runs[i].ReservedUsd}");
            var totals = Assert.Single(runs[i].TaskTotals);
            Assert.Equal((1L, (long)record.InputTokens, (long)record.OutputTokens, record.CostUsd), (totals.Value.Calls, totals.Value.InputTokens, totals.Value.OutputTokens, totals.Value.CostUsd));
        }

        Assert.Equal(records.Sum(r => r.CostUsd), outer.SpentUsd);
        Assert.Equal(0m, outer.ReservedUsd);
        Assert.Equal(Calls, outer.CallCount);
        foreach (var run in runs)
        {
            run.Dispose();
        }

        foreach (var stream in abandoned)
        {
            await stream.DisposeAsync();
        }
    }

    [Fact]
    public async Task CompleteChat_UnbufferedProtocolAndCapturedContentAtOnce_EachReadsItsOwnAnswer()
    {
        const int Count = 120;
        await using var primary = await Upstream.StartAsync("primary", Ct);
        await using var fallback = await Upstream.StartAsync("fallback", Ct);
        using var host = HarnessHost.Create(builder => builder
            .AddProvider("primary", p => { p.BaseUrl = primary.BaseUrl; p.ApiKey = "key-primary"; })
            .AddProvider("fallback", p => { p.BaseUrl = fallback.BaseUrl; p.ApiKey = "key-fallback"; })
            .Configure(o =>
            {
                // The primary must be tried by every call: a cooldown after the 503s would send whole answers to the fallback.
                o.FailuresBeforeCooldown = 1000;
                o.Telemetry.CaptureMessageContent = true;
                o.Catalog.UnpricedModels = UnpricedModelHandling.Allow;
                var policy = new PolicyOptions { AttemptsPerModel = 1, RetryBaseDelay = TimeSpan.Zero };
                policy.Models.Add(new PolicyMemberOptions { Model = "primary/m1" });
                policy.Models.Add(new PolicyMemberOptions { Model = "fallback/m1" });
                o.Policies["mix"] = policy;
            }));

        // Every span's captured output must be the answer to its own prompt, read while the answer's buffer was the call's.
        var mismatches = new ConcurrentBag<string>();
        var spans = 0;
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name == TelemetryOptions.ActivitySourceName,
            Sample = static (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.GetTagItem("gen_ai.input.messages") is string input)
                {
                    Interlocked.Increment(ref spans);
                    var asked = CallNumberIn(input);
                    var output = activity.GetTagItem("gen_ai.output.messages") as string ?? string.Empty;
                    if (!output.Contains($"answer-{asked}-", StringComparison.Ordinal))
                    {
                        mismatches.Add($"call-{asked}: output {output}");
                    }
                }
            },
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        var client = host.Harness.GetChatClient("policy/mix");
        var unread = new ConcurrentDictionary<int, System.ClientModel.Primitives.PipelineResponse>();
        var errors = new ConcurrentBag<string>();
        using var gate = new SemaphoreSlim(AtOnce);

        async Task CallAsync(int n)
        {
            await gate.WaitAsync(Ct);
            try
            {
                // Whole answers only (n % 10 == 0, or a fallback at 2): the upstream's kind of call n.
                using var body = BinaryContent.Create(BinaryData.FromString($$"""{"model":"policy/mix","messages":[{"role":"user","content":"call-{{n}}"}]}"""));
                var options = new System.ClientModel.Primitives.RequestOptions { BufferResponse = false, CancellationToken = Ct };
                switch (n / 10 % 3)
                {
                    case 0:
                        unread[n] = (await client.CompleteChatAsync(body, options)).GetRawResponse();
                        break;
                    case 1:
                        unread[n] = client.CompleteChat(body, options).GetRawResponse();
                        break;
                    default:
                        var result = await client.CompleteChatAsync([new UserChatMessage($"call-{n}")], cancellationToken: Ct);
                        if (CheckWhole(result, n, $"answer-{n}-{(KindOf(n) == Kind.WholeFallback ? "fallback" : "primary")}") is { } problem)
                        {
                            errors.Add($"call {n}: {problem}");
                        }

                        break;
                }
            }
            catch (Exception ex)
            {
                errors.Add($"call {n}: {ex.GetType().Name}: {ex.Message}");
            }
            finally
            {
                gate.Release();
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Count).Select(i => Task.Run(() => CallAsync((i * 10) + (i % 4 == 3 ? 2 : 0)), Ct))).WaitAsync(TimeSpan.FromMinutes(2), Ct);

        // Read only now, after every other call has ended and its context and buffers have served others.
        foreach (var (n, response) in unread)
        {
            using (response)
            {
                using var reader = new StreamReader(response.ContentStream!);
                var text = await reader.ReadToEndAsync(Ct);
                var expected = $"answer-{n}-{(KindOf(n) == Kind.WholeFallback ? "fallback" : "primary")}";
                if (!text.Contains($"\"cmpl-{n}\"", StringComparison.Ordinal) || !text.Contains(expected, StringComparison.Ordinal))
                {
                    errors.Add($"call {n}: read {text}");
                }
            }
        }

        Assert.Empty(errors);
        Assert.Empty(mismatches);
        Assert.Equal(Count, Volatile.Read(ref spans));
        Assert.Equal(Count, host.Ledger.GetRecords().Count);
    }

    private static int CallNumberIn(string text) => int.Parse(Upstream.Number(text), CultureInfo.InvariantCulture);

    /// <summary>Makes call <paramref name="i"/> and checks what its caller got; returns what was wrong, or <see langword="null"/>.</summary>
    private static async Task<string?> OneCallAsync(ChatClient client, Upstream primary, int i, ConcurrentBag<IAsyncEnumerator<StreamingChatCompletionUpdate>> abandoned)
    {
        var kind = KindOf(i);
        var prompt = string.Create(CultureInfo.InvariantCulture, $"call-{i}");
        ChatMessage[] messages = [new UserChatMessage(prompt)];
        var provider = kind is Kind.WholeFallback or Kind.StreamFallback ? "fallback" : "primary";
        var answer = string.Create(CultureInfo.InvariantCulture, $"answer-{i}-{provider}");
        switch (kind)
        {
            case Kind.Whole or Kind.WholeAgain or Kind.WholeFallback:
            {
                var result = await client.CompleteChatAsync(messages, cancellationToken: Ct);
                return CheckWhole(result, i, answer);
            }

            case Kind.WholeSynchronous:
                return CheckWhole(client.CompleteChat(messages, cancellationToken: Ct), i, answer);

            case Kind.Stream or Kind.StreamFallback:
            {
                var text = new StringBuilder();
                ChatTokenUsage? usage = null;
                await foreach (var update in client.CompleteChatStreamingAsync(messages, cancellationToken: Ct))
                {
                    foreach (var part in update.ContentUpdate)
                    {
                        text.Append(part.Text);
                    }

                    usage ??= update.Usage;
                }

                return text.ToString() != answer ? $"streamed '{text}', expected '{answer}'"
                    : usage?.InputTokenCount != InputTokens(i) ? $"streamed usage {usage?.InputTokenCount}" : null;
            }

            case Kind.StreamClosedEarly or Kind.StreamAbandoned:
            {
                var stream = client.CompleteChatStreamingAsync(messages, cancellationToken: Ct).GetAsyncEnumerator(Ct);
                string? problem = null;
                if (!await stream.MoveNextAsync())
                {
                    problem = "the stream had no update";
                }
                else
                {
                    // The first update may be the role's alone: read until the text arrives.
                    var text = new StringBuilder();
                    while (text.Length == 0 && problem is null)
                    {
                        foreach (var part in stream.Current.ContentUpdate)
                        {
                            text.Append(part.Text);
                        }

                        if (text.Length == 0 && !await stream.MoveNextAsync())
                        {
                            problem = "the stream ended before its text";
                        }
                    }

                    problem ??= text.ToString() != answer ? $"streamed '{text}', expected '{answer}'" : null;
                }

                if (kind == Kind.StreamClosedEarly)
                {
                    await stream.DisposeAsync();
                }
                else
                {
                    abandoned.Add(stream);
                }

                return problem;
            }

            case Kind.CanceledInFlight:
            {
                using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
                var call = client.CompleteChatAsync(messages, cancellationToken: cancel.Token);
                // A call that fails before its request arrives must not hang the test: it is checked below.
                await Task.WhenAny(primary.Arrived(i), call);
                await cancel.CancelAsync();
                try
                {
                    await call;
                    return "a cancelled call answered";
                }
                catch (OperationCanceledException)
                {
                    return null;
                }
            }

            case Kind.CanceledBefore:
            {
                using var cancel = new CancellationTokenSource();
                await cancel.CancelAsync();
                try
                {
                    await client.CompleteChatAsync(messages, cancellationToken: cancel.Token);
                    return "a cancelled call answered";
                }
                catch (OperationCanceledException)
                {
                    return null;
                }
            }

            default:
                return "unknown kind";
        }
    }

    private static string? CheckWhole(ClientResult<ChatCompletion> result, int i, string answer)
    {
        var completion = result.Value;
        var id = string.Create(CultureInfo.InvariantCulture, $"cmpl-{i}");
        if (completion.Id != id || completion.Content[0].Text != answer)
        {
            return $"got {completion.Id} '{completion.Content[0].Text}', expected {id} '{answer}'";
        }

        if (completion.Usage.InputTokenCount != InputTokens(i) || completion.Usage.OutputTokenCount != OutputTokens(i))
        {
            return $"usage {completion.Usage.InputTokenCount}/{completion.Usage.OutputTokenCount}";
        }

        return result.GetRawResponse().Headers.TryGetValue("x-call", out var header) && header == i.ToString(CultureInfo.InvariantCulture)
            ? null
            : $"header x-call '{header}'";
    }

    /// <summary>
    /// An OpenAI-like upstream on loopback whose answer to <c>call-i</c> is <c>answer-i-name</c> with usage derived from
    /// <c>i</c>; the primary fails, streams partly or holds the request as call <c>i</c>'s kind says.
    /// </summary>
    private sealed partial class Upstream : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly string _name;
        private readonly ConcurrentDictionary<int, TaskCompletionSource> _arrived = new();

        private Upstream(WebApplication app, string name)
        {
            _app = app;
            _name = name;
        }

        public Uri BaseUrl { get; private set; } = null!;

        public static async Task<Upstream> StartAsync(string name, CancellationToken cancellationToken)
        {
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
            {
                ApplicationName = typeof(Upstream).Assembly.GetName().Name,
                ContentRootPath = AppContext.BaseDirectory,
            });
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var upstream = new Upstream(app, name);
            app.Run(upstream.ServeAsync);
            await app.StartAsync(cancellationToken);
            upstream.BaseUrl = new Uri(new Uri(app.Urls.Single(), UriKind.Absolute), "v1");
            return upstream;
        }

        /// <summary>Completes when call <paramref name="i"/>'s request has arrived here.</summary>
        public Task Arrived(int i) => _arrived.GetOrAdd(i, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
        }

        public static string Number(string text) => CallNumber().Match(text).Groups[1].Value;

        [GeneratedRegex("call-([0-9]+)")]
        private static partial Regex CallNumber();

        private static string Chunk(int i, string delta, bool usage) => usage
            ? $$$"""{"id":"cmpl-{{{i}}}","object":"chat.completion.chunk","created":1,"model":"m1","choices":[],"usage":{"prompt_tokens":{{{InputTokens(i)}}},"completion_tokens":{{{OutputTokens(i)}}},"total_tokens":{{{InputTokens(i) + OutputTokens(i)}}}}}"""
            : $$"""{"id":"cmpl-{{i}}","object":"chat.completion.chunk","created":1,"model":"m1","choices":[{"index":0,"delta":{{delta}},"finish_reason":null}]}""";

        private async Task ServeAsync(HttpContext context)
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync(context.RequestAborted);
            var i = int.Parse(CallNumber().Match(body).Groups[1].Value, CultureInfo.InvariantCulture);
            var kind = KindOf(i);
            var aborted = context.RequestAborted;
            _arrived.GetOrAdd(i, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            context.Response.Headers["x-call"] = i.ToString(CultureInfo.InvariantCulture);
            try
            {
                if (_name == "primary" && kind is Kind.WholeFallback or Kind.StreamFallback)
                {
                    context.Response.StatusCode = 503;
                    context.Response.ContentType = "application/json";
                    await context.Response.WriteAsync("""{"error":{"message":"overloaded","type":"server_error"}}""", aborted);
                    return;
                }

                if (kind == Kind.CanceledInFlight)
                {
                    // Held until the caller gives up.
                    await Task.Delay(Timeout.InfiniteTimeSpan, aborted);
                }

                var answer = $"answer-{i}-{_name}";
                if (!body.Contains("\"stream\":true", StringComparison.Ordinal))
                {
                    context.Response.ContentType = "application/json";
                    await context.Response.WriteAsync(
                        $$$"""{"id":"cmpl-{{{i}}}","object":"chat.completion","created":1,"model":"m1","choices":[{"index":0,"message":{"role":"assistant","content":"{{{answer}}}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":{{{InputTokens(i)}}},"completion_tokens":{{{OutputTokens(i)}}},"total_tokens":{{{InputTokens(i) + OutputTokens(i)}}}}}""",
                        aborted);
                    return;
                }

                context.Response.ContentType = "text/event-stream";
                await context.Response.WriteAsync($"data: {Chunk(i, $$"""{"role":"assistant","content":"{{answer}}"}""", usage: false)}\n\n", aborted);
                await context.Response.Body.FlushAsync(aborted);
                if (kind is Kind.StreamClosedEarly or Kind.StreamAbandoned)
                {
                    // The rest never comes: the caller stops reading (or the harness closes it for them).
                    await Task.Delay(Timeout.InfiniteTimeSpan, aborted);
                }

                await context.Response.WriteAsync($"data: {Chunk(i, """{}""", usage: false).Replace("\"finish_reason\":null", "\"finish_reason\":\"stop\"", StringComparison.Ordinal)}\n\n", aborted);
                await context.Response.WriteAsync($"data: {Chunk(i, string.Empty, usage: true)}\n\ndata: [DONE]\n\n", aborted);
            }
            catch (OperationCanceledException) when (aborted.IsCancellationRequested)
            {
                context.Abort();
            }
        }
    }
}
