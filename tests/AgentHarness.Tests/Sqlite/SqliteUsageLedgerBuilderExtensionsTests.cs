using AgentHarness.Sqlite;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using OpenAI.Chat;

namespace AgentHarness.Tests.Sqlite;

public sealed class SqliteUsageLedgerBuilderExtensionsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AddSqliteUsageLedger_CallThroughTheHarness_EndsUpInTheSqliteReport()
    {
        using var db = new TempDatabase();
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1-nano-2025-04-14", promptTokens: 10, completionTokens: 2)));
        var query = new UsageQuery
        {
            Start = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero),
            End = new DateTimeOffset(2026, 5, 1, 23, 59, 59, TimeSpan.Zero),
            GroupBy = [UsageGroupKeys.ModelRequested, UsageGroupKeys.ModelUsed, "extra.branch", "extra.task"],
        };

        using (var host = TestHarness.Create(mock.Handler, b =>
        {
            TestHarness.ThreeProviders(b);
            b.AddSqliteUsageLedger(db.FilePath);
        }))
        {
            var ledger = Assert.IsType<SqliteUsageLedger>(host.Ledger);
            Assert.Same(ledger, host.Services.GetRequiredService<SqliteUsageLedger>());
            using (var run = host.Harness.BeginRun("code-review-agent", r => r.Branch = "feat/auth-refactor"))
            using (run.BeginTask("classify"))
            {
                await host.Harness.GetChatClient("openai/gpt-4.1-nano").CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
            }

            var report = await ledger.GetUsageAsync(query, Ct);

            var group = Assert.Single(report.Groups);
            Assert.Equal("openai/gpt-4.1-nano", group.Values[UsageGroupKeys.ModelRequested]);
            Assert.Equal("gpt-4.1-nano-2025-04-14", group.Values[UsageGroupKeys.ModelUsed]);
            Assert.Equal("feat/auth-refactor", group.Values["extra.branch"]);
            Assert.Equal("classify", group.Values["extra.task"]);
            Assert.Equal(1, group.Totals.Requests);
            Assert.Equal(1, group.Totals.CompletionsRequests);
            Assert.Equal(12, group.Totals.TotalTokens);
            UsageReportAssert.Equal(UsageReport.FromRecords(query, ledger.GetRecords()), report);
        }

        // Disposing the service provider wrote and closed the file: the call is there after a restart.
        await using var reopened = new SqliteUsageLedger(new SqliteUsageLedgerOptions { Path = db.FilePath });
        var record = Assert.Single(reopened.GetRecords());
        Assert.Equal("openai", record.Provider);
        Assert.Equal("feat/auth-refactor", record.Metadata["branch"]);
        Assert.Equal(UsageOutcome.Succeeded, record.Outcome);
    }

    [Fact]
    public async Task AddSqliteUsageLedger_Section_BindsOptionsAndReplacesTheInMemoryLedger()
    {
        using var db = new TempDatabase();
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["AgentHarness:Sqlite:Path"] = db.FilePath,
                ["AgentHarness:Sqlite:QueueCapacity"] = "42",
                ["AgentHarness:Sqlite:BatchSize"] = "7",
            })
            .Build();
        var services = new ServiceCollection();
        services.AddAgentHarness().AddSqliteUsageLedger(configuration.GetSection("AgentHarness:Sqlite"));
        await using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<SqliteUsageLedgerOptions>>().Value;
        var ledger = provider.GetRequiredService<IUsageLedger>();

        Assert.Equal((db.FilePath, 42, 7), (options.Path, options.QueueCapacity, options.BatchSize));
        Assert.Same(provider.GetRequiredService<SqliteUsageLedger>(), Assert.IsType<SqliteUsageLedger>(ledger));
        Assert.Single(services, d => d.ServiceType == typeof(IUsageLedger));
    }

    [Fact]
    public void AddSqliteUsageLedger_InvalidSection_FailsValidationNamingEachSettingAndValue()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Usage:Ledger:Path"] = string.Empty,
                ["Usage:Ledger:QueueCapacity"] = "0",
            })
            .Build();
        var services = new ServiceCollection();
        services.AddAgentHarness().AddSqliteUsageLedger(configuration.GetSection("Usage:Ledger"));
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IUsageLedger>());

        Assert.Contains("Usage:Ledger:Path is required", error.Message, StringComparison.Ordinal);
        Assert.Contains("Usage:Ledger:QueueCapacity must be at least 1; got 0.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddSqliteUsageLedger_PathThatCannotBeOpened_ModelCallsStillSucceed()
    {
        using var db = new TempDatabase();
        Directory.CreateDirectory(db.FilePath);
        var mock = new RecordingMock();
        mock.Respond("https://openai.test/v1/chat/completions", _ => Responses.Json(Responses.ChatJson("gpt-4.1-nano-2025-04-14")));
        var logs = new FakeLogCollector();

        using var host = TestHarness.Create(
            mock.Handler,
            b =>
            {
                TestHarness.ThreeProviders(b);
                b.AddSqliteUsageLedger(db.FilePath);
            },
            s => s.AddLogging(l => l.AddProvider(new FakeLoggerProvider(logs))));
        var chat = host.Harness.GetChatClient("openai/gpt-4.1-nano");
        var first = await chat.CompleteChatAsync([new UserChatMessage("a")], cancellationToken: Ct);
        var second = await chat.CompleteChatAsync([new UserChatMessage("b")], cancellationToken: Ct);

        Assert.Equal("ok", first.Value.Content[0].Text);
        Assert.Equal("ok", second.Value.Content[0].Text);
        var ledger = Assert.IsType<SqliteUsageLedger>(host.Ledger);
        await ledger.FlushAsync(Ct);
        Assert.Equal((0L, 2L), (ledger.Written, ledger.Failed));
        Assert.Contains(logs.GetSnapshot(), r => r.Id.Id == 305 && r.Message.Contains(db.FilePath, StringComparison.Ordinal));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ledger.GetUsageAsync(new UsageQuery
        {
            Start = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero),
            End = new DateTimeOffset(2026, 5, 1, 23, 59, 59, TimeSpan.Zero),
        }, Ct));
        Assert.Contains("AgentHarness:Sqlite:Path", error.Message, StringComparison.Ordinal);
        Assert.Contains(db.FilePath, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddSqliteUsageLedger_SectionPathThatCannotBeOpened_ResolvesAndQueriesNameTheSetting()
    {
        using var db = new TempDatabase();
        Directory.CreateDirectory(db.FilePath);
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Usage:Ledger:Path"] = db.FilePath })
            .Build();
        var services = new ServiceCollection();
        services.AddAgentHarness().AddSqliteUsageLedger(configuration.GetSection("Usage:Ledger"));
        using var provider = services.BuildServiceProvider();

        var ledger = Assert.IsType<SqliteUsageLedger>(provider.GetRequiredService<IUsageLedger>());

        var error = Assert.Throws<InvalidOperationException>(() => ledger.GetRecords());
        Assert.Contains("Usage:Ledger:Path", error.Message, StringComparison.Ordinal);
        Assert.Contains(db.FilePath, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddSqliteUsageLedger_EmptyPath_ThrowsArgumentException()
    {
        var builder = new ServiceCollection().AddAgentHarness();

        Assert.Throws<ArgumentException>(() => builder.AddSqliteUsageLedger(" "));
    }
}
