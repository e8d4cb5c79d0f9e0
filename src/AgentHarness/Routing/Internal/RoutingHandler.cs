using AgentHarness.Http.Internal;
using AgentHarness.Pipeline.Internal;
using Microsoft.Extensions.Options;

namespace AgentHarness.Routing.Internal;

/// <summary>
/// The top of the gateway pipeline: turns one request of an official client into one logical call. It builds the
/// call's context once (its route, run, metadata and request), runs the routing loop over the call's candidates, and
/// ends the call; every way a call can end goes through <see cref="CallContext.Finish"/>.
/// </summary>
internal sealed class RoutingHandler(
    ProviderRegistry registry,
    CandidateHealth health,
    RoutingLoop loop,
    CallStages stages,
    IPriceCatalog catalog,
    TimeProvider timeProvider,
    IOptions<AgentHarnessOptions> options,
    Caching.Internal.ResponseCacheStage? cache = null) : DelegatingHandler
{
    /// <summary>The address official clients are pointed at; only its path matters, the host never resolves.</summary>
    public static readonly Uri VirtualEndpoint = new("https://agentharness.invalid/v1");

    /// <summary>Marks a request sent through <see cref="Send"/>, so that its logical call runs synchronously.</summary>
    internal static readonly HttpRequestOptionsKey<bool> SynchronousKey = new("AgentHarness.Synchronous");

    private static readonly string VirtualPath = VirtualEndpoint.AbsolutePath;

    private readonly BodyLimits _limits = BodyLimits.From(options.Value);

    // The calls' deadlines reuse the cancellation sources (and their timers) of calls that ended without them firing.
    private readonly DeadlineSources _deadlineSources = new(timeProvider);

    // The contexts of calls that have ended, for the next calls from the harness's own clients.
    private readonly CallContexts _contexts = new();

    // Lowest-cost policies order their members by the catalog's price of input and output together.
    private readonly Func<string, decimal?> _pricePerToken = id => catalog.TryGetPrice(id, out var price) ? price.InputPerToken + price.OutputPerToken : null;

    // The paths of the last requests: an official client sends each operation to the same address, and taking it
    // apart again for every call would allocate three strings.
    private readonly RequestPath?[] _paths = new RequestPath?[4];
    private int _nextPath;
    private CallPipeline? _pipeline;

    /// <summary>Gets the call pipeline, which ends with the handlers below this one: they are set after construction.</summary>
    private CallPipeline Pipeline =>
        Volatile.Read(ref _pipeline) ?? Interlocked.CompareExchange(ref _pipeline, new CallPipeline(stages, new TransportStage(InnerHandler!, _limits)), null) ?? _pipeline!;

    /// <summary>
    /// Serves the official client's synchronous methods through the same pipeline, in synchronous mode:
    /// the request body, the attempts (<see cref="HttpMessageInvoker.Send"/> down to the socket handler),
    /// the answer and a stream's first event are all read on this thread, so every await in
    /// <see cref="SendAsync"/> completes synchronously and the task is done when it returns. Waiting on
    /// it never needs another pool thread, which would starve the pool under concurrent synchronous
    /// calls. Only a retry delay, or a budget store that completes asynchronously, blocks this thread.
    /// Routing, keys, metadata and records do not depend on which method the application called.
    /// </summary>
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Options.Set(SynchronousKey, true);
        return SendAsync(request, cancellationToken).GetAwaiter().GetResult();
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var started = timeProvider.GetTimestamp();
        var pipeline = Pipeline;
        var synchronous = request.Options.TryGetValue(SynchronousKey, out var sync) && sync;
        var path = Path(request.RequestUri);
        var relative = path.Relative;
        var operation = path.Operation;
        if (request.Options.TryGetValue(ClientRoute.OptionsKey, out var client))
        {
            // A client the harness handed out: its route is known, and its body is the official client's own. Nothing
            // here waits, so the call goes straight to the routing, whose state is all that lives across its awaits.
            var call = _contexts.Rent();
            call.Start(pipeline, call.OwnRequest.ForClient(request, relative, operation, client.Route.Model, client.Route.BodyModel, client.Stream), started, timeProvider, cancellationToken, synchronous);
            return RouteAsync(call, client.Route.Plan, started, cancellationToken);
        }

        return ParseAndRouteAsync(request, cancellationToken, started, pipeline, synchronous, relative, operation);
    }

    /// <summary>A request whose route is not known: its body is read and parsed for the model it names, once.</summary>
    private async Task<HttpResponseMessage> ParseAndRouteAsync(HttpRequestMessage request, CancellationToken cancellationToken, long started, CallPipeline pipeline, bool synchronous, string relative, string operation)
    {
        RequestBody body;
        try
        {
            // A caller who has already cancelled still gets the call's one record, with its model:
            // the official clients' bodies are in memory, so reading one costs no wait.
            var token = cancellationToken.IsCancellationRequested ? CancellationToken.None : cancellationToken;
            body = request.Content is null
                ? RequestBody.Empty
                : Parse(request.Content, synchronous
                    ? SynchronousRead.ReadAll(request.Content, token)
                    : await RequestContent.ReadAsync(request.Content, token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            new CallContext(pipeline, CallRequest.FromBody(request, relative, operation, RequestBody.Empty), started, timeProvider, cancellationToken, synchronous)
                .Finish(UsageOutcome.Canceled, statusCode: null, "cancelled by the caller");
            throw;
        }

        var refusal = ModelIds.Refusal(body.Model);
        if (refusal is not null)
        {
            // The record and its log line quote the id escaped and shortened, never as sent.
            body = Parse(request.Content!, body.WithModel(ModelIds.Show(body.Model!)));
        }

        var call = new CallContext(pipeline, CallRequest.FromBody(request, relative, operation, body), started, timeProvider, cancellationToken, synchronous);
        if (cancellationToken.IsCancellationRequested)
        {
            call.Finish(UsageOutcome.Canceled, statusCode: null, "cancelled by the caller");
            throw new OperationCanceledException("The call was cancelled by the caller.", null, cancellationToken);
        }

        if (body.ModelError is { } unreadable)
        {
            // Routing a model the harness cannot read would send the request where a request without one goes.
            call.Finish(UsageOutcome.Rejected, statusCode: null, unreadable);
            throw new UnroutableModelException(null, unreadable);
        }

        var error = refusal;
        RoutePlan plan;
        if (refusal is not null || !registry.TryPlan(body.Model, out plan, out error))
        {
            call.Finish(UsageOutcome.Rejected, statusCode: null, error);
            throw new UnroutableModelException(body.Model, error!);
        }

        return await RouteAsync(call, plan, started, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Routes a call whose context is built, and ends it: every way out of here goes through <see cref="CallContext.Finish"/>.</summary>
    private async Task<HttpResponseMessage> RouteAsync(CallContext call, RoutePlan plan, long started, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            call.Finish(UsageOutcome.Canceled, statusCode: null, "cancelled by the caller");
            throw new OperationCanceledException("The call was cancelled by the caller.", null, cancellationToken);
        }

        var candidates = plan.Candidates(call.Run, health.Cooldowns, _pricePerToken);
        call.Settings = plan.Settings;
        var deadline = call.OwnDeadline.Start(timeProvider, cancellationToken, started, plan.Settings.TotalTimeout, _deadlineSources);
        call.Deadline = deadline;

        // The call's span, when one is recorded, is current while the call is routed: the loop's logs belong to it.
        var scope = Pipeline.EnterScope(call);
        HttpResponseMessage response;
        try
        {
            try
            {
                // A hit ends the call with the cache's answer; without a cache the call takes exactly the loop's path.
                response = cache is not null && await cache.LookupAsync(call).ConfigureAwait(false) is { } hit
                    ? hit
                    : await loop.RunAsync(call, candidates, Pipeline).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                call.Finish(UsageOutcome.Canceled, statusCode: null, "cancelled by the caller");
                throw;
            }
            catch (Exception ex) when (ex is BudgetExceededException or UnpricedModelException or BudgetStoreUnavailableException)
            {
                call.Finish(call.AnySent ? UsageOutcome.Failed : UsageOutcome.Rejected, statusCode: null, ex.Message);
                throw;
            }
            catch (Exception ex)
            {
                call.Finish(UsageOutcome.Failed, statusCode: null, ex is AllCandidatesFailedException or HttpRequestException ? ex.Message : ex.GetType().Name);
                throw;
            }

            // A whole answer has been read: nothing handed on holds the deadline's token. A stream's transport may.
            deadline.Recycle = !call.Streamed;
            response = call.Complete(cache is null ? response : cache.Capture(call, response));
        }
        finally
        {
            Pipeline.LeaveScope(scope);
            deadline.Dispose();
        }

        // Only once the deadline is done with it; a stream handed to the caller still holds the context until it ends.
        call.Release();
        return response;
    }

    /// <summary>A JSON body, or a multipart form (a transcription, an image edit), whose <c>model</c> field is routed the same way.</summary>
    private static RequestBody Parse(HttpContent content, byte[] bytes) =>
        MultipartForm.Boundary(content) is { } boundary ? MultipartForm.Parse(bytes, boundary)
            : MultipartForm.IsForm(content) ? RequestBody.Form(bytes, null, -1, 0, false, MultipartForm.UnreadableForm)
            : RequestBody.Parse(bytes);

    private RequestPath Path(Uri? uri)
    {
        if (uri is null)
        {
            return RequestPath.None;
        }

        var address = uri.OriginalString;
        foreach (var known in _paths)
        {
            if (known is not null && string.Equals(known.Address, address, StringComparison.Ordinal))
            {
                return known;
            }
        }

        var relative = RelativePathAndQuery(uri);
        var path = new RequestPath(address, relative, Operation(relative));
        _paths[Interlocked.Increment(ref _nextPath) & (4 - 1)] = path;
        return path;
    }

    private static string RelativePathAndQuery(Uri uri)
    {
        var path = uri.IsAbsoluteUri ? uri.PathAndQuery : uri.OriginalString;
        return path.StartsWith(VirtualPath, StringComparison.Ordinal) && (path.Length == VirtualPath.Length || path[VirtualPath.Length] is '/' or '?')
            ? path[VirtualPath.Length..]
            : path;
    }

    private static string Operation(string relative)
    {
        var end = relative.IndexOf('?', StringComparison.Ordinal);
        return (end < 0 ? relative : relative[..end]).Trim('/');
    }

    /// <summary>A request's address taken apart: the path below the virtual endpoint and the operation.</summary>
    private sealed record RequestPath(string Address, string Relative, string Operation)
    {
        public static RequestPath None { get; } = new(string.Empty, string.Empty, string.Empty);
    }
}
