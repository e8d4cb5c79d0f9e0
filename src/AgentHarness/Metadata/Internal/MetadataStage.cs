using AgentHarness.Pipeline.Internal;

namespace AgentHarness.Metadata.Internal;

/// <summary>
/// Adds the run's metadata headers (<c>&lt;prefix&gt;Agent</c>, <c>&lt;prefix&gt;Task</c>, ...) to each
/// attempt that goes to a gateway that asked for them, exactly once, and keeps every gateway's
/// metadata headers away from providers that are not that gateway.
/// </summary>
/// <param name="prefixes">The metadata header prefixes of every gateway.</param>
internal sealed class MetadataStage(string[] prefixes) : IAttemptStage
{
    public bool Admit(CallContext call, Candidate candidate) => true;

    public ValueTask<AttemptResult> SendAsync(CallContext call, AttemptNext next)
    {
        Apply(call, call.Attempt.Request!, call.Attempt.Candidate.Provider);
        return next.SendAsync(call);
    }

    private void Apply(CallContext call, HttpRequestMessage request, ProviderEndpoint provider)
    {
        RemoveForeignHeaders(request, provider.MetadataHeaderPrefix);
        if (provider.MetadataHeaderPrefix is { } prefix)
        {
            if (call.Metadata is { } metadata)
            {
                foreach (var (name, value) in metadata.HeadersFor(prefix))
                {
                    Set(request, name, value);
                }
            }

            if (call.Task is { } task)
            {
                Set(request, provider.TaskHeaderName!, task);
            }
        }
    }

    private static void Set(HttpRequestMessage request, string name, string value)
    {
        request.Headers.Remove(name);
        request.Headers.TryAddWithoutValidation(name, value);
    }

    private void RemoveForeignHeaders(HttpRequestMessage request, string? ownPrefix)
    {
        if (prefixes.Length == 0 || (prefixes.Length == 1 && string.Equals(prefixes[0], ownPrefix, StringComparison.OrdinalIgnoreCase)))
        {
            return;
        }

        List<string>? foreign = null;
        foreach (var header in request.Headers.NonValidated)
        {
            foreach (var prefix in prefixes)
            {
                if (header.Key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)
                    && (ownPrefix is null || !header.Key.StartsWith(ownPrefix, StringComparison.OrdinalIgnoreCase)))
                {
                    (foreign ??= []).Add(header.Key);
                    break;
                }
            }
        }

        if (foreign is not null)
        {
            foreach (var name in foreign)
            {
                request.Headers.Remove(name);
            }
        }
    }
}
