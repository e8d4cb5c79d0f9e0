using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using OpenAI.Chat;

namespace AgentHarness.Benchmarks;

/// <summary>The two clients every benchmark compares, over one shared <see cref="CannedHandler"/>.</summary>
internal static class HarnessSetup
{
    public const string Model = "openai/gpt-4.1-nano";
    public const string MetadataHeaderPrefix = "X-Requesty-";

    public static readonly ChatMessage[] Messages =
    [
        new SystemChatMessage("Classify the change as bug-fix, feature or refactor."),
        new UserChatMessage("diff --git a/src/Auth.cs b/src/Auth.cs\n-    if (token == null)\n+    if (token is null || token.IsExpired)"),
    ];

    /// <summary>The baseline: the official client straight on the handler, with the SDK's retries off.</summary>
    public static ChatClient CreateRawClient(HttpMessageHandler handler) => new(Model, new ApiKeyCredential("key-raw"), new OpenAIClientOptions
    {
        Endpoint = new Uri("https://raw.invalid/v1"),
        Transport = new HttpClientPipelineTransport(new HttpClient(handler, disposeHandler: false)),
        RetryPolicy = new ClientRetryPolicy(0),
    });

    /// <summary>
    /// A harness as an application configures it: a Requesty-like gateway with metadata headers
    /// (and the default retry pipeline), whose transport is the same handler.
    /// </summary>
    public static ServiceProvider CreateHarness(HttpMessageHandler handler)
    {
        var services = new ServiceCollection();
        services.AddAgentHarness()
            .AddProvider("requesty", p =>
            {
                p.BaseUrl = new Uri("https://gateway.invalid/v1");
                p.ApiKey = "key-gateway";
                p.IsGateway = true;
                p.MetadataHeaderPrefix = MetadataHeaderPrefix;
                p.RetryBaseDelay = TimeSpan.Zero;
            })
            .ConfigureHttpClient(b => b.ConfigurePrimaryHttpMessageHandler(() => handler));
        return services.BuildServiceProvider();
    }

    /// <summary>
    /// A prompt like <see cref="Messages"/> whose request body (as the official client writes it) is at least
    /// <paramref name="bodyBytes"/> bytes: the diff grows by whole lines, as an agent's context does.
    /// </summary>
    public static ChatMessage[] PromptOf(int bodyBytes)
    {
        var diff = new System.Text.StringBuilder(Messages[1].Content[0].Text);
        for (var line = 0; BodyBytes(diff) < bodyBytes; line++)
        {
            diff.Append("\n+    var session").Append(line).Append(" = await store.FindSessionAsync(user, token, cancellationToken);");
        }

        return [Messages[0], new UserChatMessage(diff.ToString())];

        static int BodyBytes(System.Text.StringBuilder diff) =>
            """{"messages":[""".Length
            + System.ClientModel.Primitives.ModelReaderWriter.Write(Messages[0]).ToMemory().Length + 1
            + System.ClientModel.Primitives.ModelReaderWriter.Write(new UserChatMessage(diff.ToString())).ToMemory().Length
            + $$"""],"model":"{{Model}}"}""".Length;
    }

    /// <summary>Opens the ambient run and task scope the harness benchmarks call in; dispose to close both.</summary>
    public static RunScope OpenRun(IAgentHarness harness, decimal? maxCostUsd = null)
    {
        var run = harness.BeginRun("code-review-agent", r =>
        {
            r.Branch = "feat/auth-refactor";
            r.MaxCostUsd = maxCostUsd;
        });
        return new RunScope(run, run.BeginTask("classify"));
    }

    /// <summary>Fails the benchmark when the harness requests did not carry the run's metadata.</summary>
    public static void EnsureMetadataSent(CannedHandler handler, IUsageLedger ledger)
    {
        if (handler.Requests == 0 || handler.WithMetadata != handler.Requests)
        {
            throw new InvalidOperationException(
                $"Only {handler.WithMetadata} of {handler.Requests} harness requests carried the run's metadata headers: the benchmark did not run inside the AgentRun.");
        }

        var records = ledger.GetRecords();
        if (records.Count == 0 || records[^1] is not { Outcome: UsageOutcome.Succeeded, Agent: "code-review-agent", Task: "classify", InputTokens: > 0 })
        {
            throw new InvalidOperationException("The harness did not record its calls as succeeded, with their run, task and usage.");
        }
    }

    internal sealed class RunScope(AgentRun run, IDisposable task) : IDisposable
    {
        public void Dispose()
        {
            task.Dispose();
            run.Dispose();
        }
    }
}
