using System.ClientModel;
using System.Text;
using AgentHarness.IntegrationTests.Support;
using AgentHarness.Testing;
using OpenAI.Chat;

namespace AgentHarness.IntegrationTests.Chat;

/// <summary>Streamed chat completions through the harness to a sandbox behind a real socket, event by event.</summary>
public sealed class StreamingChatTests
{
    private const string Model = "openai/gpt-4.1-nano";
    private const string Snapshot = "gpt-4.1-nano-2025-04-14";
    private const string Answer = "Rename the helper, add a null check and cover it with a test.";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CompleteChatStreamingAsync_OverSocket_TextMatchesAndRecordWrittenOnlyAtEnd()
    {
        await using var server = await SandboxServer.StartAsync(cancellationToken: Ct);
        server.Sandbox.Model(Model).Reply(Answer).AnswerAs(Snapshot);
        using var host = HarnessHost.WithGateway(server);

        // The server pauses after the role event and the first word: the stream is open, not ended.
        var hold = server.HoldNextStreamAfter(2);
        var text = new StringBuilder();
        var checkedMidStream = false;
        ChatTokenUsage? usage = null;
        await foreach (var update in host.Harness.GetChatClient(Model).CompleteChatStreamingAsync([new UserChatMessage("Review this diff.")], cancellationToken: Ct))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            usage ??= update.Usage;
            if (!checkedMidStream && text.Length > 0)
            {
                await hold.Reached.WaitAsync(Ct);
                Assert.Empty(host.Ledger.GetRecords());
                checkedMidStream = true;
                hold.Release();
            }
        }

        Assert.True(checkedMidStream);
        Assert.Equal(Answer, text.ToString());
        var request = Assert.Single(server.Sandbox.Requests);
        Assert.True(request.Stream);

        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Succeeded, record.Outcome);
        Assert.True(record.Streaming);
        Assert.Null(record.Error);
        Assert.Equal(request.InputTokens, record.InputTokens);
        Assert.Equal(SandboxTokens.Count(Answer), record.OutputTokens);
        Assert.NotNull(usage);
        Assert.Equal(usage.InputTokenCount, record.InputTokens);
        Assert.Equal(usage.OutputTokenCount, record.OutputTokens);
        Assert.Equal(Snapshot, record.ModelUsed);
        Assert.Equal("requesty", record.Provider);
    }

    [Fact]
    public async Task CompleteChatStreamingAsync_StreamCutAfterThreeEvents_ThrowsAndRecordsIncomplete()
    {
        await using var server = await SandboxServer.StartAsync(cancellationToken: Ct);
        server.Sandbox.Model(Model).Reply(Answer).CutStreamAfter(3);
        using var host = HarnessHost.WithGateway(server);

        var text = new StringBuilder();
        var error = await Assert.ThrowsAsync<StreamInterruptedException>(async () =>
        {
            await foreach (var update in host.Harness.GetChatClient(Model).CompleteChatStreamingAsync([new UserChatMessage("Review this diff.")], cancellationToken: Ct))
            {
                foreach (var part in update.ContentUpdate)
                {
                    text.Append(part.Text);
                }
            }
        });

        // The role event and two words arrived, then the body ended without usage or [DONE]:
        // a typed failure, never a silent success.
        Assert.Equal("Rename the ", text.ToString());
        Assert.Equal(3, error.EventsReceived);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Incomplete, record.Outcome);
        Assert.True(record.Streaming);
        Assert.NotNull(record.Error);

        // No usage event arrived: the record shows the tokens it was charged for, counted from what arrived.
        Assert.True(record.OutputTokens > 0);
        Assert.True(record.InputTokens > 0);
    }

    [Fact]
    public async Task CompleteChatStreamingAsync_CallerCancelsMidStream_RecordedCanceled()
    {
        await using var server = await SandboxServer.StartAsync(cancellationToken: Ct);
        server.Sandbox.Model(Model).Reply(Answer);
        using var host = HarnessHost.WithGateway(server);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        // The server stops after the first word and never sends the rest: only the cancellation can end the read.
        var hold = server.HoldNextStreamAfter(2);
        var text = new StringBuilder();
        var error = await Record.ExceptionAsync(async () =>
        {
            await foreach (var update in host.Harness.GetChatClient(Model).CompleteChatStreamingAsync([new UserChatMessage("Review this diff.")], cancellationToken: cts.Token))
            {
                foreach (var part in update.ContentUpdate)
                {
                    text.Append(part.Text);
                }

                if (text.Length > 0 && !cts.IsCancellationRequested)
                {
                    await hold.Reached.WaitAsync(Ct);
                    await cts.CancelAsync();
                }
            }
        });

        Assert.IsAssignableFrom<OperationCanceledException>(error);
        Assert.Equal("Rename ", text.ToString());
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal(UsageOutcome.Canceled, record.Outcome);
        Assert.NotNull(record.Error);
        Assert.True(record.Streaming);
    }

    [Fact]
    public async Task CompleteChatStreamingAsync_ConnectionClosedAfterTheRoleChunk_TheClientsErrorNamingTheConnectionFailure()
    {
        // Before any output: the candidate's failure, and a direct call's answer is the official client's own error.
        const string RoleOnly = """data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m1","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}""" + "\n\n";
        await using var server = ShortBodyServer.Start(RoleOnly, "text/event-stream");
        using var host = HarnessHost.Create(builder => builder.AddProvider("a", p =>
        {
            p.BaseUrl = server.BaseUrl;
            p.ApiKey = "key-a";
            p.MaxRetries = 0;
        }).Configure(static o => o.Catalog.UnpricedModels = UnpricedModelHandling.Allow));

        var ex = await Assert.ThrowsAsync<ClientResultException>(async () =>
        {
            await foreach (var _ in host.Harness.GetChatClient("a/m1").CompleteChatStreamingAsync([new UserChatMessage("Review this diff.")], cancellationToken: Ct))
            {
            }
        });

        const string Message = "Model 'm1' via 'a' did not answer: connection failed (ResponseEnded).";
        Assert.Equal(Message, Assert.IsType<HttpRequestException>(ex.InnerException).Message);
        Assert.Equal(1, server.Requests);
        var record = Assert.Single(host.Ledger.GetRecords());
        Assert.Equal((UsageOutcome.Failed, Message), (record.Outcome, record.Error));
    }
}
