using AgentHarness.Http.Internal;
using AgentHarness.Runs.Internal;

namespace AgentHarness.Routing.Internal;

/// <summary>
/// The state of one logical call across its attempts; it is also the state object passed to the
/// resilience pipeline, so running an attempt allocates no closure.
/// </summary>
internal sealed class LogicalCall : IStreamCompletion
{
    public static readonly HttpRequestOptionsKey<LogicalCall> OptionsKey = new("AgentHarness.Call");

    private readonly RoutingHandler _handler;
    private readonly HttpRequestMessage _request;
    private readonly RequestBody _body;
    private readonly string _operation;
    private readonly long _started;
    private readonly DateTimeOffset _timestamp;
    private readonly AgentRun? _run;
    private readonly CancellationToken _callerToken;
    private readonly List<UsageAttempt> _attempts = new(1);
    private Uri? _target;
    private byte[]? _upstreamBody;
    private UsageReading _reading;
    private int _finished;

    public LogicalCall(RoutingHandler handler, HttpRequestMessage request, RequestBody body, string operation, long started, CancellationToken callerToken)
    {
        _callerToken = callerToken;
        _handler = handler;
        _request = request;
        _body = body;
        _operation = operation;
        _started = started;
        _timestamp = handler.TimeProvider.GetUtcNow();
        _run = AgentRun.Current;
        Metadata = _run?.MetadataSnapshot;
        Task = _run?.CurrentTask;
    }

    /// <summary>Gets the run's metadata as it stood when the call began; every attempt sends the same values.</summary>
    public RunMetadata? Metadata { get; }

    public string? Task { get; }

    public ProviderEndpoint? Provider { get; private set; }

    private string? UpstreamModel { get; set; }

    public void Route(Route route, Uri target, byte[] upstreamBody)
    {
        Provider = route.Provider;
        UpstreamModel = route.Model;
        _target = target;
        _upstreamBody = upstreamBody;
    }

    public async ValueTask<HttpResponseMessage> SendAttemptAsync(CancellationToken cancellationToken)
    {
        var time = _handler.TimeProvider;
        var started = time.GetTimestamp();
        var attempt = CreateAttempt();
        try
        {
            var response = await _handler.SendInnerAsync(attempt, cancellationToken).ConfigureAwait(false);
            response.RequestMessage = _request;
            var status = (int)response.StatusCode;
            if (!IsEventStream(response))
            {
                // A body that is not streamed is read inside the attempt, so the attempt timeout covers it
                // and its usage is known when the call ends.
                var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
                var buffered = new ByteArrayContent(bytes);
                foreach (var header in response.Content.Headers.NonValidated)
                {
                    buffered.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }

                response.Content.Dispose();
                response.Content = buffered;
                if (response.IsSuccessStatusCode)
                {
                    _reading.Read(bytes);
                }
            }

            _attempts.Add(new UsageAttempt(Provider!.Name, UpstreamModel!, status, response.IsSuccessStatusCode ? null : $"HTTP {status}", time.GetElapsedTime(started)));
            return response;
        }
        catch (Exception ex)
        {
            // The attempt's token is cancelled by the attempt timeout; the caller's is not.
            var error = ex is OperationCanceledException && !_callerToken.IsCancellationRequested
                ? $"attempt timed out after {Provider!.AttemptTimeout}"
                : Describe(ex);
            _attempts.Add(new UsageAttempt(Provider!.Name, UpstreamModel!, null, error, time.GetElapsedTime(started)));
            throw;
        }
    }

    /// <summary>Ends the call with the final response: a stream is recorded when it ends, anything else now.</summary>
    public HttpResponseMessage Complete(HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
        {
            Finish(UsageOutcome.Failed, (int)response.StatusCode, $"HTTP {(int)response.StatusCode}");
        }
        else if (IsEventStream(response))
        {
            response.Content = new ObservedStreamContent(response.Content, this);
        }
        else
        {
            Finish(UsageOutcome.Succeeded, (int)response.StatusCode, error: null);
        }

        return response;
    }

    public void OnStreamCompleted(SseUsageObserver observer, bool endedNormally, bool canceled, string? error)
    {
        _reading = observer.Reading;
        var outcome = endedNormally ? UsageOutcome.Succeeded : canceled ? UsageOutcome.Canceled : UsageOutcome.Incomplete;
        Finish(outcome, 200, error);
    }

    public void Finish(UsageOutcome outcome, int? statusCode, string? error)
    {
        if (Interlocked.Exchange(ref _finished, 1) != 0)
        {
            return;
        }

        var latency = _handler.TimeProvider.GetElapsedTime(_started);
        var record = new UsageRecord
        {
            Timestamp = _timestamp,
            RunId = _run?.RunId,
            Agent = _run?.Agent,
            Task = Task,
            Metadata = Metadata?.ForCall(Task) ?? EmptyMetadata,
            ModelRequested = _body.Model ?? string.Empty,
            ModelUsed = _reading.Model,
            Provider = Provider?.Name,
            Operation = _operation,
            Streaming = _body.Stream,
            InputTokens = _reading.InputTokens,
            OutputTokens = _reading.OutputTokens,
            CachedInputTokens = _reading.CachedInputTokens,
            Latency = latency,
            Outcome = outcome,
            StatusCode = statusCode,
            Error = error,
            Attempts = _attempts.ToArray(),
        };

        try
        {
            _handler.Ledger.Add(record);
        }
#pragma warning disable CA1031 // A ledger failure must never fail the model call that it records.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        _run?.AddCall(record);
        if (outcome is UsageOutcome.Succeeded or UsageOutcome.Canceled)
        {
            RoutingHandler.LogCallEnded(_handler.Logger, record.ModelRequested, record.Provider, _operation, outcome, _attempts.Count, latency.TotalMilliseconds, record.InputTokens, record.OutputTokens);
        }
        else
        {
            RoutingHandler.LogCallFailed(_handler.Logger, record.ModelRequested, record.Provider, _operation, outcome, _attempts.Count, error);
        }
    }

    internal static string Describe(Exception ex) => ex switch
    {
        HttpRequestException { HttpRequestError: var kind } when kind != HttpRequestError.Unknown => $"{ex.GetType().Name} ({kind})",
        OperationCanceledException => "cancelled",
        _ => ex.GetType().Name,
    };

    private static readonly IReadOnlyDictionary<string, string> EmptyMetadata =
        new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    private static bool IsEventStream(HttpResponseMessage response) =>
        response.IsSuccessStatusCode
        && string.Equals(response.Content.Headers.ContentType?.MediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase);

    private HttpRequestMessage CreateAttempt()
    {
        var attempt = new HttpRequestMessage(_request.Method, _target)
        {
            Version = _request.Version,
            VersionPolicy = _request.VersionPolicy,
        };

        // NonValidated: copying must neither parse nor allocate the header values.
        foreach (var header in _request.Headers.NonValidated)
        {
            attempt.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        if (_request.Content is not null)
        {
            attempt.Content = new ByteArrayContent(_upstreamBody!);
            foreach (var header in _request.Content.Headers.NonValidated)
            {
                if (!header.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    attempt.Content.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }
            }
        }

        Provider!.Authorize(attempt);
        attempt.Options.Set(OptionsKey, this);
        return attempt;
    }
}
