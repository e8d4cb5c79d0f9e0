using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AgentHarness.Internal;
using AgentHarness.Usage.Internal;
using Microsoft.Extensions.Logging;

namespace AgentHarness;

/// <summary>
/// A client of Requesty's usage and key management API (<c>https://api-v2.requesty.ai/v1/manage/…</c>):
/// spend and tokens of an API key or of the whole organisation as a <see cref="UsageReport"/>, the
/// same report the harness's own ledger gives, and an API key's description.
/// </summary>
/// <remarks>
/// <para>
/// Register it with <c>AddRequestyUsageClient</c> (see <see cref="RequestyUsageBuilderExtensions"/>) and
/// resolve it from the container; it is a typed <see cref="HttpClient"/> client, sent through the
/// standard resilience handler (retries of 408, 429 and 5xx answers, timeouts, a circuit breaker):
/// an error status is reported once those retries are spent, and a request the handler times out
/// ends with its <c>TimeoutRejectedException</c>. Its <see cref="HttpClient"/> is named
/// <see cref="HttpClientName"/>. The key it sends is chosen by <see cref="RequestyUsageOptions"/>;
/// it never appears in a message or a log.
/// </para>
/// <para>
/// A query is refused before anything is sent when it is not valid (<see cref="UsageQuery.Validate"/>),
/// does not end after it starts, or spans more than 100 days, which Requesty does not answer. The
/// group key <see cref="UsageGroupKeys.Provider"/> is sent as Requesty's <c>provider_used</c>; other
/// keys are sent as they are. An API key's usage query is sent as a JSON body on the <c>GET</c> and the
/// organisation's in the query string, as Requesty documents each; <see cref="RequestyUsageOptions.QueryForm"/>
/// overrides both.
/// </para>
/// <para>
/// Like every typed client, it is transient and holds a pooled handler: resolve it where it is used
/// rather than keeping it (or a source from <see cref="ForApiKey"/>) in a singleton, so the factory
/// can rotate handlers.
/// </para>
/// <para>
/// Code written against <see cref="IUsageSource"/> can ask Requesty instead of the local ledger through
/// <see cref="ForApiKey"/> or <see cref="ForOrganization"/>.
/// </para>
/// </remarks>
public sealed partial class RequestyUsageClient
{
    /// <summary>The name of the <see cref="HttpClient"/> the client uses; its standard resilience options are named <c>AgentHarness.Requesty-standard</c>.</summary>
    public const string HttpClientName = "AgentHarness.Requesty";

    private const string JsonMediaType = "application/json";
    private const string SelfId = "self";

    /// <summary>The longest range Requesty's usage endpoints answer.</summary>
    private static readonly TimeSpan MaxRange = TimeSpan.FromDays(100);

    private readonly HttpClient _httpClient;
    private readonly RequestyUsageEndpoint _endpoint;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Func<string, string> _redact;

