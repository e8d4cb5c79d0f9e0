namespace AgentHarness.Pipeline.Internal;

/// <summary>How one logical call retries, times out and falls back: from a policy, or from the provider of a direct call.</summary>
internal sealed record RouteSettings(
    int AttemptsPerCandidate,
    TimeSpan AttemptTimeout,
    TimeSpan TotalTimeout,
    TimeSpan RetryBaseDelay,
    TimeSpan MaxRetryAfter,
    FallbackTriggers FallbackOn,
    TimeSpan FirstTokenTimeout,
    TimeSpan StreamIdleTimeout)
{
    public static RouteSettings From(PolicyOptions policy) => new(
        policy.AttemptsPerModel,
        policy.AttemptTimeout,
        policy.TotalTimeout,
        policy.RetryBaseDelay,
        policy.MaxRetryAfter,
        policy.FallbackOn,
        policy.FirstTokenTimeout,
        policy.StreamIdleTimeout);

    /// <summary>A direct call has one candidate; its attempt timeout also bounds the wait for a stream's first event and any silence within it.</summary>
    public static RouteSettings From(ProviderOptions provider) => new(
        provider.MaxRetries + 1,
        provider.AttemptTimeout,
        provider.TotalTimeout,
        provider.RetryBaseDelay,
        provider.MaxRetryAfter,
        FallbackTriggers.None,
        provider.AttemptTimeout,
        provider.AttemptTimeout);
}

/// <summary>Receives how long a candidate took to answer: a policy whose strategy learns from latencies.</summary>
internal interface ILatencyObserver
{
    /// <param name="member">The candidate's index among the policy's members.</param>
    /// <param name="latency">How long the attempt took until the answer (or a stream's first output).</param>
    void ReportLatency(int member, TimeSpan latency);
}

/// <summary>One model on one provider that a call may be sent to.</summary>
/// <param name="Provider">The provider.</param>
/// <param name="Model">The model name that provider expects.</param>
/// <param name="ContextWindow">The model's context window, when known.</param>
/// <param name="Policy">The policy whose member this is, to report latency to; <see langword="null"/> for a direct call.</param>
/// <param name="Member">The member's index in <paramref name="Policy"/>.</param>
internal sealed record Candidate(ProviderEndpoint Provider, string Model, int? ContextWindow, ILatencyObserver? Policy, int Member)
{
    /// <summary>Gets the cooldown key: one provider's model, independent of every other.</summary>
    public string Key { get; } = Provider.Name + "/" + Model;

    // The target of this candidate's last attempt: a candidate's calls nearly always ask for the same id, and a target is immutable.
    private AttemptTarget? _target;

    /// <summary>Gets the id the price catalog knows the candidate by: the full id on a gateway, <c>provider/model</c> elsewhere.</summary>
    public string CatalogId { get; } = Provider.IsGateway ? Model : Provider.Name + "/" + Model;

    /// <summary>Gets the target of an attempt at this candidate for a call that asked for <paramref name="requestedModel"/>.</summary>
    public AttemptTarget TargetFor(string requestedModel)
    {
        var target = Volatile.Read(ref _target);
        if (target is null || !string.Equals(target.RequestedModel ?? string.Empty, requestedModel, StringComparison.Ordinal))
        {
            target = new AttemptTarget(Provider.Name, requestedModel, Model);
            Volatile.Write(ref _target, target);
        }

        return target;
    }
}
