using System.Net;
using System.Text;
using AgentHarness.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using RichardSzalay.MockHttp;

namespace AgentHarness.Tests.Usage;

/// <summary>The Requesty usage client as the container builds it, over a MockHttp transport: the requests it sends, the answers it reads, what it refuses.</summary>
public sealed class RequestyUsageClientTests
{
    private const string Key = "rq-sk-4f9a7c2e81d6-secret";
    private const string ApiKeyId = "8c1f2e3d-4b5a-4697-a8b9-0c1d2e3f4a5b";
    private const string Origin = "https://api-v2.requesty.ai";
    private const string ApiKeyUsageUrl = Origin + "/v1/manage/apikey/" + ApiKeyId + "/usage";
    private const string OrgUsageUrl = Origin + "/v1/manage/org/usage";

    /// <summary>The seed post's query: the first week of May 2026 by day, by model, agent and task.</summary>
    private static readonly UsageQuery SeedQuery = new()
    {
        Start = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero),
        End = new DateTimeOffset(2026, 5, 7, 23, 59, 59, TimeSpan.Zero),
        Resolution = UsageResolution.Day,
        GroupBy = [UsageGroupKeys.ModelRequested, "extra.agent", "extra.task"],
    };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // ---- Requests sent ----

    [Fact]
    public async Task GetApiKeyUsageAsync_JsonBodyForm_SendsTheDocumentedRequest()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(ApiKeyUsageUrl, """{"usage":{}}""");

        await requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct);

        var request = Assert.Single(requesty.Requests);
        Assert.Equal(HttpMethod.Get, request.Method);
        Assert.Equal(ApiKeyUsageUrl, request.Uri.AbsoluteUri);
        Assert.Equal(string.Empty, request.Uri.Query);
        Assert.Equal(
            """{"start":"2026-05-01T00:00:00Z","end":"2026-05-07T23:59:59Z","resolution":"day","group_by":["model_requested","extra.agent","extra.task"]}""",
            request.Body);
        Assert.Equal("Bearer " + Key, request.Authorization);
        Assert.Equal("application/json", request.ContentType);
        Assert.Equal("application/json", request.Accept);
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_QueryStringForm_SendsTheParametersInTheQueryAndNoBody()
    {
        using var requesty = Requesty.Create(o => o.QueryForm = RequestyQueryForm.QueryString);
        requesty.Answer(ApiKeyUsageUrl, """{"usage":{}}""");

        await requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct);

        var request = Assert.Single(requesty.Requests);
        Assert.Equal(HttpMethod.Get, request.Method);
        Assert.Equal("/v1/manage/apikey/" + ApiKeyId + "/usage", request.Uri.AbsolutePath);
        Assert.Equal(
            "?start=2026-05-01T00%3A00%3A00Z&end=2026-05-07T23%3A59%3A59Z&resolution=day&group_by=model_requested&group_by=extra.agent&group_by=extra.task",
            request.Uri.Query);
        Assert.Null(request.Body);
        Assert.Null(request.ContentType);
        Assert.Equal("Bearer " + Key, request.Authorization);
        Assert.Equal("application/json", request.Accept);
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_NoGroupKeys_SendsNoGroupBy()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(ApiKeyUsageUrl, """{"usage":{}}""");

        await requesty.Client.GetApiKeyUsageAsync(ApiKeyId, Query(UsageResolution.Month), Ct);

        Assert.Equal("""{"start":"2026-05-01T00:00:00Z","end":"2026-05-07T23:59:59Z","resolution":"month"}""", Assert.Single(requesty.Requests).Body);
    }

    [Fact]
    public async Task GetOrganizationUsageAsync_ProviderGroupKeyAsJsonBody_SentAsProviderUsedAndReadBackAsProvider()
    {
        using var requesty = Requesty.Create(o => o.QueryForm = RequestyQueryForm.JsonBody);
        requesty.Answer(OrgUsageUrl, """
            {"usage":{"2026-05-02":{"spend":"3","total_requests":3,"grouped_data":[
              {"group_by_values":{"provider_used":"openai","extra.agent":"triage-agent"},"spend":"2","total_requests":2},
              {"group_by_values":{"provider":"anthropic","extra.agent":"docs-agent"},"spend":"1","total_requests":1}]}}}
            """);

        var report = await requesty.Client.GetOrganizationUsageAsync(Query(groupBy: [UsageGroupKeys.Provider, "extra.agent"]), Ct);

        Assert.Contains("\"group_by\":[\"provider_used\",\"extra.agent\"]", Assert.Single(requesty.Requests).Body, StringComparison.Ordinal);
        Assert.Equal(
            [("openai", "triage-agent", 2m), ("anthropic", "docs-agent", 1m)],
            report.Groups.Select(g => (g.Values[UsageGroupKeys.Provider], g.Values["extra.agent"], g.Totals.SpendUsd)));
    }

    [Fact]
    public async Task GetOrganizationUsageAsync_ProviderGroupKeyInQueryString_SentAsProviderUsed()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(OrgUsageUrl, """{"usage":{}}""");

        await requesty.Client.GetOrganizationUsageAsync(Query(UsageResolution.Hour, [UsageGroupKeys.Provider, UsageGroupKeys.UserId]), Ct);

        Assert.EndsWith("&resolution=hour&group_by=provider_used&group_by=user_id", Assert.Single(requesty.Requests).Uri.Query, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_IdWithReservedCharacters_EscapedInThePath()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(Origin + "/*", """{"usage":{}}""");

        await requesty.Client.GetApiKeyUsageAsync("a/b c?d", Query(), Ct);

        Assert.Equal("/v1/manage/apikey/a%2Fb%20c%3Fd/usage", Assert.Single(requesty.Requests).Uri.AbsolutePath);
    }

    [Fact]
    public async Task GetOrganizationUsageAsync_DefaultForm_SendsTheDocumentedQueryString()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(OrgUsageUrl, """{"usage":{"2026-05-01":{"spend":"0.25","total_requests":1}}}""");

        var report = await requesty.Client.GetOrganizationUsageAsync(SeedQuery, Ct);

        var request = Assert.Single(requesty.Requests);
        Assert.Equal(HttpMethod.Get, request.Method);
        Assert.Equal("/v1/manage/org/usage", request.Uri.AbsolutePath);
        Assert.Equal(
            "?start=2026-05-01T00%3A00%3A00Z&end=2026-05-07T23%3A59%3A59Z&resolution=day&group_by=model_requested&group_by=extra.agent&group_by=extra.task",
            request.Uri.Query);
        Assert.Null(request.Body);
        Assert.Equal("Bearer " + Key, request.Authorization);
        Assert.Equal(0.25m, report.Totals.SpendUsd);
    }

    [Fact]
    public async Task GetOrganizationUsageAsync_JsonBodyForm_SendsTheBody()
    {
        using var requesty = Requesty.Create(o => o.QueryForm = RequestyQueryForm.JsonBody);
        requesty.Answer(OrgUsageUrl, """{"usage":{}}""");

        await requesty.Client.GetOrganizationUsageAsync(SeedQuery, Ct);

        var request = Assert.Single(requesty.Requests);
        Assert.Equal(OrgUsageUrl, request.Uri.AbsoluteUri);
        Assert.Equal(
            """{"start":"2026-05-01T00:00:00Z","end":"2026-05-07T23:59:59Z","resolution":"day","group_by":["model_requested","extra.agent","extra.task"]}""",
            request.Body);
    }

    [Theory]
    [InlineData(UsageGroupKeys.ModelUsed)]
    [InlineData(UsageGroupKeys.Provider)]
    public async Task GetApiKeyUsageAsync_GroupKeyOnlyTheOrganizationGroupsBy_RefusedBeforeSending(string key)
    {
        using var requesty = Requesty.Create();
        requesty.Answer(Origin + "/*", """{"usage":{}}""");

        var error = await Assert.ThrowsAsync<ArgumentException>(() => requesty.Client.GetApiKeyUsageAsync(ApiKeyId, Query(groupBy: [key]), Ct));

        Assert.Contains($"'{key}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("GetOrganizationUsageAsync", error.Message, StringComparison.Ordinal);
        Assert.Empty(requesty.Requests);
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_EndEqualToStart_RefusedBeforeSending()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(Origin + "/*", """{"usage":{}}""");
        var at = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => requesty.Client.GetApiKeyUsageAsync(ApiKeyId, new UsageQuery { Start = at, End = at }, Ct));

        Assert.Contains("must be after UsageQuery.Start", error.Message, StringComparison.Ordinal);
        Assert.Empty(requesty.Requests);
    }

    [Fact]
    public async Task GetOrganizationUsageAsync_AnswerWithPeriodsOutsideTheRange_CountsOnlyTheRange()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(OrgUsageUrl, """{"usage":{"2026-05-01":{"spend":"1.5","total_requests":1},"2026-07-01":{"spend":"9","total_requests":4}}}""");

        var report = await requesty.Client.GetOrganizationUsageAsync(SeedQuery, Ct);

        Assert.Equal(7, report.Periods.Count);
        Assert.Equal(1.5m, report.Totals.SpendUsd);
        Assert.Equal(1, report.Totals.Requests);
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_BaseAddressWithPathPrefix_PathAppendedToIt()
    {
        using var requesty = Requesty.Create(o => o.BaseAddress = new Uri("https://proxy.test/requesty/"));
        requesty.Answer("https://proxy.test/*", """{"usage":{}}""");

        await requesty.Client.GetApiKeyUsageAsync(ApiKeyId, Query(), Ct);

        Assert.Equal("https://proxy.test/requesty/v1/manage/apikey/" + ApiKeyId + "/usage", Assert.Single(requesty.Requests).Uri.AbsoluteUri);
    }

    // ---- API key information ----

    [Fact]
    public async Task GetApiKeyInfoAsync_Self_SendsSelfPathAndReadsStringDecimals()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(Origin + "/v1/manage/apikey/self", """
            {"id":"8c1f2e3d-4b5a-4697-a8b9-0c1d2e3f4a5b","name":"ci-agents","logging":true,"monthly_spend":"123.456789012345",
             "monthly_limit":"500","permissions":{"manage":"read","completions":"write","future":"x"},"created_at":"2026-01-01T00:00:00Z"}
            """);

        var info = await requesty.Client.GetApiKeyInfoAsync(cancellationToken: Ct);

        var request = Assert.Single(requesty.Requests);
        Assert.Equal(HttpMethod.Get, request.Method);
        Assert.Equal(Origin + "/v1/manage/apikey/self", request.Uri.AbsoluteUri);
        Assert.Equal("Bearer " + Key, request.Authorization);
        Assert.Equal("application/json", request.Accept);
        Assert.Null(request.Body);
        Assert.Equal(
            new RequestyApiKeyInfo
            {
                Id = ApiKeyId,
                Name = "ci-agents",
                Logging = true,
                MonthlySpendUsd = 123.456789012345m,
                MonthlyLimitUsd = 500m,
                ManagePermission = "read",
                CompletionsPermission = "write",
            },
            info);
    }

    [Fact]
    public async Task GetApiKeyInfoAsync_ByIdWithNumbersAndMissingFields_ReadsDefaults()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(Origin + "/v1/manage/apikey/" + ApiKeyId, """{"id":"k-1","monthly_spend":0.000001,"monthly_limit":null,"logging":false}""");

        var info = await requesty.Client.GetApiKeyInfoAsync(ApiKeyId, Ct);

        Assert.Equal(
            new RequestyApiKeyInfo { Id = "k-1", Name = null, Logging = false, MonthlySpendUsd = 0.000001m, MonthlyLimitUsd = 0m, ManagePermission = null, CompletionsPermission = null },
            info);
    }

    [Theory]
    [InlineData("""{"name":"no id"}""")]
    [InlineData("""not json""")]
    [InlineData("""[]""")]
    public async Task GetApiKeyInfoAsync_BodyNotAKeyDescription_ThrowsInvalidData(string body)
    {
        using var requesty = Requesty.Create();
        requesty.Answer(Origin + "/*", body);

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => requesty.Client.GetApiKeyInfoAsync(cancellationToken: Ct));

        Assert.Contains("GET /v1/manage/apikey/self", ex.Message, StringComparison.Ordinal);
        Assert.Contains(body, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetApiKeyInfoAsync_ErrorStatus_ThrowsWithStatus()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(Origin + "/*", $$"""{"error":"key {{Key}} lacks manage permission"}""", HttpStatusCode.Forbidden);

        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => requesty.Client.GetApiKeyInfoAsync(cancellationToken: Ct));

        Assert.Equal(HttpStatusCode.Forbidden, ex.StatusCode);
        Assert.Contains("lacks manage permission", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void GetApiKeyInfoAsync_EmptyId_RefusedBeforeSending()
    {
        using var requesty = Requesty.Create();

        var ex = Assert.Throws<ArgumentException>(() => { _ = requesty.Client.GetApiKeyInfoAsync(" ", Ct); });

        Assert.Equal("apiKeyId", ex.ParamName);
        Assert.Empty(requesty.Requests);
    }

    // ---- Answers read ----

    [Fact]
    public async Task GetApiKeyUsageAsync_DocumentedAnswerWithStringDecimals_ReportsExactTotalsAndGroups()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(ApiKeyUsageUrl, """
            {"usage":{
              "2026-05-01":{"spend":"0.012345678901","input_tokens":"1200","output_tokens":"300","total_tokens":"1500",
                            "total_requests":"4","completions_requests":"3","currency":"usd","cache":{"hits":1},
                "grouped_data":[
                  {"group_by_values":{"model_requested":"openai/gpt-4.1-nano","extra.agent":"triage-agent","extra.task":"classify"},
                   "spend":"0.002345678901","input_tokens":"200","output_tokens":"100","total_tokens":"300","total_requests":"1","completions_requests":"1","latency_ms":"12"},
                  {"group_by_values":{"model_requested":"policy/claude-4","extra.agent":"code-review-agent","extra.task":"review"},
                   "spend":"0.01","input_tokens":"1000","output_tokens":"200","total_tokens":"1200","total_requests":"3","completions_requests":"2"}]},
              "2026-05-03":{"spend":"0.5","input_tokens":"10","output_tokens":"5","total_tokens":"15","total_requests":"2","completions_requests":"2",
                "grouped_data":[
                  {"group_by_values":{"model_requested":"policy/claude-4","extra.agent":"code-review-agent","extra.task":"review"},
                   "spend":"0.5","input_tokens":"10","output_tokens":"5","total_tokens":"15","total_requests":"2","completions_requests":"2"}]}
            },"meta":{"currency":"USD"}}
            """);

        var report = await requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct);

        Assert.Same(SeedQuery, report.Query);
        Assert.Equal(
            ["2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04", "2026-05-05", "2026-05-06", "2026-05-07"],
            report.Periods.Select(p => p.Label));
        Assert.Equal(Totals(4, 3, 1200, 300, 1500, 0.012345678901m), report.Periods[0].Totals);
        Assert.Equal(UsageTotals.Zero, report.Periods[1].Totals);
        Assert.Empty(report.Periods[1].Groups);
        Assert.Equal(Totals(2, 2, 10, 5, 15, 0.5m), report.Periods[2].Totals);
        Assert.Equal(Totals(6, 5, 1210, 305, 1515, 0.512345678901m), report.Totals);

        // Most spend first, within a period and over the range.
        Assert.Equal(
            [("policy/claude-4", "code-review-agent", "review"), ("openai/gpt-4.1-nano", "triage-agent", "classify")],
            report.Periods[0].Groups.Select(g => (g.Values["model_requested"], g.Values["extra.agent"], g.Values["extra.task"])));
        Assert.Equal(Totals(1, 1, 200, 100, 300, 0.002345678901m), report.Periods[0].Groups[1].Totals);
        Assert.Equal(2, report.Groups.Count);
        Assert.Equal("policy/claude-4", report.Groups[0].Values["model_requested"]);
        Assert.Equal(Totals(5, 4, 1010, 205, 1215, 0.51m), report.Groups[0].Totals);
        Assert.Equal(Totals(1, 1, 200, 100, 300, 0.002345678901m), report.Groups[1].Totals);
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_NumericDecimals_ReportsExactTotals()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(ApiKeyUsageUrl, """
            {"usage":{
              "2026-05-02":{"spend":0.1,"input_tokens":100,"output_tokens":20,"total_tokens":120,"total_requests":2,"completions_requests":1},
              "2026-05-04":{"spend":0.2,"input_tokens":3000000000,"output_tokens":1,"total_tokens":3000000001,"total_requests":1,"completions_requests":1},
              "2026-05-06":{"spend":0.000000000123456789,"input_tokens":1.0,"total_requests":1e0}}}
            """);

        var report = await requesty.Client.GetApiKeyUsageAsync(ApiKeyId, Query(), Ct);

        Assert.Equal(Totals(2, 1, 100, 20, 120, 0.1m), report.Periods[1].Totals);
        Assert.Equal(Totals(1, 1, 3_000_000_000, 1, 3_000_000_001, 0.2m), report.Periods[3].Totals);
        Assert.Equal(Totals(1, 0, 1, 0, 0, 0.000000000123456789m), report.Periods[5].Totals);
        Assert.Equal(0.300000000123456789m, report.Totals.SpendUsd);
        Assert.Equal(3_000_000_101, report.Totals.InputTokens);
    }

    [Fact]
    public async Task GetOrganizationUsageAsync_GroupedDataAsObjectWithValuesAsArray_ReadsRowsInGroupByOrder()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(OrgUsageUrl, """
            {"usage":{"2026-05-05":{"spend":"1.75","total_requests":7,"grouped_data":{
              "openai|triage-agent":{"group_by_values":["openai","triage-agent"],"spend":"1.5","total_requests":5},
              "anthropic|-":{"group_by_values":["anthropic",null],"spend":0.25,"total_requests":2},
              "ignored":null}}}}
            """);

        var report = await requesty.Client.GetOrganizationUsageAsync(Query(groupBy: [UsageGroupKeys.Provider, "extra.agent"]), Ct);

        var period = report.Periods.Single(p => p.Label == "2026-05-05");
        Assert.Equal(Totals(7, 0, 0, 0, 0, 1.75m), period.Totals);
        Assert.Equal(
            [("openai", "triage-agent", 1.5m, 5L), ("anthropic", null, 0.25m, 2L)],
            period.Groups.Select(g => (g.Values[UsageGroupKeys.Provider], g.Values["extra.agent"], g.Totals.SpendUsd, g.Totals.Requests)));
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_MissingAndNullFields_CountAsZero()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(ApiKeyUsageUrl, """
            {"usage":{
              "2026-05-02":{"spend":null,"total_requests":3,"input_tokens":"","grouped_data":[
                 {"group_by_values":{"model_requested":null,"extra.agent":"triage-agent","extra.task":null},"total_requests":3,"spend":"1.25","input_tokens":null}]},
              "2026-05-04":null,
              "2026-05-05":{},
              "2026-05-06":{"spend":"0.5","grouped_data":null},
              "2026-05-07":{"spend":"0.25","grouped_data":[{"spend":"0.25","group_by_values":null},null]}}}
            """);

        var report = await requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct);

        Assert.Equal(Totals(3, 0, 0, 0, 0, 0m), report.Periods[1].Totals);
        var group = Assert.Single(report.Periods[1].Groups);
        Assert.Equal(Totals(3, 0, 0, 0, 0, 1.25m), group.Totals);
        Assert.Null(group.Values["model_requested"]);
        Assert.Equal("triage-agent", group.Values["extra.agent"]);
        Assert.Null(group.Values["extra.task"]);
        Assert.Equal(UsageTotals.Zero, report.Periods[3].Totals);
        Assert.Equal(UsageTotals.Zero, report.Periods[4].Totals);
        Assert.Equal(Totals(0, 0, 0, 0, 0, 0.5m), report.Periods[5].Totals);
        Assert.Empty(report.Periods[5].Groups);
        var unnamed = Assert.Single(report.Periods[6].Groups);
        Assert.Equal([null, null, null], SeedQuery.GroupBy.Select(k => unnamed.Values[k]));
        Assert.Equal(0.75m, report.Totals.SpendUsd);
        Assert.Equal(7, report.Periods.Count);
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_GroupValuesWithoutExtraPrefixOrInAnotherCase_ReadAsTheQueryKeys()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(ApiKeyUsageUrl, """
            {"usage":{"2026-05-02":{"grouped_data":[
              {"group_by_values":{"Model_Requested":"policy/claude-4","agent":"code-review-agent","EXTRA.TASK":"review"},"spend":"1.5","total_requests":2},
              {"group_by_values":{"model_requested":"openai/gpt-4.1-nano","Agent":"triage-agent","task":null},"spend":"0.5","total_requests":1}]}}}
            """);

        var report = await requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct);

        Assert.Equal(
            [("policy/claude-4", "code-review-agent", "review", 1.5m), ("openai/gpt-4.1-nano", "triage-agent", null, 0.5m)],
            report.Groups.Select(g => (g.Values[UsageGroupKeys.ModelRequested], g.Values["extra.agent"], g.Values["extra.task"], g.Totals.SpendUsd)));
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_GroupKeyUnderNeitherSpelling_ThrowsInsteadOfReportingNull()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(ApiKeyUsageUrl, """
            {"usage":{"2026-05-02":{"grouped_data":[
              {"group_by_values":{"model_requested":"policy/claude-4","agent_name":"code-review-agent","task":"review"},"spend":"1.5","total_requests":2}]}}}
            """);

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct));

        Assert.Equal(
            "Requesty GET /v1/manage/apikey/" + ApiKeyId + "/usage answered a row in period '2026-05-02' whose group_by_values (model_requested, agent_name, task) have no value for the group key extra.agent (looked for as extra.agent or agent, in any case).",
            ex.Message);
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_EntryWithOnlyRows_PeriodTotalsAreTheirSum()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(ApiKeyUsageUrl, """
            {"usage":{"2026-05-03":{"grouped_data":[
              {"group_by_values":["openai/gpt-4.1-nano","a","t"],"spend":"0.1","input_tokens":10,"output_tokens":1,"total_tokens":11,"total_requests":1,"completions_requests":1},
              {"group_by_values":["openai/gpt-4.1-nano","b","t"],"spend":"0.2","input_tokens":20,"output_tokens":2,"total_tokens":22,"total_requests":2,"completions_requests":2}]}}}
            """);

        var report = await requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct);

        Assert.Equal(Totals(3, 3, 30, 3, 33, 0.3m), report.Periods[2].Totals);
        Assert.Equal(2, report.Periods[2].Groups.Count);
        Assert.Equal(report.Totals, report.Periods[2].Totals);
    }

    [Theory]
    [InlineData("""{"usage":{}}""")]
    [InlineData("""{"usage":null}""")]
    [InlineData("\uFEFF{\"usage\":{}, \"note\":\"no traffic\"}")]
    public async Task GetApiKeyUsageAsync_NoUsage_ReportsEveryPeriodWithZeros(string body)
    {
        using var requesty = Requesty.Create();
        requesty.Answer(ApiKeyUsageUrl, body);

        var report = await requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct);

        Assert.Equal(7, report.Periods.Count);
        Assert.All(report.Periods, p => Assert.Equal(UsageTotals.Zero, p.Totals));
        Assert.All(report.Periods, p => Assert.Empty(p.Groups));
        Assert.Equal(UsageTotals.Zero, report.Totals);
        Assert.Empty(report.Groups);
    }

    [Theory]
    [InlineData(UsageResolution.Day, "2026-05-02", "2026-05-02")]
    [InlineData(UsageResolution.Day, "2026-05-02T00:00:00Z", "2026-05-02")]
    [InlineData(UsageResolution.Day, "2026-05-02T13:45:10.123456789Z", "2026-05-02")]
    [InlineData(UsageResolution.Day, "2026-05-02t13:45:00z", "2026-05-02")]
    [InlineData(UsageResolution.Day, "2026-05-03T01:00:00+02:00", "2026-05-02")]
    [InlineData(UsageResolution.Day, "2026-05-02 00:00", "2026-05-02")]
    [InlineData(UsageResolution.Hour, "2026-05-01 09:00", "2026-05-01 09:00")]
    [InlineData(UsageResolution.Hour, "2026-05-01T09", "2026-05-01 09:00")]
    [InlineData(UsageResolution.Hour, "2026-05-01 09", "2026-05-01 09:00")]
    [InlineData(UsageResolution.Hour, "2026-05-01T09:00:00Z", "2026-05-01 09:00")]
    [InlineData(UsageResolution.Hour, "2026-05-01T09:00", "2026-05-01 09:00")]
    [InlineData(UsageResolution.Month, "2026-06", "2026-06")]
    [InlineData(UsageResolution.Month, "2026-06-01", "2026-06")]
    public async Task GetApiKeyUsageAsync_PeriodKeyForms_CountedInTheirPeriod(UsageResolution resolution, string key, string label)
    {
        using var requesty = Requesty.Create();
        requesty.Answer(ApiKeyUsageUrl, "{\"usage\":{\"" + key + "\":{\"spend\":\"1.5\",\"total_requests\":\"2\"}}}");
        var query = resolution switch
        {
            UsageResolution.Hour => new UsageQuery { Start = SeedQuery.Start, End = SeedQuery.Start.AddDays(1).AddSeconds(-1), Resolution = resolution },
            UsageResolution.Month => new UsageQuery { Start = SeedQuery.Start, End = new DateTimeOffset(2026, 7, 31, 23, 59, 59, TimeSpan.Zero), Resolution = resolution },
            _ => Query(),
        };

        var report = await requesty.Client.GetApiKeyUsageAsync(ApiKeyId, query, Ct);

        Assert.Equal(resolution switch { UsageResolution.Hour => 24, UsageResolution.Month => 3, _ => 7 }, report.Periods.Count);
        Assert.Equal(Totals(2, 0, 0, 0, 0, 1.5m), report.Periods.Single(p => p.Label == label).Totals);
        Assert.Equal(1.5m, report.Totals.SpendUsd);
    }

    [Theory]
    [InlineData("last week")]
    [InlineData("2026-13-01")]
    [InlineData("05/02/2026")]
    public async Task GetApiKeyUsageAsync_UnparseablePeriodKey_ThrowsNamingTheKey(string key)
    {
        using var requesty = Requesty.Create();
        requesty.Answer(ApiKeyUsageUrl, "{\"usage\":{\"2026-05-01\":{\"spend\":\"1\"},\"" + key + "\":{\"spend\":\"1\"}}}");

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct));

        Assert.Contains($"'{key}'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("GET /v1/manage/apikey/" + ApiKeyId + "/usage", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_PeriodKeyNotUtf8_ThrowsInvalidDataLikeAnyMalformedAnswer()
    {
        using var requesty = Requesty.Create();
        byte[] body = [.. "{\"usage\":{\"2026-05-01"u8, 0xE9, .. "\":{\"spend\":\"1\"}}}"u8];
        requesty.Answer(ApiKeyUsageUrl, () => new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(body) });

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct));

        Assert.Contains("is not a usage answer", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_EndlessAnswer_ThrowsAtTheAnswerLimitAndStopsReading()
    {
        EndlessStream? stream = null;
        using var requesty = Requesty.Create(configure: static b => b.Configure(static o => o.MaxResponseBytes = 64 * 1024));
        requesty.Answer(ApiKeyUsageUrl, () =>
        {
            var (response, body) = EndlessStream.Response("{\"usage\":{\"2026-05-01\":{\"spend\":\"", "1", "application/json");
            stream = body;
            return response;
        });

        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct));

        Assert.Contains("65536", ex.Message, StringComparison.Ordinal);
        Assert.True(stream!.Pulled <= 2 * 64 * 1024, $"pulled {stream.Pulled} bytes");
    }

    [Theory]
    [InlineData("<html><body>Requesty dashboard</body></html>")]
    [InlineData("{}")]
    [InlineData("""{"data":[]}""")]
    [InlineData("""{"usage":[1,2]}""")]
    [InlineData("""{"usage":{"2026-05-01":{"spend":"1"}""")]
    [InlineData("""{"usage":{}} trailing""")]
    [InlineData("")]
    public async Task GetApiKeyUsageAsync_SuccessBodyNotAUsageAnswer_ThrowsInvalidDataWithExcerpt(string body)
    {
        using var requesty = Requesty.Create();
        requesty.Answer(ApiKeyUsageUrl, body);

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct));

        Assert.Contains("is not a usage answer", ex.Message, StringComparison.Ordinal);
        Assert.Contains(body.Length == 0 ? "(empty body)" : body, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_SuccessBodyEchoingTheKey_KeyRedactedFromTheExcerpt()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(ApiKeyUsageUrl, $"<html>Authorization: Bearer {Key}</html>");

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct));

        Assert.Contains("Bearer [key removed]", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, ex.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("spend", "\"lots\"", "'lots'")]
    [InlineData("spend", "true", "a True")]
    [InlineData("input_tokens", "\"12.5\"", "12.5")]
    [InlineData("total_requests", "1.5", "1.5")]
    public async Task GetApiKeyUsageAsync_ValueNotANumber_ThrowsNamingFieldValueAndPeriod(string field, string json, string shown)
    {
        using var requesty = Requesty.Create();
        requesty.Answer(ApiKeyUsageUrl, "{\"usage\":{\"2026-05-02\":{\"" + field + "\":" + json + "}}}");

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct));

        Assert.Contains($"{field} {shown}", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'2026-05-02'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_ValuesArrayOfWrongLength_ThrowsNamingTheKeys()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(ApiKeyUsageUrl, """{"usage":{"2026-05-02":{"grouped_data":[{"group_by_values":["openai/gpt-4.1-nano"],"spend":"1"}]}}}""");

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct));

        Assert.Contains("1 group_by_values for 3 group keys (model_requested, extra.agent, extra.task)", ex.Message, StringComparison.Ordinal);
    }

    // ---- Queries refused before sending ----

    [Theory]
    [InlineData("over-100-days", "End", "100.00:00:01")]
    [InlineData("end-before-start", "End", "is before UsageQuery.Start")]
    [InlineData("unknown-resolution", "Resolution", "'9'")]
    [InlineData("unknown-group-key", "GroupBy", "'is_byok'")]
    [InlineData("duplicate-group-key", "GroupBy", "'extra.agent' twice")]
    public async Task GetApiKeyUsageAsync_InvalidQuery_RefusedBeforeSending(string invalid, string property, string shown)
    {
        using var requesty = Requesty.Create();
        requesty.Answer(Origin + "/*", """{"usage":{}}""");
        var start = SeedQuery.Start;
        var query = invalid switch
        {
            "over-100-days" => new UsageQuery { Start = start, End = start.AddDays(100).AddSeconds(1) },
            "end-before-start" => new UsageQuery { Start = start, End = start.AddSeconds(-1) },
            "unknown-resolution" => new UsageQuery { Start = start, End = SeedQuery.End, Resolution = (UsageResolution)9 },
            "unknown-group-key" => new UsageQuery { Start = start, End = SeedQuery.End, GroupBy = ["is_byok"] },
            _ => new UsageQuery { Start = start, End = SeedQuery.End, GroupBy = ["extra.agent", "extra.agent"] },
        };

        var apiKey = await Assert.ThrowsAsync<ArgumentException>(() => requesty.Client.GetApiKeyUsageAsync(ApiKeyId, query, Ct));
        var org = await Assert.ThrowsAsync<ArgumentException>(() => requesty.Client.GetOrganizationUsageAsync(query, Ct));
        var source = await Assert.ThrowsAsync<ArgumentException>(() => requesty.Client.ForApiKey(ApiKeyId).GetUsageAsync(query, Ct));

        foreach (var ex in new[] { apiKey, org, source })
        {
            Assert.Equal(property, ex.ParamName);
            Assert.Contains(shown, ex.Message, StringComparison.Ordinal);
        }

        Assert.Empty(requesty.Requests);
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_Exactly100Days_Sent()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(ApiKeyUsageUrl, """{"usage":{}}""");
        var query = new UsageQuery { Start = SeedQuery.Start, End = SeedQuery.Start.AddDays(100), Resolution = UsageResolution.Month };

        var report = await requesty.Client.GetApiKeyUsageAsync(ApiKeyId, query, Ct);

        Assert.Single(requesty.Requests);
        Assert.Equal(["2026-05", "2026-06", "2026-07", "2026-08"], report.Periods.Select(p => p.Label));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public async Task GetApiKeyUsageAsync_EmptyApiKeyId_RefusedBeforeSending(string apiKeyId)
    {
        using var requesty = Requesty.Create();
        requesty.Answer(Origin + "/*", """{"usage":{}}""");

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => requesty.Client.GetApiKeyUsageAsync(apiKeyId, SeedQuery, Ct));
        var source = Assert.Throws<ArgumentException>(() => requesty.Client.ForApiKey(apiKeyId));

        Assert.Equal("apiKeyId", ex.ParamName);
        Assert.Equal("apiKeyId", source.ParamName);
        Assert.Empty(requesty.Requests);
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_NullArguments_RefusedBeforeSending()
    {
        using var requesty = Requesty.Create();

        await Assert.ThrowsAsync<ArgumentNullException>(() => requesty.Client.GetApiKeyUsageAsync(null!, SeedQuery, Ct));
        await Assert.ThrowsAsync<ArgumentNullException>(() => requesty.Client.GetApiKeyUsageAsync(ApiKeyId, null!, Ct));
        await Assert.ThrowsAsync<ArgumentNullException>(() => requesty.Client.GetOrganizationUsageAsync(null!, Ct));
        Assert.Empty(requesty.Requests);
    }

    // ---- Errors ----

    [Theory]
    [InlineData(HttpStatusCode.Unauthorized)]
    [InlineData(HttpStatusCode.Forbidden)]
    [InlineData(HttpStatusCode.NotFound)]
    [InlineData(HttpStatusCode.TooManyRequests)]
    [InlineData(HttpStatusCode.InternalServerError)]
    public async Task GetApiKeyUsageAsync_ErrorStatus_ThrowsWithStatusPathAndRedactedExcerpt(HttpStatusCode status)
    {
        using var requesty = Requesty.Create();
        requesty.Answer(ApiKeyUsageUrl, "{\"error\":{\"message\":\"request with key " + Key + " failed\",\"code\":" + (int)status + "}}", status);

        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct));

        Assert.Equal(status, ex.StatusCode);
        Assert.StartsWith($"Requesty GET /v1/manage/apikey/{ApiKeyId}/usage answered HTTP {(int)status} ({status}): ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("request with key [key removed] failed", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, ex.ToString(), StringComparison.Ordinal);
        Assert.Single(requesty.Requests);
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_LongErrorBody_ExcerptCutAfterRedaction()
    {
        using var requesty = Requesty.Create();
        var body = new string('x', 290) + Key + new string('y', 500);
        requesty.Answer(ApiKeyUsageUrl, body, HttpStatusCode.BadGateway);

        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct));

        Assert.EndsWith(new string('x', 290) + "[key remov...", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Key[..6], ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_KeyPassedAsTheId_RefusedBeforeSendingWithoutTheKey()
    {
        var logs = new FakeLogCollector();
        using var requesty = Requesty.Create(configureServices: s => s.AddLogging(l => l.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(logs))));
        requesty.Answer(Origin + "/*", """{"error":"no such key"}""", HttpStatusCode.NotFound);

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => requesty.Client.GetApiKeyUsageAsync(Key, SeedQuery, Ct));
        var info = await Assert.ThrowsAsync<ArgumentException>(() => requesty.Client.GetApiKeyInfoAsync(Key, Ct));

        Assert.Contains("pass the key's id", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, ex.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Key, info.ToString(), StringComparison.Ordinal);
        Assert.Empty(requesty.Requests);
        Assert.DoesNotContain(logs.GetSnapshot(), r => r.Message.Contains(Key, StringComparison.Ordinal));
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_ServiceUnavailableThenOk_RetriedByTheResilienceHandler()
    {
        using var requesty = Requesty.Create(retries: true);
        requesty.Answer(
            ApiKeyUsageUrl,
            () => Json("""{"error":"busy"}""", HttpStatusCode.ServiceUnavailable),
            () => Json("""{"usage":{"2026-05-01":{"spend":"0.42","total_requests":1}}}"""));

        var report = await requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct);

        Assert.Equal(0.42m, report.Totals.SpendUsd);
        Assert.Equal(2, requesty.Requests.Count);
        Assert.All(requesty.Requests, r => Assert.Equal(requesty.Requests[0].Body, r.Body));
        Assert.All(requesty.Requests, r => Assert.Equal("Bearer " + Key, r.Authorization));
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_ServiceUnavailableEveryTime_ThrowsAfterTheStandardRetries()
    {
        using var requesty = Requesty.Create(retries: true);
        requesty.Answer(ApiKeyUsageUrl, """{"error":"busy"}""", HttpStatusCode.ServiceUnavailable);

        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ex.StatusCode);
        Assert.Equal(4, requesty.Requests.Count);
    }

    [Fact]
    public async Task AddRequestyUsageClient_ResilienceHandlerOnEveryClient_RequestsNotRetriedTwice()
    {
        using var requesty = Requesty.Create(
            retries: true,
            configureServices: s => s.ConfigureHttpClientDefaults(b => b.AddStandardResilienceHandler(o => o.Retry.Delay = TimeSpan.Zero)));
        requesty.Answer(ApiKeyUsageUrl, """{"error":"busy"}""", HttpStatusCode.ServiceUnavailable);

        await Assert.ThrowsAsync<HttpRequestException>(() => requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct));

        // Two nested handlers would send 4 × 4 requests.
        Assert.Equal(4, requesty.Requests.Count);
    }

    [Fact]
    public async Task AddRequestyUsageClient_CalledTwice_OneClientWithOneResilienceHandler()
    {
        using var requesty = Requesty.Create(retries: true, configure: b => b.AddRequestyUsageClient(o => o.QueryForm = RequestyQueryForm.QueryString));
        requesty.Answer(ApiKeyUsageUrl, """{"error":"busy"}""", HttpStatusCode.ServiceUnavailable);

        await Assert.ThrowsAsync<HttpRequestException>(() => requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct));

        Assert.Equal(4, requesty.Requests.Count);
        Assert.All(requesty.Requests, r => Assert.Null(r.Body));
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_CanceledWhileWaiting_ThrowsOperationCanceled()
    {
        var hanging = new HangingHandler();
        using var requesty = Requesty.Create(transport: hanging);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var call = requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, cts.Token);
        await hanging.Entered.WaitAsync(Ct);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
    }

    [Fact]
    public async Task GetOrganizationUsageAsync_AlreadyCanceled_ThrowsWithoutSending()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(Origin + "/*", """{"usage":{}}""");

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => requesty.Client.GetOrganizationUsageAsync(SeedQuery, new CancellationToken(canceled: true)));

        Assert.Empty(requesty.Requests);
    }

    // ---- IUsageSource ----

    [Fact]
    public async Task ForApiKey_UsedThroughIUsageSource_ReturnsTheKeysReport()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(ApiKeyUsageUrl, """{"usage":{"2026-05-06":{"spend":"2.5","total_requests":"5","grouped_data":[{"group_by_values":{"model_requested":"policy/claude-4","extra.agent":"a","extra.task":"t"},"spend":"2.5","total_requests":"5"}]}}}""");
        IUsageSource source = requesty.Client.ForApiKey(ApiKeyId);

        var report = await source.GetUsageAsync(SeedQuery, Ct);

        Assert.Equal(ApiKeyUsageUrl, Assert.Single(requesty.Requests).Uri.AbsoluteUri);
        Assert.Equal(Totals(5, 0, 0, 0, 0, 2.5m), report.Totals);
        Assert.Equal("policy/claude-4", Assert.Single(report.Groups).Values[UsageGroupKeys.ModelRequested]);
        Assert.Contains(ApiKeyId, source.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ForOrganization_UsedThroughIUsageSource_AsksForOrganizationUsage()
    {
        using var requesty = Requesty.Create();
        requesty.Answer(OrgUsageUrl, """{"usage":{"2026-05-06":{"spend":"7"}}}""");
        IUsageSource source = requesty.Client.ForOrganization();

        var report = await source.GetUsageAsync(Query(), Ct);

        Assert.Equal("/v1/manage/org/usage", Assert.Single(requesty.Requests).Uri.AbsolutePath);
        Assert.Equal(7m, report.Totals.SpendUsd);
    }

    // ---- Keys and options ----

    [Fact]
    public async Task GetApiKeyUsageAsync_ProviderOption_SendsThatProvidersKey()
    {
        using var requesty = Requesty.Create(
            o => o.Provider = "management",
            configure: b => b.AddProvider("management", p => { p.BaseUrl = new Uri("https://router.requesty.ai/v1"); p.ApiKey = "key-management"; }));
        requesty.Answer(ApiKeyUsageUrl, """{"usage":{}}""");

        await requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct);

        Assert.Equal("Bearer key-management", Assert.Single(requesty.Requests).Authorization);
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_ApiKeyOption_WinsOverProvider()
    {
        using var requesty = Requesty.Create(o =>
        {
            o.ApiKey = "key-explicit";
            o.Provider = "requesty";
        });
        requesty.Answer(ApiKeyUsageUrl, """{"usage":{}}""");

        await requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct);

        Assert.Equal("Bearer key-explicit", Assert.Single(requesty.Requests).Authorization);
    }

    [Fact]
    public async Task GetApiKeyUsageAsync_NeitherKeyNorProvider_SendsTheDefaultGatewaysKey()
    {
        using var requesty = Requesty.Create(configure: b => b
            .AddProvider("openrouter", p => { p.BaseUrl = new Uri("https://openrouter.test/v1"); p.ApiKey = "key-openrouter"; p.IsGateway = true; })
            .Configure(o => o.DefaultGateway = "requesty"));
        requesty.Answer(ApiKeyUsageUrl, """{"usage":{}}""");

        await requesty.Client.GetApiKeyUsageAsync(ApiKeyId, SeedQuery, Ct);

        Assert.Equal("Bearer " + Key, Assert.Single(requesty.Requests).Authorization);
    }

    [Fact]
    public void Options_NoKeyAnywhere_ValidationNamesTheSettings()
    {
        var ex = ValidationFails(null, harness: static b => b.AddProvider("openai", p => { p.BaseUrl = new Uri("https://openai.test/v1"); p.ApiKey = Key; }));

        Assert.Contains(
            "RequestyUsage:ApiKey and RequestyUsage:Provider are not set, and the harness has no default gateway (DefaultGateway, or a single provider with IsGateway) whose key could be used",
            ex.Message,
            StringComparison.Ordinal);
        Assert.DoesNotContain(Key, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_UnknownProvider_ValidationNamesItAndTheConfiguredOnes()
    {
        var ex = ValidationFails(static o => o.Provider = "requesti");

        Assert.Contains("RequestyUsage:Provider is 'requesti', which is not a harness provider (configured: requesty).", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_GatewayWithoutKey_ValidationNamesItsEnvironmentVariable()
    {
        var variable = "AGENTHARNESS_TEST_UNSET_" + Guid.NewGuid().ToString("N");
        var ex = ValidationFails(null, harness: b => b.AddProvider("requesty", p =>
        {
            p.BaseUrl = new Uri("https://router.requesty.ai/v1");
            p.IsGateway = true;
            p.RequiresApiKey = false;
            p.ApiKeyEnvironmentVariable = variable;
        }));

        Assert.Contains($"the default gateway 'requesty' has no ApiKey (its environment variable {variable} is empty)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_ProviderWithoutKey_ValidationNamesTheProvider()
    {
        var ex = ValidationFails(
            static o => o.Provider = "local",
            harness: static b => b.AddProvider("local", p => { p.BaseUrl = new Uri("http://localhost:8080/v1"); p.RequiresApiKey = false; }));

        Assert.Contains("RequestyUsage:ApiKey is not set and RequestyUsage:Provider is 'local', whose ApiKey is empty", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("api/v2")]
    [InlineData("ftp://api-v2.requesty.ai")]
    public void Options_BaseAddressNotHttp_ValidationShowsTheValueButNotTheKey(string address)
    {
        var ex = ValidationFails(o =>
        {
            o.BaseAddress = new Uri(address, UriKind.RelativeOrAbsolute);
            o.ApiKey = Key;
        });

        Assert.Contains($"RequestyUsage:BaseAddress must be an absolute http or https address; got '{address}'.", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_PlainHttpToAnotherHost_RefusedAtStart()
    {
        var ex = ValidationFails(static o =>
        {
            o.BaseAddress = new Uri("http://api-v2.requesty.ai");
            o.ApiKey = Key;
        });

        Assert.Contains("RequestyUsage:BaseAddress must use https for a host that is not loopback (the API key would travel in clear text); got 'http://api-v2.requesty.ai'.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_KeyPastedIntoBaseAddress_RedactedFromTheMessage()
    {
        var ex = ValidationFails(static o =>
        {
            o.BaseAddress = new Uri("ftp://api-v2.requesty.ai/?token=" + Key);
            o.ApiKey = Key;
        });

        Assert.Contains("got 'ftp://api-v2.requesty.ai/'.", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_SchemelessBaseAddressWithKeyInQuery_ShownWithoutQueryOrUserInformation()
    {
        var ex = ValidationFails(static o =>
        {
            o.BaseAddress = new Uri("user:pw-secret-9@api.example.com/v1?api_key=sk-secret-123456", UriKind.RelativeOrAbsolute);
            o.ApiKey = Key;
        });

        Assert.Contains("RequestyUsage:BaseAddress must be an absolute http or https address; got 'api.example.com/v1'.", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_BaseAddressNullAndQueryFormUndefined_BothReported()
    {
        var ex = ValidationFails(static o =>
        {
            o.BaseAddress = null;
            o.QueryForm = (RequestyQueryForm)7;
        });

        Assert.Contains("RequestyUsage:BaseAddress is not set", ex.Message, StringComparison.Ordinal);
        Assert.Contains("RequestyUsage:QueryForm is '7', which is not one of JsonBody, QueryString.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_Invalid_FailsAtStart()
    {
        var services = new ServiceCollection();
        services.AddAgentHarness().AddRequestyUsageClient(static o => o.ApiKey = null);
        using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains("RequestyUsage:ApiKey and RequestyUsage:Provider are not set", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_Defaults_AreDocumented()
    {
        var options = new RequestyUsageOptions();

        Assert.Equal(new Uri("https://api-v2.requesty.ai"), options.BaseAddress);
        Assert.Null(options.ApiKey);
        Assert.Null(options.Provider);
        Assert.Null(options.QueryForm);
    }

    [Fact]
    public async Task AddRequestyUsageClient_ConfigurationSection_BindsTheOptions()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Usage:Requesty:BaseAddress"] = "https://requesty-proxy.test",
            ["Usage:Requesty:ApiKey"] = "key-from-configuration",
            ["Usage:Requesty:QueryForm"] = "QueryString",
        }).Build();
        using var requesty = Requesty.Create(section: configuration.GetSection("Usage:Requesty"));
        requesty.Answer("https://requesty-proxy.test/*", """{"usage":{}}""");

        await requesty.Client.GetOrganizationUsageAsync(SeedQuery, Ct);

        var request = Assert.Single(requesty.Requests);
        Assert.Equal("requesty-proxy.test", request.Uri.Host);
        Assert.StartsWith("?start=", request.Uri.Query, StringComparison.Ordinal);
        Assert.Equal("Bearer key-from-configuration", request.Authorization);
    }

    [Fact]
    public void AddRequestyUsageClient_ConfigurationSection_ValidationNamesTheSectionPath()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Usage:Requesty:BaseAddress"] = "not-absolute",
            ["Usage:Requesty:Provider"] = "nobody",
        }).Build();
        var services = new ServiceCollection();
        services.AddAgentHarness().AddRequestyUsageClient(configuration.GetSection("Usage:Requesty"));
        using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<RequestyUsageOptions>>().Value);

        Assert.Contains("Usage:Requesty:BaseAddress must be an absolute http or https address; got 'not-absolute'.", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Usage:Requesty:Provider is 'nobody', which is not a harness provider (none is configured).", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddRequestyUsageClient_ReturnedBuilder_NamesTheClientsResilienceOptions()
    {
        using var requesty = Requesty.Create();

        var options = requesty.Services.GetRequiredService<IOptionsMonitor<HttpStandardResilienceOptions>>().Get(RequestyUsageClient.HttpClientName + "-standard");

        Assert.Equal(RequestyUsageClient.HttpClientName, requesty.ClientBuilderName);
        Assert.Equal(TimeSpan.Zero, options.Retry.Delay);
    }

    // ---- Helpers ----

    private static UsageQuery Query(UsageResolution resolution = UsageResolution.Day, string[]? groupBy = null) => new()
    {
        Start = SeedQuery.Start,
        End = SeedQuery.End,
        Resolution = resolution,
        GroupBy = groupBy ?? [],
    };

    private static UsageTotals Totals(long requests, long completions, long input, long output, long total, decimal spend) => new()
    {
        Requests = requests,
        CompletionsRequests = completions,
        InputTokens = input,
        OutputTokens = output,
        TotalTokens = total,
        SpendUsd = spend,
    };

    private static HttpResponseMessage Json(string body, HttpStatusCode status = HttpStatusCode.OK) =>
        new(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };

    private static OptionsValidationException ValidationFails(Action<RequestyUsageOptions>? configure, Action<IAgentHarnessBuilder>? harness = null)
    {
        var services = new ServiceCollection();
        var builder = services.AddAgentHarness();
        (harness ?? Requesty.Gateway)(builder);
        if (configure is null)
        {
            builder.AddRequestyUsageClient();
        }
        else
        {
            builder.AddRequestyUsageClient(configure);
        }

        using var provider = services.BuildServiceProvider();
        return Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<RequestyUsageOptions>>().Value);
    }

    /// <summary>What Requesty received in one request, content headers included.</summary>
    private sealed record Captured(HttpMethod Method, Uri Uri, string? Authorization, string? Accept, string? ContentType, string? Body);

    /// <summary>A container with the harness, a Requesty gateway and the usage client over MockHttp; every request that reaches the transport is recorded.</summary>
    private sealed class Requesty : IDisposable
    {
        private readonly List<Captured> _requests = [];
        private readonly MockHttpMessageHandler _mock = new();

        private Requesty()
        {
            _mock.Fallback.Respond(async request =>
            {
                await CaptureAsync(request);
                return new HttpResponseMessage(HttpStatusCode.NotImplemented) { Content = new StringContent("no answer set for " + request.RequestUri) };
            });
        }

        public ServiceProvider Services { get; private set; } = null!;

        public string? ClientBuilderName { get; private set; }

        public RequestyUsageClient Client => Services.GetRequiredService<RequestyUsageClient>();

        public IReadOnlyList<Captured> Requests
        {
            get
            {
                lock (_requests)
                {
                    return [.. _requests];
                }
            }
        }

        /// <summary>A Requesty gateway provider holding <see cref="Key"/>, as an application configures one.</summary>
        public static void Gateway(IAgentHarnessBuilder builder) => builder.AddProvider("requesty", static p =>
        {
            p.BaseUrl = new Uri("https://router.requesty.ai/v1");
            p.ApiKey = Key;
            p.IsGateway = true;
        });

        /// <summary>Builds the container. Retries are off unless asked for, and every retry delay is zero: no test waits.</summary>
        public static Requesty Create(
            Action<RequestyUsageOptions>? options = null,
            Action<IAgentHarnessBuilder>? configure = null,
            bool retries = false,
            HttpMessageHandler? transport = null,
            Action<IServiceCollection>? configureServices = null,
            IConfigurationSection? section = null)
        {
            var requesty = new Requesty();
            var services = new ServiceCollection();
            services.AddSingleton<TimeProvider>(new FakeTimeProvider(new DateTimeOffset(2026, 5, 8, 9, 0, 0, TimeSpan.Zero)));
            configureServices?.Invoke(services);
            var builder = services.AddAgentHarness();
            Gateway(builder);
            var client = section is not null
                ? builder.AddRequestyUsageClient(section)
                : options is not null ? builder.AddRequestyUsageClient(options) : builder.AddRequestyUsageClient();
            configure?.Invoke(builder);
            client.ConfigurePrimaryHttpMessageHandler(() => transport ?? requesty._mock);
            services.Configure<HttpStandardResilienceOptions>(client.Name + "-standard", o =>
            {
                o.Retry.Delay = TimeSpan.Zero;
                if (!retries)
                {
                    o.Retry.ShouldHandle = static _ => ValueTask.FromResult(false);
                }
            });

            requesty.ClientBuilderName = client.Name;
            requesty.Services = services.BuildServiceProvider();
            return requesty;
        }

        public void Answer(string url, string body, HttpStatusCode status = HttpStatusCode.OK) => Answer(url, () => Json(body, status));

        /// <summary>Answers requests to <paramref name="url"/> with the answers in turn, the last one from then on.</summary>
        public void Answer(string url, params Func<HttpResponseMessage>[] answers)
        {
            var index = -1;
            _mock.When(url).Respond(async request =>
            {
                await CaptureAsync(request);
                return answers[Math.Min(Interlocked.Increment(ref index), answers.Length - 1)]();
            });
        }

        public void Dispose()
        {
            Services?.Dispose();
            _mock.Dispose();
        }

        private async Task CaptureAsync(HttpRequestMessage request)
        {
            var captured = new Captured(
                request.Method,
                request.RequestUri!,
                request.Headers.Authorization?.ToString(),
                request.Headers.TryGetValues("Accept", out var accept) ? string.Join(", ", accept) : null,
                request.Content?.Headers.ContentType?.ToString(),
                request.Content is null ? null : await request.Content.ReadAsStringAsync());
            lock (_requests)
            {
                _requests.Add(captured);
            }
        }
    }
}
