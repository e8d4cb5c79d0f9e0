using AgentHarness.Http.Internal;

namespace AgentHarness.Pipeline.Internal;

/// <summary>
/// Builds the attempt's request for its candidate: the provider's address, the body for that model (with any output
/// limit the budget stage set), and the mark that has the credentials handler set that provider's key, and nothing of
/// another provider's.
/// </summary>
/// <remarks>
/// The first attempt of a call from a client the harness handed out goes out as the official client built it, since
/// that client wrote the body for this route: only its address, its key and a wrapper around its content change. Every
/// later attempt (a retry, a fallback) is a new request copying the caller's headers as they were before the first
/// attempt left (handlers below add theirs to that request), never one sent before.
/// </remarks>
internal sealed class RequestStage : IAttemptStage
{
    public bool Admit(CallContext call, Candidate candidate) => true;

    public ValueTask<AttemptResult> SendAsync(CallContext call, AttemptNext next)
    {
        var attempt = call.Attempt;
        attempt.Started = call.Time.GetTimestamp();
        call.Current = attempt.Candidate;
        if (call.Deadline.CallerCanceled)
        {
            // Nothing is sent for a caller who has already given up.
            throw new OperationCanceledException("The call was cancelled by the caller.", null, call.CallerToken);
        }

        attempt.Request = Build(call, attempt);
        return next.SendAsync(call);
    }

    private static HttpRequestMessage Build(CallContext call, AttemptContext attempt)
    {
        var request = call.Request;
        var original = request.Message;
        var candidate = attempt.Candidate;
        var uri = candidate.Provider.BuildUri(request.RelativePath);
        var own = request.ReusableContent is { } content
            && attempt.OutputLimit is null
            && !PromptHints.Apply(call, candidate)
            && string.Equals(candidate.Model, request.BodyModel, StringComparison.Ordinal)
            ? content
            : null;

        HttpRequestMessage message;
        if (!call.OriginalSent && (!request.HasContent || own is not null))
        {
            call.OriginalSent = true;
            request.KeepHeaders();
            message = original;
            message.RequestUri = uri;
            if (own is not null && call.CallerToken.CanBeCanceled)
            {
                // Only a caller who can cancel needs to know whether the body started to leave.
                message.Content = new ForwardedContent(own);
            }
        }
        else
        {
            message = new HttpRequestMessage(original.Method, uri)
            {
                Version = request.Version,
                VersionPolicy = request.VersionPolicy,
            };

            request.CopyHeadersTo(message.Headers);

            if (request.HasContent)
            {
                message.Content = own is not null ? new ForwardedContent(own) : Rewritten(call, attempt);
            }
        }

        candidate.Provider.Authorize(message);

        // Public, so that a primary handler (the sandbox, a test double) knows the call and candidate without reading the body.
        message.Options.Set(AttemptTarget.OptionsKey, candidate.TargetFor(call.ModelRequested));
        return message;
    }

    /// <summary>The caller's body for the candidate's model; a limit the budget stage set goes into this attempt's body only.</summary>
    private static AttemptContent Rewritten(CallContext call, AttemptContext attempt)
    {
        var request = call.Request;
        var body = request.BodyFor(attempt.Candidate.Model);
        body = attempt.OutputLimit is { } limit ? OutputLimit.Insert(body, OutputLimit.Property(request.Operation)!, limit) : body;
        var content = new AttemptContent(PromptHints.Apply(call, attempt.Candidate) ? PromptHints.Insert(body, attempt.Candidate.Provider, call) : body);
        HeaderCopy.AddContentHeaders(content, request.ReusableContent ?? request.Message.Content!);

        return content;
    }
}
