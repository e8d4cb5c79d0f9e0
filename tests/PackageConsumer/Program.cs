// A fresh application on the packed AgentHarness packages: it registers the harness from
// configuration on the generic host, answers every call from the offline sandbox of
// AgentHarness.Testing, keeps usage in a SQLite file (AgentHarness.Sqlite), makes one whole and one
// streamed call in a run, and checks what came back. With a feed folder as argument it first checks
// the packages and symbol packages in it (PackageChecks). Any surprise prints why and exits 1.
using System.Reflection;
using System.Text;
using AgentHarness;
using AgentHarness.Redis;
using AgentHarness.AgentFramework;
using AgentHarness.Sqlite;
using AgentHarness.Testing;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenAI.Chat;
using PackageConsumer;

const string Model = "openai/gpt-4.1-nano";
var failures = new List<string>();
void Check(bool ok, string failure)
{
    if (!ok)
    {
        failures.Add(failure);
    }
}

var version = typeof(WarningCounter).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
    .Single(static a => a.Key == "AgentHarnessVersion").Value!;
if (args.Length > 0)
{
    var packageFailures = PackageChecks.Run(args[0], version);
    failures.AddRange(packageFailures);
    Console.WriteLine($"Packages in {args[0]}: {(packageFailures.Count == 0 ? "the four packages and their symbols are complete" : "see the failures below")}");
}

// The assemblies loaded are the packed ones, not a stale copy of another version.
foreach (var assembly in new[] { typeof(IAgentHarness).Assembly, typeof(RedisBudgetStore).Assembly, typeof(SqliteUsageLedger).Assembly, typeof(SandboxProvider).Assembly, typeof(AgentRunUsage).Assembly, typeof(AzureCredentialBuilderExtensions).Assembly })
{
    var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
    Check(informational?.Split('+')[0] == version, $"{assembly.GetName().Name} {informational} was loaded, not {version}");
}

// AgentHarness.Azure: a provider sent Entra ID tokens from a TokenCredential passes the checks at start.
{
    var services = new ServiceCollection();
    services.AddAgentHarness()
        .AddProvider("azure", static p => p.BaseUrl = new Uri("https://contoso.openai.azure.com/openai/v1/"))
        .AddAzureCredential("azure", new Azure.Identity.ManagedIdentityCredential(Azure.Identity.ManagedIdentityId.SystemAssigned));
    using var provider = services.BuildServiceProvider();
    var options = provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<AgentHarnessOptions>>().Value;
    Check(options.Providers["azure"].Authentication == ProviderAuthentication.Token, "AddAzureCredential did not make the provider a Token provider");
}

var dataDirectory = Directory.CreateTempSubdirectory("agentharness-consumer-");
var databasePath = Path.Combine(dataDirectory.FullName, "usage.db");
try
{
    var sandbox = new SandboxProvider();
    sandbox.Model(Model).Reply(static request => $"Reviewed: {request.LastUserMessage}");

    var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory });
    var warnings = new WarningCounter();
    builder.Logging.AddProvider(warnings);
    builder.Services.AddAgentHarness(builder.Configuration.GetSection("AgentHarness"))
        .AddSandboxGateway(sandbox)
        .AddSqliteUsageLedger(databasePath)
        .AddChatClient("consumer", Model);

    using var host = builder.Build();
    await host.StartAsync();
    var harness = host.Services.GetRequiredService<IAgentHarness>();

    string runId;
    decimal spent;
    using (var run = harness.BeginRun("package-consumer", static r =>
    {
        r.Branch = "main";
        r.MaxCostUsd = 0.01m;
    }))
    {
        runId = run.RunId;
        var chat = harness.GetChatClient(Model);

        ChatCompletion whole = await chat.CompleteChatAsync([new UserChatMessage("the whole answer")]);
        Check(whole.Content.Count == 1 && whole.Content[0].Text == "Reviewed: the whole answer", $"the chat call answered '{Text(whole.Content)}'");

        var streamed = new StringBuilder();
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("the streamed answer")]))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }
        }

        Check(streamed.ToString() == "Reviewed: the streamed answer", $"the streamed call answered '{streamed}'");
        Check(run.CallCount == 2, $"the run counted {run.CallCount} calls, not 2");
        Check(run.SpentUsd > 0m, "the run spent nothing: the catalog price of the model was not applied");
        spent = run.SpentUsd;
    }

    Check(sandbox.Requests.Count == 2, $"the sandbox received {sandbox.Requests.Count} requests, not 2");
    Check(
        sandbox.Requests.All(static r => r.Headers.Any(static h => h.Key.StartsWith("X-Requesty-", StringComparison.OrdinalIgnoreCase) && h.Value.Contains("package-consumer"))),
        "a request to the sandbox gateway lacks the run's agent in its metadata headers");

    var ledger = host.Services.GetRequiredService<SqliteUsageLedger>();
    await ledger.FlushAsync();
    var records = ledger.GetRecords();
    Check(records.Count == 2, $"the SQLite ledger holds {records.Count} records, not 2");
    Check(records.All(r => r.RunId == runId && r.Outcome == UsageOutcome.Succeeded && r.ModelRequested == Model), "a ledger record is not a successful call of the run");
    Check(records.Count(static r => r.Streaming) == 1, "the ledger does not hold exactly one streamed call");
    Check(ledger.Failed == 0 && ledger.Dropped == 0, $"the ledger failed {ledger.Failed} and dropped {ledger.Dropped} records");

    // An Agent Framework agent on the keyed client: its agent run is a harness run, and its response carries the cost.
    var agent = host.Services.GetRequiredKeyedService<IChatClient>("consumer").AsAIAgent(name: "consumer-agent")
        .AsBuilder().UseAgentHarnessRun(static o => o.MaxCostUsd = 0.01m).Build(host.Services);
    var agentResponse = await agent.RunAsync("the agent's answer");
    var agentUsage = agentResponse.GetHarnessUsage();
    Check(agentResponse.Text == "Reviewed: the agent's answer", $"the agent answered '{agentResponse.Text}'");
    Check(agentUsage is { Calls.Count: 1, CostUsd: > 0m, Agent: "consumer-agent" }, $"the agent's response carries {agentUsage?.ToString() ?? "no usage"}");

    await host.StopAsync();
    Check(warnings.Count == 0, $"{warnings.Count} warnings or errors were logged (see above)");

    Console.WriteLine($"AgentHarness {version}: 2 calls on the sandbox, ${spent:0.000000}, {records.Count} records in {databasePath}");
}
catch (Exception ex)
{
    failures.Add($"unexpected {ex}");
}
finally
{
    dataDirectory.Delete(recursive: true);
}

foreach (var failure in failures)
{
    Console.Error.WriteLine($"FAILED: {failure}");
}

Console.WriteLine(failures.Count == 0 ? "package consumer: OK" : $"package consumer: {failures.Count} failures");
return failures.Count == 0 ? 0 : 1;

static string Text(IEnumerable<ChatMessageContentPart> parts) => string.Concat(parts.Select(static p => p.Text));
