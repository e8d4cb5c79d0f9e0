using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace AgentHarness.Tests.Pipeline;

public sealed partial class RequestStageTests
{
    private static readonly AsyncLocal<string?> CallId = new();

    /// <summary>What the provider received, headers as they stand (NonValidated), content headers apart.</summary>
    private sealed record Sent(Uri Uri, Dictionary<string, string[]> Headers, Dictionary<string, string[]> ContentHeaders, string Body)
    {
        public string[] H(string name) => Headers.TryGetValue(name, out var v) ? v : [];

        public string[] C(string name) => ContentHeaders.TryGetValue(name, out var v) ? v : [];
    }

    /// <summary>A transport recording every request exactly as it reached it.</summary>
    private sealed class Transport(Func<Sent, int, HttpResponseMessage> respond) : HttpMessageHandler
    {
        private readonly List<Sent> _sent = [];

        public IReadOnlyList<Sent> Sent
        {
            get
            {
                lock (_sent)
                {
                    return [.. _sent];
                }
            }
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var headers = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase);
            foreach (var h in request.Headers.NonValidated)
            {
                headers[h.Key] = [.. h.Value];
            }

            var content = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase);
            var body = string.Empty;
            if (request.Content is not null)
            {
                body = await request.Content.ReadAsStringAsync(cancellationToken);
                foreach (var h in request.Content.Headers.NonValidated)
                {
                    content[h.Key] = [.. h.Value];
                }
            }

            var sent = new Sent(request.RequestUri!, headers, content, body);
            int index;
            lock (_sent)
            {
                _sent.Add(sent);
                index = _sent.Count - 1;
            }