    internal RequestyUsageClient(HttpClient httpClient, RequestyUsageEndpoint endpoint, TimeProvider timeProvider, ILogger logger, KeyRedactor redactor)
    {
        _redact = redactor.Redact;
        _httpClient = httpClient;
        _endpoint = endpoint;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>Gets the usage of one API key (<c>GET /v1/manage/apikey/{id}/usage</c>).</summary>
    /// <param name="apiKeyId">The key's id (see <see cref="RequestyApiKeyInfo.Id"/>), not the key itself.</param>
    /// <param name="query">The range, resolution and group keys; at most 100 days.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The report: every period of the range, each with its totals and, when the query groups, its rows.</returns>
    /// <exception cref="ArgumentException"><paramref name="apiKeyId"/> is empty, the query is not valid, does not end after it starts, spans more than 100 days, or groups by <c>model_used</c> or <c>provider</c> (which only the organisation's usage groups by); nothing was sent.</exception>
    /// <exception cref="HttpRequestException">Requesty answered with an error status (after the resilience handler's retries); <see cref="HttpRequestException.StatusCode"/> is set and the message has the path, status and an excerpt of the body.</exception>
    /// <exception cref="InvalidDataException">Requesty answered with success, but not with a usage answer that can be read; the message says what could not be read.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    public Task<UsageReport> GetApiKeyUsageAsync(string apiKeyId, UsageQuery query, CancellationToken cancellationToken = default)
    {
        var path = ApiKeyPath(apiKeyId) + "/usage";
        CheckQuery(query);
        foreach (var key in query.GroupBy)
        {
            // Requesty groups an API key's usage by these only; another key would come back as one
            // row without a value, hiding the breakdown the caller asked for.
            if (key is UsageGroupKeys.ModelUsed or UsageGroupKeys.Provider)
            {
                throw new ArgumentException(
                    $"UsageQuery.GroupBy has '{key}', which Requesty's API key usage does not group by (it groups by {UsageGroupKeys.ModelRequested}, {UsageGroupKeys.UserId} and extra.<name>); the organisation's usage (GetOrganizationUsageAsync) does.",
                    nameof(query));
            }
        }

        return GetUsageAsync(path, query, _endpoint.QueryForm ?? RequestyQueryForm.JsonBody, cancellationToken);
    }

    /// <summary>Gets the usage of the whole organisation the key belongs to (<c>GET /v1/manage/org/usage</c>).</summary>
    /// <param name="query">The range, resolution and group keys; at most 100 days.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The report: every period of the range, each with its totals and, when the query groups, its rows.</returns>
    /// <exception cref="ArgumentException">The query is not valid, does not end after it starts, or spans more than 100 days; nothing was sent.</exception>
    /// <exception cref="HttpRequestException">Requesty answered with an error status (after the resilience handler's retries); <see cref="HttpRequestException.StatusCode"/> is set and the message has the path, status and an excerpt of the body.</exception>
    /// <exception cref="InvalidDataException">Requesty answered with success, but not with a usage answer that can be read; the message says what could not be read.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    public Task<UsageReport> GetOrganizationUsageAsync(UsageQuery query, CancellationToken cancellationToken = default)
    {
        CheckQuery(query);
        return GetUsageAsync("/v1/manage/org/usage", query, _endpoint.QueryForm ?? RequestyQueryForm.QueryString, cancellationToken);
    }

    /// <summary>Gets an API key's description (<c>GET /v1/manage/apikey/{id}</c>): its name, spend this month, limit and permissions.</summary>
    /// <param name="apiKeyId">The key's id, or <c>self</c> (the default) for the key the client sends.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The key's description.</returns>
    /// <exception cref="ArgumentException"><paramref name="apiKeyId"/> is empty; nothing was sent.</exception>
    /// <exception cref="HttpRequestException">Requesty answered with an error status; <see cref="HttpRequestException.StatusCode"/> is set.</exception>
    /// <exception cref="InvalidDataException">Requesty answered with success, but not with a key's description.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    public Task<RequestyApiKeyInfo> GetApiKeyInfoAsync(string apiKeyId = SelfId, CancellationToken cancellationToken = default)
    {
        var path = ApiKeyPath(apiKeyId);
        return GetApiKeyInfoCoreAsync(path, cancellationToken);
    }

    /// <summary>Returns the usage of one API key as an <see cref="IUsageSource"/>, for code written against that interface.</summary>
    /// <param name="apiKeyId">The key's id, not the key itself.</param>
    /// <returns>A source whose queries go to <see cref="GetApiKeyUsageAsync"/> through this client.</returns>
    /// <exception cref="ArgumentException"><paramref name="apiKeyId"/> is empty.</exception>
    public IUsageSource ForApiKey(string apiKeyId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(apiKeyId);
        return new RequestyUsageSource(this, apiKeyId);
    }

    /// <summary>Returns the organisation's usage as an <see cref="IUsageSource"/>, for code written against that interface.</summary>
    /// <returns>A source whose queries go to <see cref="GetOrganizationUsageAsync"/> through this client.</returns>
    public IUsageSource ForOrganization() => new RequestyUsageSource(this, null);

    private string ApiKeyPath(string apiKeyId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(apiKeyId);
        if (!string.Equals(_redact(apiKeyId), apiKeyId, StringComparison.Ordinal))
        {
            // The factory's request logging writes request URIs: the key must never become a path.
            throw new ArgumentException("The API key id contains the API key itself; pass the key's id (RequestyApiKeyInfo.Id), not the key.", nameof(apiKeyId));
        }

        return "/v1/manage/apikey/" + Uri.EscapeDataString(apiKeyId);
    }

    private static void CheckQuery(UsageQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        if (query.End <= query.Start)
        {
            throw new ArgumentException(
                $"UsageQuery.End ({UsageQuery.Format(query.End)}) must be after UsageQuery.Start ({UsageQuery.Format(query.Start)}) for Requesty's usage API.",
                nameof(UsageQuery.End));
        }

        var span = query.End - query.Start;
        if (span > MaxRange)
        {
            throw new ArgumentException(
                $"UsageQuery.End ({UsageQuery.Format(query.End)}) is {span.ToString("c", CultureInfo.InvariantCulture)} after UsageQuery.Start ({UsageQuery.Format(query.Start)}); Requesty's usage API answers at most 100 days.",
                nameof(UsageQuery.End));
        }
    }

    private async Task<UsageReport> GetUsageAsync(string path, UsageQuery query, RequestyQueryForm form, CancellationToken cancellationToken)
    {
        using var request = CreateUsageRequest(path, query, form);
        var body = await SendAsync(request, path, cancellationToken).ConfigureAwait(false);
        return RequestyUsageParser.ParseUsage(body, query, Source(path), _redact);
    }

    private async Task<RequestyApiKeyInfo> GetApiKeyInfoCoreAsync(string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _endpoint.Api.BuildUri(path));
        var body = await SendAsync(request, path, cancellationToken).ConfigureAwait(false);
        return RequestyUsageParser.ParseApiKeyInfo(body, Source(path), _redact);
    }

