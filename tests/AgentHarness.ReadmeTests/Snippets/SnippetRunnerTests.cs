using AgentHarness.ReadmeTests.Markdown;

namespace AgentHarness.ReadmeTests.Snippets;

/// <remarks>
/// Alone, after the other classes: a test here reads the process's environment once its program has run, and a README
/// program another class starts the moment the runner is free takes every <c>*_API_KEY</c> variable off while it runs.
/// </remarks>
[Collection(SnippetRunnerCollection.Name)]
public sealed class SnippetRunnerTests
{
    private static readonly TimeSpan HangTimeout = TimeSpan.FromSeconds(60);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RunAsync_ProgramThatThrows_ReportsTheExceptionAtItsReadmeLine()
    {
        var run = await RunAsync("text\n```csharp\nConsole.WriteLine(\"before\");\nthrow new InvalidOperationException(\"from the README\");\n```\n");

        var exception = Assert.IsType<InvalidOperationException>(run.Exception);
        Assert.Equal("from the README", exception.Message);
        Assert.Contains("README.md:line 4", exception.StackTrace, StringComparison.Ordinal);
        Assert.Equal("before" + Environment.NewLine, run.Output);
    }

    [Fact]
    public async Task RunAsync_ProgramThatConnects_ReportsTheConnection()
    {
        // A loopback listener of this test's own: the connection the program makes never leaves the machine.
        var run = await RunAsync(
            """
            ```csharp
            using System.Net;
            using System.Net.Sockets;

            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
            listener.Stop();
            ```
            """);

        Assert.False(run.Succeeded);
        Assert.StartsWith("ConnectStart ", Assert.Single(run.NetworkUse), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_Environment_HasNoApiKeyAndTheWorkingDirectory()
    {
        Environment.SetEnvironmentVariable("README_RUNNER_TEST_API_KEY", "sk-not-for-snippets");
        try
        {
            var directory = Directory.CreateTempSubdirectory("agentharness-readme-runner-").FullName;
            var run = await RunAsync(
                """
                ```csharp
                Console.Write(Environment.GetEnvironmentVariable("README_RUNNER_TEST_API_KEY") ?? "no key");
                Console.Write(" in " + Directory.GetCurrentDirectory());
                ```
                """,
                directory);

            Assert.True(run.Succeeded, run.Exception?.ToString());
            // The console is process wide: a line written late by another program's background writer (a host's
            // console logger) may land in this capture too, so the check is for this program's own text.
            Assert.Contains($"no key in {directory}", run.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("sk-not-for-snippets", run.Output, StringComparison.Ordinal);
            Assert.Equal("sk-not-for-snippets", Environment.GetEnvironmentVariable("README_RUNNER_TEST_API_KEY"));
            Directory.Delete(directory);
        }
        finally
        {
            Environment.SetEnvironmentVariable("README_RUNNER_TEST_API_KEY", null);
        }
    }

    private static async Task<SnippetRun> RunAsync(string markdown, string? workingDirectory = null)
    {
        var document = ReadmeDocument.Parse(markdown, "test.md");
        var snippet = PreparedSnippet.Prepare(document, document.Blocks.Single());
        Assert.True(snippet.Compiled!.Succeeded, string.Join('\n', snippet.Compiled.Problems));
        return await SnippetRunner.RunAsync(snippet.Compiled, workingDirectory ?? Path.GetTempPath(), HangTimeout, Ct);
    }
}

/// <summary>The runner's own tests, which look at the process-wide environment after a run: run with nothing else.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SnippetRunnerCollection
{
    public const string Name = "Snippet runner";
}
