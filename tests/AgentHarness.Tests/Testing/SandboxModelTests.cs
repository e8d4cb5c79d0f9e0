using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using AgentHarness.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using OpenAI.Chat;
using Xunit;

namespace AgentHarness.Tests.Testing;

public sealed class SandboxModelTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task FailWith_429TwiceWithRetryAfter_FailsTwiceThenAnswers()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("openai/gpt-4.1-nano").Reply("recovered").FailWith(429, TimeSpan.FromSeconds(1.2), times: 2);
        var chat = SandboxClients.Chat(sandbox);

        for (var attempt = 0; attempt < 2; attempt++)
        {
            var failure = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct));
            Assert.Equal(429, failure.Status);
            var raw = failure.GetRawResponse()!;
            Assert.True(raw.Headers.TryGetValue("Retry-After", out var retryAfter));
            Assert.Equal("2", retryAfter);
            var error = JsonDocument.Parse(raw.Content.ToString()).RootElement.GetProperty("error");
            Assert.Equal("rate_limit_exceeded", error.GetProperty("type").GetString());
            Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
        }

        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal("recovered", completion.Content[0].Text);
        Assert.Equal(3, sandbox.Requests.Count);
    }

    [Theory]
    [InlineData(500, "server_error", null)]
    [InlineData(502, "server_error", null)]
    [InlineData(503, "server_error", null)]
    [InlineData(401, "invalid_request_error", "invalid_api_key")]
    [InlineData(404, "invalid_request_error", null)]
    public async Task FailWith_Status_ReturnsOpenAIShapedError(int status, string type, string? code)
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("m").FailWith(status);
        using var http = SandboxClients.Http(sandbox);

        using var response = await http.PostAsync("v1/chat/completions", SandboxClients.Json(SandboxClients.ChatBody("m", "hi")), Ct);
        var error = (await SandboxClients.ReadJsonAsync(response)).GetProperty("error");

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.Null(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task FailWith_DefaultTimes_FailsEveryRequest()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("m").FailWith(500);
        using var http = SandboxClients.Http(sandbox);

        for (var i = 0; i < 3; i++)
        {
            using var response = await http.PostAsync("v1/chat/completions", SandboxClients.Json(SandboxClients.ChatBody("m", "hi")), Ct);
            Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        }
    }

    [Fact]
    public async Task FailWith_EmbeddingsRequest_FailsToo()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("openai/text-embedding-3-small").FailWith(503, times: 1);
        var embeddings = SandboxClients.Embeddings(sandbox);

        var failure = await Assert.ThrowsAsync<ClientResultException>(() => embeddings.GenerateEmbeddingAsync("x", cancellationToken: Ct));
        var recovered = await embeddings.GenerateEmbeddingAsync("x", cancellationToken: Ct);

        Assert.Equal(503, failure.Status);
        Assert.Equal(8, recovered.Value.ToFloats().Length);
    }

    [Theory]
    [InlineData(399)]
    [InlineData(200)]
    [InlineData(600)]
    public void FailWith_StatusOutsideErrorRange_Throws(int status)
    {
        var model = new SandboxProvider().Model("m");

        Assert.Throws<ArgumentOutOfRangeException>(() => model.FailWith(status));
    }

    [Fact]
    public void FailWith_ZeroTimes_Throws()
    {
        var model = new SandboxProvider().Model("m");

        Assert.Throws<ArgumentOutOfRangeException>(() => model.FailWith(500, times: 0));
    }

    [Fact]
    public async Task WithContextWindow_InputOverWindow_Returns400ContextLengthExceeded()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("m").WithContextWindow(100);
        using var http = SandboxClients.Http(sandbox);
        var user = new string('x', 400);

        using var response = await http.PostAsync("v1/chat/completions", SandboxClients.Json(SandboxClients.ChatBody("m", user)), Ct);
        var error = (await SandboxClients.ReadJsonAsync(response)).GetProperty("error");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(
            "This model's maximum context length is 100 tokens. However, your messages resulted in 103 tokens. Please reduce the length of the messages.",
            error.GetProperty("message").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal("messages", error.GetProperty("param").GetString());
        Assert.Equal("context_length_exceeded", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task WithContextWindow_InputWithinWindow_Answers()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("m").WithContextWindow(103).Reply("fits");
        using var http = SandboxClients.Http(sandbox);

        using var response = await http.PostAsync("v1/chat/completions", SandboxClients.Json(SandboxClients.ChatBody("m", new string('x', 400))), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task FailWithContextLengthExceeded_SmallRequestOnce_ReportsExcessThenAnswers()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("openai/gpt-4.1-nano").FailWithContextLengthExceeded(times: 1);
        var chat = SandboxClients.Chat(sandbox);

        var failure = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct));
        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal(400, failure.Status);
        var error = JsonDocument.Parse(failure.GetRawResponse()!.Content.ToString()).RootElement.GetProperty("error");
        Assert.Equal("context_length_exceeded", error.GetProperty("code").GetString());
        Assert.Equal(
            "This model's maximum context length is 8192 tokens. However, your messages resulted in 8193 tokens. Please reduce the length of the messages.",
            error.GetProperty("message").GetString());
        Assert.NotEmpty(completion.Content[0].Text);
    }

    [Fact]
    public async Task WithLatency_FakeClock_AnswersOnlyAfterClockAdvances()
    {
        var start = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var clock = new FakeTimeProvider(start);
        var sandbox = new SandboxProvider(clock);
        sandbox.Model("m").WithLatency(TimeSpan.FromSeconds(5)).Reply("late");
        using var http = SandboxClients.Http(sandbox);

        var pending = http.PostAsync("v1/chat/completions", SandboxClients.Json(SandboxClients.ChatBody("m", "hi")), Ct);
        Assert.False(pending.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(4.9));
        Assert.False(pending.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(0.1));
        using var response = await pending;

        var json = await SandboxClients.ReadJsonAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("late", json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(start.AddSeconds(5).ToUnixTimeSeconds(), json.GetProperty("created").GetInt64());
        Assert.Equal(start, Assert.Single(sandbox.Requests).ReceivedAt);
    }

    [Fact]
    public async Task WithLatency_RequestCancelled_ThrowsWithoutAnswering()
    {
        var clock = new FakeTimeProvider();
        var sandbox = new SandboxProvider(clock);
        sandbox.Model("m").WithLatency(TimeSpan.FromMinutes(1));
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://sandbox.test/v1/chat/completions")
        {
            Content = SandboxClients.Json(SandboxClients.ChatBody("m", "hi")),
        };

        var pending = sandbox.HandleAsync(request, cancellation.Token);
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        Assert.Single(sandbox.Requests);
    }

    [Fact]
    public async Task WithLatency_ThenCountedFailure_FailsOnlyAfterLatency()
    {
        var clock = new FakeTimeProvider();
        var sandbox = new SandboxProvider(clock);
        sandbox.Model("m").WithLatency(TimeSpan.FromSeconds(2)).FailWith(502, times: 1);
        using var http = SandboxClients.Http(sandbox);

        var pending = http.PostAsync("v1/chat/completions", SandboxClients.Json(SandboxClients.ChatBody("m", "hi")), Ct);
        Assert.False(pending.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(2));
        using var response = await pending;

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
    }

    [Fact]
    public async Task CutStreamAfter_Three_EndsBodyAfterThreeEventsWithoutDone()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("m").Reply("one two three four five").CutStreamAfter(3);
        using var http = SandboxClients.Http(sandbox);

        using var response = await http.PostAsync(
            "v1/chat/completions",
            SandboxClients.Json(SandboxClients.ChatBody("m", "hi", stream: true, includeUsage: true)),
            Ct);
        var events = await SandboxClients.ReadEventsAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, events.Count);
        Assert.DoesNotContain("[DONE]", events);
        Assert.DoesNotContain(events, e => e.Contains("\"usage\"", StringComparison.Ordinal));
        Assert.All(events, e => JsonDocument.Parse(e));
    }

    [Fact]
    public async Task CutStreamAfter_OfficialClient_YieldsPartialAnswerWithoutUsage()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("openai/gpt-4.1-nano").Reply("one two three four five").CutStreamAfter(3);

        var text = new System.Text.StringBuilder();
        ChatTokenUsage? usage = null;
        await foreach (var update in SandboxClients.Chat(sandbox).CompleteChatStreamingAsync([new UserChatMessage("hi")], cancellationToken: Ct))
        {
            text.Append(string.Concat(update.ContentUpdate.Select(part => part.Text)));
            usage ??= update.Usage;
        }

        Assert.Equal("one two ", text.ToString());
        Assert.Null(usage);
    }

    [Fact]
    public async Task Reply_Function_ReceivesParsedRequest()
    {
        var sandbox = new SandboxProvider();
        SandboxRequest? seen = null;
        sandbox.Model("openai/gpt-4.1-nano").Reply(request =>
        {
            seen = request;
            return $"echo: {request.LastUserMessage}";
        });

        ChatCompletion completion = await SandboxClients.Chat(sandbox).CompleteChatAsync(
            [new SystemChatMessage("You are terse."), new UserChatMessage("first"), new AssistantChatMessage("ok"), new UserChatMessage("second")],
            new ChatCompletionOptions { MaxOutputTokenCount = 50 },
            Ct);

        Assert.Equal("echo: second", completion.Content[0].Text);
        Assert.NotNull(seen);
        Assert.Equal("You are terse.", seen.SystemPrompt);
        Assert.Equal("second", seen.LastUserMessage);
        Assert.Equal(50, seen.MaxTokens);
        Assert.Equal(["system", "user", "assistant", "user"], seen.Messages.Select(m => m.Role));
    }

    [Fact]
    public async Task Reply_AnswerLongerThanMaxTokens_TruncatesWithLengthFinishReason()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("openai/gpt-4.1-nano").Reply("abcdefghijklmnopqrstuvwxyz");

        ChatCompletion completion = await SandboxClients.Chat(sandbox).CompleteChatAsync(
            [new UserChatMessage("hi")],
            new ChatCompletionOptions { MaxOutputTokenCount = 2 },
            Ct);

        Assert.Equal("abcdefgh", completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(2, completion.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task AnswerAs_ModelName_IsReportedInResponse()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("policy/claude-4").AnswerAs("claude-sonnet-4-5-20250929");

        ChatCompletion completion = await SandboxClients.Chat(sandbox, "policy/claude-4").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal("claude-sonnet-4-5-20250929", completion.Model);
        Assert.Equal("policy/claude-4", Assert.Single(sandbox.Requests).Model);
        Assert.Single(sandbox.RequestsFor("policy/claude-4"));
    }

    [Fact]
    public async Task Reset_AfterScripting_RestoresDefaultBehaviour()
    {
        var sandbox = new SandboxProvider();
        var model = sandbox.Model("openai/gpt-4.1-nano")
            .Reply("scripted")
            .AnswerAs("other")
            .WithContextWindow(1)
            .FailWith(500);

        Assert.Same(model, model.Reset());
        ChatCompletion completion = await SandboxClients.Chat(sandbox).CompleteChatAsync([new UserChatMessage("question")], cancellationToken: Ct);

        Assert.Equal("Sandbox answer from openai/gpt-4.1-nano to: question", completion.Content[0].Text);
        Assert.Equal("openai/gpt-4.1-nano", completion.Model);
    }

    [Fact]
    public void FluentMethods_InvalidArguments_Throw()
    {
        var model = new SandboxProvider().Model("m");

        Assert.Throws<ArgumentOutOfRangeException>(() => model.WithContextWindow(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.WithLatency(TimeSpan.FromSeconds(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.CutStreamAfter(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.FailWith(429, TimeSpan.FromSeconds(-1)));
        Assert.Throws<ArgumentException>(() => model.AnswerAs(""));
        Assert.Throws<ArgumentNullException>(() => model.Reply((string)null!));
    }

    [Fact]
    public async Task ReplyWithToolCall_OfficialClient_CallsTheToolThenAnswersWithTextOnceTheResultIsSent()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("m").ReplyWithToolCall("get_diff", """{"path":"a.py"}""").Reply(static request => "Reviewed: " + request.Messages[^1].Content);
        var chat = SandboxClients.Chat(sandbox, "m");
        List<ChatMessage> messages = [new UserChatMessage("Review a.py")];

        ChatCompletion first = await chat.CompleteChatAsync(messages, ToolOptions(), Ct);

        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        Assert.Empty(first.Content);
        var call = Assert.Single(first.ToolCalls);
        Assert.Equal("call_sbx_1", call.Id);
        Assert.Equal(ChatToolCallKind.Function, call.Kind);
        Assert.Equal("get_diff", call.FunctionName);
        Assert.Equal("""{"path":"a.py"}""", call.FunctionArguments.ToString());

        // Completion tokens count the name (8 characters) and the arguments (15).
        Assert.Equal(2 + 4, first.Usage.OutputTokenCount);

        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage(call.Id, "- old\n+ new"));
        ChatCompletion second = await chat.CompleteChatAsync(messages, ToolOptions(), Ct);

        Assert.Equal(ChatFinishReason.Stop, second.FinishReason);
        Assert.Empty(second.ToolCalls);
        Assert.Equal("Reviewed: - old\n+ new", second.Content[0].Text);
    }

    [Fact]
    public async Task ReplyWithToolCall_OfficialClientStreaming_ParsesTheCallThenStreamsTextOnceTheResultIsSent()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("m").ReplyWithToolCall("get_diff", """{"path":"src/a.py","context":3}""").Reply("Looks good");
        var chat = SandboxClients.Chat(sandbox, "m");
        List<ChatMessage> messages = [new UserChatMessage("Review a.py")];

        var (id, name, arguments, finish) = (default(string), default(string), new StringBuilder(), default(ChatFinishReason?));
        var indexes = new HashSet<int>();
        await foreach (var update in chat.CompleteChatStreamingAsync(messages, ToolOptions(), Ct))
        {
            foreach (var part in update.ToolCallUpdates)
            {
                indexes.Add(part.Index);
                id ??= part.ToolCallId;
                name ??= part.FunctionName;
                arguments.Append(part.FunctionArgumentsUpdate?.ToString());
            }

            finish = update.FinishReason ?? finish;
        }

        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.Equal([0], indexes);
        Assert.Equal("call_sbx_1", id);
        Assert.Equal("get_diff", name);
        Assert.Equal("""{"path":"src/a.py","context":3}""", arguments.ToString());

        messages.Add(new AssistantChatMessage([ChatToolCall.CreateFunctionToolCall(id, name, BinaryData.FromString(arguments.ToString()))]));
        messages.Add(new ToolChatMessage(id, "diff"));
        var text = new StringBuilder();
        await foreach (var update in chat.CompleteChatStreamingAsync(messages, ToolOptions(), Ct))
        {
            Assert.Empty(update.ToolCallUpdates);
            text.Append(string.Concat(update.ContentUpdate.Select(static c => c.Text)));
            finish = update.FinishReason ?? finish;
        }

        Assert.Equal("Looks good", text.ToString());
        Assert.Equal(ChatFinishReason.Stop, finish);
    }

    [Fact]
    public async Task ReplyWithToolCall_Streamed_SendsOpenAIChunkShape()
    {
        var sandbox = new SandboxProvider(new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000)));
        sandbox.Model("m").ReplyWithToolCall("get_diff", """{"path":"a.py"}""");
        using var http = SandboxClients.Http(sandbox);
        var body = new { model = "m", stream = true, stream_options = new { include_usage = true }, messages = new[] { new { role = "user", content = "go" } }, tools = new[] { GetDiffTool } };

        using var response = await http.PostAsync("v1/chat/completions", SandboxClients.Json(body), Ct);
        var events = await SandboxClients.ReadEventsAsync(response);

        const string Header = "{\"id\":\"chatcmpl-sbx-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"m\"";
        Assert.Equal(
            [
                Header + ""","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_sbx_1","type":"function","function":{"name":"get_diff","arguments":""}}],"refusal":null},"logprobs":null,"finish_reason":null}]}""",
                Header + ""","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"pa"}}]},"logprobs":null,"finish_reason":null}]}""",
                Header + ""","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"th\":"}}]},"logprobs":null,"finish_reason":null}]}""",
                Header + ""","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"a.p"}}]},"logprobs":null,"finish_reason":null}]}""",
                Header + ""","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"y\"}"}}]},"logprobs":null,"finish_reason":null}]}""",
                Header + ""","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}]}""",
                Header + ""","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":6,"total_tokens":10,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}""",
                "[DONE]",
            ],
            events);
    }

    [Fact]
    public async Task ReplyWithToolCall_Whole_SendsOpenAIMessageShape()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("m").ReplyWithToolCall("get_diff", """{"path":"a.py"}""");
        using var http = SandboxClients.Http(sandbox);
        var body = new { model = "m", messages = new[] { new { role = "user", content = "go" } }, tools = new[] { GetDiffTool } };

        using var response = await http.PostAsync("v1/chat/completions", SandboxClients.Json(body), Ct);
        var choice = (await SandboxClients.ReadJsonAsync(response)).GetProperty("choices")[0];

        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(
            """{"role":"assistant","content":null,"tool_calls":[{"id":"call_sbx_1","type":"function","function":{"name":"get_diff","arguments":"{\"path\":\"a.py\"}"}}],"refusal":null}""",
            choice.GetProperty("message").GetRawText());
    }

    [Fact]
    public async Task ReplyWithToolCall_TwoTurns_CallsEachInOrderThenAnswersAndANewQuestionStartsOver()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("m").ReplyWithToolCall("get_diff", """{"path":"a.py"}""").ReplyWithToolCall("run_tests").Reply("done");
        var chat = SandboxClients.Chat(sandbox, "m");
        List<ChatMessage> messages = [new UserChatMessage("Review a.py")];
        var answers = new List<string>();

        for (var turn = 0; turn < 3; turn++)
        {
            ChatCompletion completion = await chat.CompleteChatAsync(messages, ToolOptions(), Ct);
            answers.Add(completion.FinishReason == ChatFinishReason.ToolCalls ? completion.ToolCalls[0].FunctionName + completion.ToolCalls[0].FunctionArguments : completion.Content[0].Text);
            if (completion.FinishReason == ChatFinishReason.ToolCalls)
            {
                messages.Add(new AssistantChatMessage(completion));
                messages.Add(new ToolChatMessage(completion.ToolCalls[0].Id, "ok"));
            }
        }

        messages.Add(new UserChatMessage("And b.py?"));
        ChatCompletion again = await chat.CompleteChatAsync(messages, ToolOptions(), Ct);

        Assert.Equal(["get_diff{\"path\":\"a.py\"}", "run_tests{}", "done"], answers);
        Assert.Equal("get_diff", again.ToolCalls.Single().FunctionName);
    }

    [Fact]
    public async Task ReplyWithToolCall_RequestOffersNoTools_AnswersWithText()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("m").ReplyWithToolCall("get_diff").Reply("plain");

        ChatCompletion completion = await SandboxClients.Chat(sandbox, "m").CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: Ct);

        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal("plain", completion.Content[0].Text);
    }

    [Fact]
    public async Task ReplyWithToolCall_AfterReset_AnswersWithText()
    {
        var sandbox = new SandboxProvider();
        var model = sandbox.Model("m").ReplyWithToolCall("get_diff");

        model.Reset();
        ChatCompletion completion = await SandboxClients.Chat(sandbox, "m").CompleteChatAsync([new UserChatMessage("hi")], ToolOptions(), Ct);

        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
    }

    [Fact]
    public async Task ReplyWithToolCall_ThroughHarnessStreamed_OfficialClientGetsTheCallAndTheCallIsRecorded()
    {
        var sandbox = new SandboxProvider();
        sandbox.Model("policy/claude-4").ReplyWithToolCall("get_diff", """{"path":"a.py"}""");
        var services = new ServiceCollection();
        services.AddAgentHarness(static o => o.Catalog.UnpricedModels = UnpricedModelHandling.Allow).AddSandboxGateway(sandbox);
        using var provider = services.BuildServiceProvider();
        var chat = provider.GetRequiredService<IAgentHarness>().GetChatClient("policy/claude-4");

        var (name, arguments, finish) = (default(string), new StringBuilder(), default(ChatFinishReason?));
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Review a.py")], ToolOptions(), Ct))
        {
            foreach (var part in update.ToolCallUpdates)
            {
                name ??= part.FunctionName;
                arguments.Append(part.FunctionArgumentsUpdate?.ToString());
            }

            finish = update.FinishReason ?? finish;
        }

        Assert.Equal(("get_diff", """{"path":"a.py"}""", ChatFinishReason.ToolCalls), (name, arguments.ToString(), finish));
        var record = Assert.Single(provider.GetRequiredService<IUsageLedger>().GetRecords());
        Assert.Equal(UsageOutcome.Succeeded, record.Outcome);
        Assert.Equal(6, record.OutputTokens);
    }

    [Fact]
    public void ReplyWithToolCall_InvalidArguments_Throw()
    {
        var model = new SandboxProvider().Model("m");

        Assert.Throws<ArgumentException>(() => model.ReplyWithToolCall(" "));
        Assert.Throws<ArgumentNullException>(() => model.ReplyWithToolCall("t", null!));
    }

    private static readonly object GetDiffTool = new { type = "function", function = new { name = "get_diff", parameters = new { type = "object" } } };

    private static ChatCompletionOptions ToolOptions() => new()
    {
        Tools =
        {
            ChatTool.CreateFunctionTool("get_diff", "Gets the diff of a file.", BinaryData.FromString("""{"type":"object","properties":{"path":{"type":"string"}}}""")),
            ChatTool.CreateFunctionTool("run_tests", "Runs the tests."),
        },
    };
}