    private HttpRequestMessage CreateUsageRequest(string path, UsageQuery query, RequestyQueryForm form)
    {
        var start = UsageQuery.Format(query.Start);
        var end = UsageQuery.Format(query.End);
        var resolution = UsageReportWriter.ResolutionName(query.Resolution);
        if (form == RequestyQueryForm.QueryString)
        {
            var uri = new StringBuilder(path)
                .Append("?start=").Append(Uri.EscapeDataString(start))
                .Append("&end=").Append(Uri.EscapeDataString(end))
                .Append("&resolution=").Append(resolution);
            foreach (var key in query.GroupBy)
            {
                uri.Append("&group_by=").Append(Uri.EscapeDataString(RequestyUsageParser.ToWire(key)));
            }

            return new HttpRequestMessage(HttpMethod.Get, _endpoint.Api.BuildUri(uri.ToString()));
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("start", start);
            writer.WriteString("end", end);
            writer.WriteString("resolution", resolution);
            if (query.GroupBy.Count > 0)
            {
                writer.WriteStartArray("group_by");
                foreach (var key in query.GroupBy)
                {
                    writer.WriteStringValue(RequestyUsageParser.ToWire(key));
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
        }

        var content = new ByteArrayContent(buffer.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue(JsonMediaType);
        return new HttpRequestMessage(HttpMethod.Get, _endpoint.Api.BuildUri(path)) { Content = content };
    }

    /// <summary>Sends a request with the key and reads the whole answer; an error status becomes an <see cref="HttpRequestException"/>.</summary>
    private async Task<byte[]> SendAsync(HttpRequestMessage request, string path, CancellationToken cancellationToken)
    {
        _endpoint.Api.Authorize(request);
        request.Headers.TryAddWithoutValidation("Accept", JsonMediaType);
        var started = _timeProvider.GetTimestamp();
        using var response = await _httpClient.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var status = response.StatusCode;
        Log.Answered(_logger, RedactedPath(path), (int)status, (long)_timeProvider.GetElapsedTime(started).TotalMilliseconds);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException(
                $"{Source(path)} answered HTTP {((int)status).ToString(CultureInfo.InvariantCulture)}{Reason(status)}: {RequestyUsageParser.Excerpt(body, _redact)}",
                inner: null,
                status);
        }

        return body;
    }

    private static string Reason(HttpStatusCode status) =>
        Enum.IsDefined(status) ? " (" + status.ToString() + ")" : string.Empty;

    /// <summary>Names a request in messages; an id that is the key itself, passed by mistake, is not shown.</summary>
    private string Source(string path) => "Requesty GET " + RedactedPath(path);

    private string RedactedPath(string path)
    {
        var unescaped = Uri.UnescapeDataString(path);
        var redacted = _redact(unescaped);
        return string.Equals(redacted, unescaped, StringComparison.Ordinal) ? path : redacted;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 40, Level = LogLevel.Debug, Message = "Requesty GET {Path} answered HTTP {StatusCode} in {ElapsedMs} ms.")]
        public static partial void Answered(ILogger logger, string path, int statusCode, long elapsedMs);
    }
}