            return respond(sent, index);
        }

        protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) =>
            SendAsync(request, cancellationToken).GetAwaiter().GetResult();
    }

    private sealed class Handler(Action<HttpRequestMessage, int> mutate) : DelegatingHandler
    {
        private int _sent;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            mutate(request, Interlocked.Increment(ref _sent));
            return base.SendAsync(request, cancellationToken);
        }

        protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            mutate(request, Interlocked.Increment(ref _sent));
            return base.Send(request, cancellationToken);
        }
    }

    private static HttpResponseMessage Ok() => Responses.Json(Responses.ChatJson("gpt-4.1", content: "ok"));

    private static HttpResponseMessage Unavailable() => Responses.Error(HttpStatusCode.ServiceUnavailable);

    /// <summary>503 for the first <paramref name="failures"/> requests, then 200.</summary>
    private static Func<Sent, int, HttpResponseMessage> FailFirst(int failures) => (_, i) => i < failures ? Unavailable() : Ok();

    private static TestHarness Host(Transport transport, Action<HttpRequestMessage, int>? below = null, Action<IAgentHarnessBuilder>? more = null) =>
        TestHarness.Create(transport, b =>
        {
            TestHarness.ThreeProviders(b);
            if (below is not null)
            {
                b.ConfigureHttpClient(c => c.AddHttpMessageHandler(() => new Handler(below)));
            }

            more?.Invoke(b);
        });

    private static Task<System.ClientModel.ClientResult<ChatCompletion>> Chat(TestHarness host, string model, CancellationToken token) =>
        host.Harness.GetChatClient(model).CompleteChatAsync([new UserChatMessage("a")], cancellationToken: token);

    // --- Handlers that replace, remove or append to the official client's headers ---------------------------------------

    [Fact]
    public async Task Retry_HandlerReplacesUserAgentAndRemovesAcceptOnFirstAttempt_RetryCarriesClientsOwn()
    {
        var baseline = new Transport(FailFirst(0));
        using (var plain = Host(baseline))
        {
            await Chat(plain, "openai/gpt-4.1", Ct);
        }

        var clientUserAgent = baseline.Sent[0].H("User-Agent");
        var clientAccept = baseline.Sent[0].H("Accept");
        Assert.NotEmpty(clientUserAgent);
        Assert.NotEmpty(clientAccept);

        var transport = new Transport(FailFirst(1));
        using var host = Host(transport, (r, n) =>
        {
            if (n == 1)
            {
                r.Headers.Remove("User-Agent");
                r.Headers.TryAddWithoutValidation("User-Agent", "Replaced/1");
                r.Headers.Remove("Accept");
            }
        });

        await Chat(host, "openai/gpt-4.1", Ct);

        Assert.Equal(2, transport.Sent.Count);
        Assert.Equal(["Replaced/1"], transport.Sent[0].H("User-Agent"));
        Assert.Empty(transport.Sent[0].H("Accept"));
        Assert.Equal(clientUserAgent, transport.Sent[1].H("User-Agent"));
        Assert.Equal(clientAccept, transport.Sent[1].H("Accept"));
    }

    [Fact]
    public async Task Retry_HandlerAppendsToUserAgentAndAccept_EachAttemptHasItOnce()
    {
        var transport = new Transport(FailFirst(2));
        using var host = Host(transport, (r, _) =>
        {
            r.Headers.UserAgent.Add(new ProductInfoHeaderValue("App", "1.0"));
            r.Headers.TryAddWithoutValidation("Accept", "text/plain");
        });

        await Chat(host, "openai/gpt-4.1", Ct);

        Assert.Equal(3, transport.Sent.Count);
        Assert.All(transport.Sent, s =>
        {
            var ua = string.Join(" ", s.H("User-Agent"));
            Assert.Equal(1, CountOf(ua, "App/1.0"));
            Assert.StartsWith("OpenAI/", ua, StringComparison.Ordinal);
            var accept = string.Join(", ", s.H("Accept"));
            Assert.Equal(1, CountOf(accept, "text/plain"));
            Assert.Equal(1, CountOf(accept, "application/json"));
        });
    }

    private static int CountOf(string text, string part)
    {
        var count = 0;
        for (var i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    // --- Content headers: the handler's are on the official client's own content when the caller cannot cancel --------

    [Fact]
    public async Task Retry_CancellableCall_HandlerContentHeader_OncePerAttempt()
    {
        var transport = new Transport(FailFirst(2));
        using var host = Host(transport, (r, n) => r.Content!.Headers.TryAddWithoutValidation("X-Content-Signature", "csig-" + n));

        await Chat(host, "openai/gpt-4.1", Ct);

        Assert.Equal(["csig-1", "csig-2", "csig-3"], transport.Sent.Select(s => string.Join(", ", s.C("X-Content-Signature"))));
    }

    [Fact]
    public async Task Retry_UncancellableCall_HandlerContentHeader_OncePerAttempt()
    {
        var transport = new Transport(FailFirst(2));
        using var host = Host(transport, (r, n) => r.Content!.Headers.TryAddWithoutValidation("X-Content-Signature", "csig-" + n));

        await Chat(host, "openai/gpt-4.1", CancellationToken.None);

        Assert.Equal(["csig-1", "csig-2", "csig-3"], transport.Sent.Select(s => string.Join(", ", s.C("X-Content-Signature"))));
    }

    [Fact]
    public async Task Retry_UncancellableCall_HandlerReplacesContentTypeOnFirstAttempt_RetryCarriesClientsContentType()
    {
        var transport = new Transport(FailFirst(1));
        using var host = Host(transport, (r, n) =>
        {
            if (n == 1)
            {
                r.Content!.Headers.ContentType = new MediaTypeHeaderValue("text/x-signed");
            }
        });

        await Chat(host, "openai/gpt-4.1", CancellationToken.None);

        Assert.Equal(2, transport.Sent.Count);
        Assert.Equal(["text/x-signed"], transport.Sent[0].C("Content-Type"));
        Assert.StartsWith("application/json", Assert.Single(transport.Sent[1].C("Content-Type")), StringComparison.Ordinal);
    }

    [Fact]
    public void Retry_SynchronousCall_HandlerContentHeader_OncePerAttempt()
    {
        var transport = new Transport(FailFirst(1));
        using var host = Host(transport, (r, n) => r.Content!.Headers.TryAddWithoutValidation("X-Content-Signature", "csig-" + n));

        host.Harness.GetChatClient("openai/gpt-4.1").CompleteChat([new UserChatMessage("a")]);

        Assert.Equal(["csig-1", "csig-2"], transport.Sent.Select(s => string.Join(", ", s.C("X-Content-Signature"))));
    }

    // --- Streams -----------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Retry_Stream503ThenStream_EachAttemptItsOwnSignatureAndTheClientsHeaders()
    {
        var transport = new Transport((_, i) => i == 0
            ? Unavailable()
            : Responses.EventStream(Responses.ChatStream("gpt-4.1", ["he", "llo"])));
        using var host = Host(transport, (r, n) => r.Headers.Add("X-Signature", "sig-" + n));

        var text = new System.Text.StringBuilder();
        await foreach (var update in host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatStreamingAsync([new UserChatMessage("a")], cancellationToken: Ct))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        Assert.Equal("hello", text.ToString());
        Assert.Equal(2, transport.Sent.Count);
        Assert.Equal(["sig-1", "sig-2"], transport.Sent.Select(s => string.Join(", ", s.H("X-Signature"))));
        Assert.Equal(transport.Sent[0].H("User-Agent"), transport.Sent[1].H("User-Agent"));
        Assert.Equal(transport.Sent[0].H("Accept"), transport.Sent[1].H("Accept"));
        Assert.All(transport.Sent, s => Assert.Equal(["Bearer key-openai"], s.H("Authorization")));
    }

    [Fact]
    public async Task Retry_UncancellableStream_HandlerContentHeader_OncePerAttempt()
    {
        var transport = new Transport((_, i) => i == 0
            ? Unavailable()
            : Responses.EventStream(Responses.ChatStream("gpt-4.1", ["ok"])));
        using var host = Host(transport, (r, n) => r.Content!.Headers.TryAddWithoutValidation("X-Content-Signature", "csig-" + n));

        await foreach (var _ in host.Harness.GetChatClient("openai/gpt-4.1").CompleteChatStreamingAsync([new UserChatMessage("a")]))
        {
        }

        Assert.Equal(["csig-1", "csig-2"], transport.Sent.Select(s => string.Join(", ", s.C("X-Content-Signature"))));
    }

    // --- Gateway metadata --------------------------------------------------------------------------------------------

    [Fact]
    public async Task Retry_GatewayDirect_MetadataOncePerAttempt_AndHandlerHeaderOnce()
    {
        var transport = new Transport(FailFirst(2));
        using var host = Host(transport, (r, n) => r.Headers.Add("X-Signature", "sig-" + n));

        using (var run = host.Harness.BeginRun("agent-1", r => r.Branch = "main"))
        using (run.BeginTask("review"))
        {
            await Chat(host, "x/y", Ct);
        }

        Assert.Equal(3, transport.Sent.Count);
        Assert.All(transport.Sent, s =>
        {
            Assert.Equal("gateway.test", s.Uri.Host);
            Assert.Equal(["agent-1"], s.H("X-Requesty-Agent"));
            Assert.Equal(["main"], s.H("X-Requesty-Branch"));
            Assert.Equal(["review"], s.H("X-Requesty-Task"));
            Assert.Equal(["Bearer key-gateway"], s.H("Authorization"));
        });
        Assert.Equal(["sig-1", "sig-2", "sig-3"], transport.Sent.Select(s => string.Join(", ", s.H("X-Signature"))));
    }

    [Fact]
    public async Task Fallback_GatewayThenDirect_DirectGetsNoMetadataAndOnlyItsKey()
    {
        var transport = new Transport((s, _) => s.Uri.Host == "gateway.test" ? Unavailable() : Ok());
        using var host = Host(transport, (r, n) => r.Headers.Add("X-Signature", "sig-" + n), b => b.Configure(o =>
        {
            var policy = new PolicyOptions { AttemptsPerModel = 2, RetryBaseDelay = TimeSpan.Zero };
            policy.Models.Add(new PolicyMemberOptions { Model = "x/y" });
            policy.Models.Add(new PolicyMemberOptions { Model = "openai/gpt-4.1" });
            o.Policies["chain"] = policy;
        }));

        using (var run = host.Harness.BeginRun("agent-1"))
        using (run.BeginTask("review"))
        {
            await Chat(host, "policy/chain", Ct);
        }

        var sent = transport.Sent;
        Assert.Equal(["gateway.test", "gateway.test", "openai.test"], sent.Select(s => s.Uri.Host));
        Assert.Equal(["sig-1", "sig-2", "sig-3"], sent.Select(s => string.Join(", ", s.H("X-Signature"))));
        Assert.All(sent.Take(2), s => Assert.Equal(["agent-1"], s.H("X-Requesty-Agent")));
        Assert.DoesNotContain(sent[2].Headers.Keys, k => k.StartsWith("X-Requesty-", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(["Bearer key-openai"], sent[2].H("Authorization"));
    }

    // --- Providers with a key header and fixed headers ---------------------------------------------------------------

    private static void Azure(IAgentHarnessBuilder b) => b.AddProvider("azure", p =>
    {
        p.BaseUrl = new Uri("https://azure.test/v1");
        p.ApiKey = "key-azure";
        p.Authentication = ProviderAuthentication.ApiKeyHeader;
        p.ApiKeyHeader = "api-key";
        p.Headers["X-Tenant"] = "tenant-azure";
        p.Headers["User-Agent"] = "AzureFixed/1";
        p.MaxRetries = 2;
        p.RetryBaseDelay = TimeSpan.Zero;
    });

    [Fact]
    public async Task Retry_KeyHeaderProviderWithFixedHeaders_EveryAttemptExactlyItsCredential()
    {
        var transport = new Transport(FailFirst(2));
        using var host = Host(transport, (r, n) => r.Headers.Add("X-Signature", "sig-" + n), Azure);

        await Chat(host, "azure/gpt-4.1", Ct);

        Assert.Equal(3, transport.Sent.Count);
        Assert.All(transport.Sent, s =>
        {
            Assert.Equal(["key-azure"], s.H("api-key"));
            Assert.Empty(s.H("Authorization"));
            Assert.Equal(["tenant-azure"], s.H("X-Tenant"));
            Assert.Equal(["AzureFixed/1"], s.H("User-Agent"));
        });
        Assert.Equal(["sig-1", "sig-2", "sig-3"], transport.Sent.Select(s => string.Join(", ", s.H("X-Signature"))));
    }

    [Theory]
    [InlineData("azure/gpt-4.1", "openai/gpt-4.1")]
    [InlineData("openai/gpt-4.1", "azure/gpt-4.1")]
    public async Task Fallback_KeyHeaderProviderAndBearerProvider_EachAttemptOnlyItsOwnCredential(string first, string second)
    {
        var firstHost = first.StartsWith("azure", StringComparison.Ordinal) ? "azure.test" : "openai.test";
        var transport = new Transport((s, _) => s.Uri.Host == firstHost ? Unavailable() : Ok());
        using var host = Host(transport, null, b =>
        {
            Azure(b);
            b.Configure(o =>
            {
                var policy = new PolicyOptions { AttemptsPerModel = 2, RetryBaseDelay = TimeSpan.Zero };
                policy.Models.Add(new PolicyMemberOptions { Model = first });
                policy.Models.Add(new PolicyMemberOptions { Model = second });
                o.Policies["chain"] = policy;
            });
        });

        await Chat(host, "policy/chain", Ct);

        Assert.Equal(3, transport.Sent.Count);
        Assert.All(transport.Sent, s =>
        {
            if (s.Uri.Host == "azure.test")
            {
                Assert.Equal(["key-azure"], s.H("api-key"));
                Assert.Empty(s.H("Authorization"));
                Assert.Equal(["tenant-azure"], s.H("X-Tenant"));
            }
            else
            {
                Assert.Equal(["Bearer key-openai"], s.H("Authorization"));
                Assert.Empty(s.H("api-key"));
                Assert.Empty(s.H("X-Tenant"));
                Assert.DoesNotContain("AzureFixed/1", string.Join(" ", s.H("User-Agent")), StringComparison.Ordinal);
            }
        });
    }

    // --- Concurrency and pooled contexts -----------------------------------------------------------------------------

    /// <summary>An application handler above the harness: what it adds is, for the harness, the client's own header.</summary>
    private sealed class AboveHandler : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.TryAddWithoutValidation("X-Call", CallId.Value ?? "none");
            return base.SendAsync(request, cancellationToken);
        }
    }

    private static (TestHarness Host, Transport Transport, ConcurrentDictionary<string, int> Attempts) PerCallHost()
    {
        var attempts = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var transport = new Transport((s, _) =>
        {
            var id = string.Join(",", s.H("X-Call"));
            var n = attempts.AddOrUpdate(id, 1, (_, v) => v + 1);

            // Odd calls fail once, even calls answer at once.
            return int.TryParse(id.TrimStart('c'), out var i) && i % 2 == 1 && n == 1 ? Unavailable() : Ok();
        });
        var host = TestHarness.Create(transport, b =>
        {
            TestHarness.ThreeProviders(b);
            b.ConfigureHttpClient(c => c
                .AddHttpMessageHandler(() => new Handler((r, _) => r.Headers.Add("X-Below", CallId.Value ?? "none")))
                .ConfigureAdditionalHttpMessageHandlers((handlers, _) => handlers.Insert(0, new AboveHandler())));
        });
        return (host, transport, attempts);
    }

    private static void AssertPerCall(Transport transport, ConcurrentDictionary<string, int> attempts, int calls)
    {
        Assert.All(transport.Sent, s =>
        {
            var id = Assert.Single(s.H("X-Call"));
            Assert.Equal([id], s.H("X-Below"));
            Assert.Contains(id, s.Body, StringComparison.Ordinal);
            Assert.Equal(["Bearer key-openai"], s.H("Authorization"));
        });
        for (var i = 0; i < calls; i++)
        {
            Assert.Equal(i % 2 == 1 ? 2 : 1, attempts.GetValueOrDefault("c" + i));
        }
    }

    [Fact]
    public async Task Sequential_AlternatingRetryingCalls_PooledContextNeverLeaksAnotherCallsHeaders()
    {
        var (host, transport, attempts) = PerCallHost();
        using var _ = host;
        var client = host.Harness.GetChatClient("openai/gpt-4.1");

        for (var i = 0; i < 40; i++)
        {
            CallId.Value = "c" + i;
            await client.CompleteChatAsync([new UserChatMessage("body-c" + i + "-end")], cancellationToken: i % 3 == 0 ? CancellationToken.None : Ct);
        }

        CallId.Value = null;
        AssertPerCall(transport, attempts, 40);
        Assert.Equal(60, transport.Sent.Count);
    }

    [Fact]
    public async Task Concurrent_RetryingAndPlainCalls_EachAttemptCarriesOnlyItsOwnCallsHeaders()
    {
        var (host, transport, attempts) = PerCallHost();
        using var _ = host;
        var client = host.Harness.GetChatClient("openai/gpt-4.1");

        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(
            async () =>
            {
                CallId.Value = "c" + i;
                await Task.Yield();
                await client.CompleteChatAsync([new UserChatMessage("body-c" + i + "-end")], cancellationToken: i % 3 == 0 ? CancellationToken.None : Ct);
            },
            Ct)));

        AssertPerCall(transport, attempts, 200);
        Assert.Equal(300, transport.Sent.Count);
    }

    // --- Ledger ------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Retry_Ledger_RecordsEachFailedAttemptWithItsReason()
    {
        var transport = new Transport(FailFirst(2));
        using var host = Host(transport, (r, n) => r.Headers.Add("X-Signature", "sig-" + n));

        await Chat(host, "openai/gpt-4.1", Ct);

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(3, record.Attempts.Count);
        Assert.Equal("HTTP 503 server_error", record.Attempts[0].Error);
        Assert.Equal("HTTP 503 server_error", record.Attempts[1].Error);
        Assert.Null(record.Attempts[2].Error);
    }
    // --- More probes -------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Retry_HandlerChangesVersionOnFirstAttempt_RetryCarriesClientsVersion()
    {
        Version? clientVersion = null;
        var versions = new List<Version>();
        var transport = new Transport(FailFirst(1));
        using var host = Host(transport, (r, n) =>
        {
            lock (versions)
            {
                versions.Add(r.Version);
            }

            if (n == 1)
            {
                clientVersion = r.Version;
                r.Version = HttpVersion.Version30;
                r.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
            }
        });

        await Chat(host, "openai/gpt-4.1", Ct);

        Assert.Equal(2, versions.Count);
        Assert.Equal(clientVersion, versions[1]);
    }

    [Fact]
    public async Task Retry_GatewayDirect_CallerWritesPrefixedHeader_RunValueOncePerAttempt()
    {
        var transport = new Transport(FailFirst(2));
        using var host = TestHarness.Create(transport, b =>
        {
            TestHarness.ThreeProviders(b);
            b.ConfigureHttpClient(c => c.ConfigureAdditionalHttpMessageHandlers((handlers, _) => handlers.Insert(0, new Handler((r, _) =>
            {
                r.Headers.TryAddWithoutValidation("x-requesty-agent", "caller");
                r.Headers.TryAddWithoutValidation("X-Requesty-Custom", "caller-custom");
            }))));
        });

        using (host.Harness.BeginRun("agent-1"))
        {
            await Chat(host, "x/y", Ct);
        }

        Assert.Equal(3, transport.Sent.Count);
        Assert.All(transport.Sent, s =>
        {
            Assert.Equal(["agent-1"], s.H("X-Requesty-Agent"));
            Assert.Equal(["caller-custom"], s.H("X-Requesty-Custom"));
        });
    }

    [Fact]
    public async Task Retry_DirectProvider_CallerWritesGatewayPrefixedHeader_RemovedOnEveryAttempt()
    {
        var transport = new Transport(FailFirst(2));
        using var host = TestHarness.Create(transport, b =>
        {
            TestHarness.ThreeProviders(b);
            b.ConfigureHttpClient(c => c.ConfigureAdditionalHttpMessageHandlers((handlers, _) => handlers.Insert(0, new Handler((r, _) =>
                r.Headers.TryAddWithoutValidation("X-Requesty-Agent", "caller")))));
        });

        using (host.Harness.BeginRun("agent-1"))
        {
            await Chat(host, "openai/gpt-4.1", Ct);
        }

        Assert.Equal(3, transport.Sent.Count);
        Assert.All(transport.Sent, s => Assert.DoesNotContain(s.Headers.Keys, k => k.StartsWith("X-Requesty-", StringComparison.OrdinalIgnoreCase)));
    }

    [Fact]
    public async Task Retry_TransportThrowsOnFirstAttempt_RetryCarriesOnlyItsOwnSignature()
    {
        var transport = new Transport((_, i) => i == 0 ? throw new HttpRequestException("connection refused") : Ok());
        using var host = Host(transport, (r, n) => r.Headers.Add("X-Signature", "sig-" + n));

        await Chat(host, "openai/gpt-4.1", Ct);

        Assert.Equal(["sig-1", "sig-2"], transport.Sent.Select(s => string.Join(", ", s.H("X-Signature"))));
        Assert.Equal(transport.Sent[0].H("User-Agent"), transport.Sent[1].H("User-Agent"));
    }

    [Fact]
    public async Task Sequential_StreamsAlternatingRetry_PooledContextsCarryOnlyTheirOwnHeaders()
    {
        var attempts = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var transport = new Transport((s, _) =>
        {
            var id = string.Join(",", s.H("X-Call"));
            var n = attempts.AddOrUpdate(id, 1, (_, v) => v + 1);
            return int.TryParse(id.TrimStart('c'), out var i) && i % 2 == 1 && n == 1
                ? Unavailable()
                : Responses.EventStream(Responses.ChatStream("gpt-4.1", ["x"]));
        });
        using var host = TestHarness.Create(transport, b =>
        {
            TestHarness.ThreeProviders(b);
            b.ConfigureHttpClient(c => c
                .AddHttpMessageHandler(() => new Handler((r, _) => r.Headers.Add("X-Below", CallId.Value ?? "none")))
                .ConfigureAdditionalHttpMessageHandlers((handlers, _) => handlers.Insert(0, new AboveHandler())));
        });
        var client = host.Harness.GetChatClient("openai/gpt-4.1");

        for (var i = 0; i < 20; i++)
        {
            CallId.Value = "c" + i;
            await foreach (var _ in client.CompleteChatStreamingAsync([new UserChatMessage("body-c" + i + "-end")], cancellationToken: Ct))
            {
            }
        }

        CallId.Value = null;
        AssertPerCall(transport, attempts, 20);
        Assert.Equal(30, transport.Sent.Count);
    }
}
