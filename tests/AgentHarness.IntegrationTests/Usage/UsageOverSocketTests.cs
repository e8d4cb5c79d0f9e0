using System.Collections.Concurrent;
using AgentHarness.IntegrationTests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI.Chat;

namespace AgentHarness.IntegrationTests.Usage;

/// <summary>Usage queries over real sockets: the typed Requesty client against a loopback Kestrel server, and the SQLite ledger behind real calls.</summary>
public sealed class UsageOverSocketTests
{
    private const string ManagementKey = "key-management";

    private static readonly UsageQuery Week = new()
    {
        Start = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero),
        End = new DateTimeOffset(2026, 5, 7, 23, 59, 59, TimeSpan.Zero),
        Resolution = UsageResolution.Day,
        GroupBy = [UsageGroupKeys.ModelRequested, "extra.agent"],
    };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task GetApiKeyUsageAsync_OverSocket_TheJsonBodyOfTheGetReachesTheServer()
    {
        var seen = new ConcurrentQueue<(string Method, string Path, string Query, string Body, string Authorization)>();
        await using var server = await StartAsync(seen, """
            {"usage":{"2026-05-02":{"spend":"0.0042","input_tokens":1200,"output_tokens":80,"total_tokens":1280,"total_requests":3,"completions_requests":3,
              "grouped_data":[{"group_by_values":{"model_requested":"policy/claude-4","extra.agent":"code-review-agent"},"spend":"0.0042","input_tokens":1200,"output_tokens":80,"total_tokens":1280,"total_requests":3}]}}}
            """);
        await using var services = Services(server.Address, form: null);

        var report = await services.GetRequiredService<RequestyUsageClient>().ForApiKey("3c90c3cc").GetUsageAsync(Week, Ct);

        var request = Assert.Single(seen);
        Assert.Equal(("GET", "/v1/manage/apikey/3c90c3cc/usage", string.Empty), (request.Method, request.Path, request.Query));
        Assert.Equal("""{"start":"2026-05-01T00:00:00Z","end":"2026-05-07T23:59:59Z","resolution":"day","group_by":["model_requested","extra.agent"]}""", request.Body);
        Assert.Equal("Bearer " + ManagementKey, request.Authorization);
        Assert.Equal(7, report.Periods.Count);
        Assert.Equal(0.0042m, report.Totals.SpendUsd);
        Assert.Equal("code-review-agent", Assert.Single(report.Groups).Values["extra.agent"]);
    }

    [Fact]
    public async Task GetOrganizationUsageAsync_OverSocket_SendsTheQueryString()
    {
        var seen = new ConcurrentQueue<(string Method, string Path, string Query, string Body, string Authorization)>();
        await using var server = await StartAsync(seen, """{"usage":{}}""");
        await using var services = Services(server.Address, form: null);

        var report = await services.GetRequiredService<RequestyUsageClient>().GetOrganizationUsageAsync(Week, Ct);

        var request = Assert.Single(seen);
        Assert.Equal("/v1/manage/org/usage", request.Path);
        Assert.Equal("?start=2026-05-01T00%3A00%3A00Z&end=2026-05-07T23%3A59%3A59Z&resolution=day&group_by=model_requested&group_by=extra.agent", request.Query);
        Assert.Equal(string.Empty, request.Body);
        Assert.Equal(0m, report.Totals.SpendUsd);
    }

    [Fact]
    public async Task SqliteLedger_CallsOverSocket_ReportedAfterTheLedgerIsReopened()
    {
        var directory = Directory.CreateTempSubdirectory("agentharness-it-");
        var path = Path.Combine(directory.FullName, "usage.db");
        try
        {
            await using var gateway = await SandboxServer.StartAsync(cancellationToken: Ct);
            gateway.Sandbox.Model("openai/gpt-4.1-nano").Reply("refactor");
            gateway.Sandbox.Model("policy/claude-4").Reply("Looks fine.").ReportCost(0.000003m, 0.000015m);
            UsageReport live;
            var query = new UsageQuery { Start = DateTimeOffset.UtcNow.AddHours(-1), End = DateTimeOffset.UtcNow.AddHours(1), GroupBy = ["extra.task"] };
            using (var host = HarnessHost.Create(b => HarnessHost.AddGateway(b, gateway)
                .Configure(o => o.Catalog.Models["policy/claude-4"] = new ModelPriceOptions { InputPerToken = 0.000003m, OutputPerToken = 0.000015m })
                .AddSqliteUsageLedger(path)))
            {
                using var run = host.Harness.BeginRun("code-review-agent");
                using (run.BeginTask("classify"))
                {
                    await host.Harness.GetChatClient("openai/gpt-4.1-nano").CompleteChatAsync([new UserChatMessage("diff")], cancellationToken: Ct);
                }

                using (run.BeginTask("review"))
                {
                    await foreach (var _ in host.Harness.GetChatClient("policy/claude-4").CompleteChatStreamingAsync([new UserChatMessage("diff")], cancellationToken: Ct))
                    {
                    }
                }

                live = await host.Ledger.GetUsageAsync(query, Ct);
                Assert.Equal(run.SpentUsd, live.Totals.SpendUsd);
            }

            await using var reopened = new AgentHarness.Sqlite.SqliteUsageLedger(new AgentHarness.Sqlite.SqliteUsageLedgerOptions { Path = path });
            var after = await reopened.GetUsageAsync(query, Ct);

            Assert.Equal(2, after.Totals.Requests);
            Assert.Equal(["classify", "review"], after.Groups.Select(g => g.Values["extra.task"]).Order(StringComparer.Ordinal));
            Assert.Equal(live.ToJson(), after.ToJson());
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static ServiceProvider Services(Uri address, RequestyQueryForm? form)
    {
        var services = new ServiceCollection();
        services.AddAgentHarness().AddRequestyUsageClient(o =>
        {
            o.BaseAddress = address;
            o.ApiKey = ManagementKey;
            o.QueryForm = form;
        });
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    /// <summary>A loopback Kestrel server answering every request with <paramref name="answer"/>, recording what it received.</summary>
    private static async Task<RunningServer> StartAsync(ConcurrentQueue<(string, string, string, string, string)> seen, string answer)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(UsageOverSocketTests).Assembly.GetName().Name });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.Run(async context =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync(context.RequestAborted);
            seen.Enqueue((context.Request.Method, context.Request.Path.Value ?? string.Empty, context.Request.QueryString.Value ?? string.Empty, body, context.Request.Headers.Authorization.ToString()));
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(answer, context.RequestAborted);
        });
        await app.StartAsync(Ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new RunningServer(app, new Uri(address));
    }

    private sealed class RunningServer(WebApplication app, Uri address) : IAsyncDisposable
    {
        public Uri Address { get; } = address;

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
