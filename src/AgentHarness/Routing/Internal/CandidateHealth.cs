using AgentHarness.Pipeline.Internal;

namespace AgentHarness.Routing.Internal;

/// <summary>What a call tells the cooldowns about a candidate it tried, once, when it is done with it.</summary>
internal enum CandidateReport
{
    /// <summary>Nothing about its health: the caller's own errors, or a cancellation.</summary>
    None,

    /// <summary>It answered.</summary>
    Succeeded,

    /// <summary>It failed in a way that says something about its health.</summary>
    Unhealthy,

    /// <summary>It is streaming to the caller: it reports when the stream ends.</summary>
    Streamed,
}

/// <summary>
/// The routing loop's view of <see cref="CooldownTracker"/> for one call: which candidates it passes over, the one report
/// per candidate per call, and the report of a stream, made when the call ends.
/// </summary>
internal sealed class CandidateHealth(CooldownTracker cooldowns) : ICallObserver
{
    public CooldownTracker Cooldowns => cooldowns;

    /// <summary>
    /// Lists, before anything is tried, every candidate held back because it cools down: the plan moved it
    /// behind the others, so a call answered before reaching it must still say it was passed over. One that
    /// is still cooling when its turn comes is not listed twice; one whose cooldown ended meanwhile is tried.
    /// </summary>
    /// <returns>How many were listed.</returns>
    public int ListCoolingDown(CallContext call, IReadOnlyList<Candidate> candidates)
    {
        var listed = 0;
        for (var i = 0; i < candidates.Count; i++)
        {
            if (cooldowns.RemainingCooldown(candidates[i].Key) is not null)
            {
                SkipCoolingDown(call, candidates[i]);
                listed++;
            }
        }

        return listed;
    }

    /// <summary>Takes the candidate's slot, or lists it as cooling down (unless it was listed already).</summary>
    /// <param name="call">The call.</param>
    /// <param name="candidate">The candidate its turn has come to.</param>
    /// <param name="listed">Whether <see cref="ListCoolingDown"/> listed any candidate.</param>
    /// <param name="probe">Whether the call holds the candidate's half-open probe slot.</param>
    /// <returns>Whether the candidate may be tried.</returns>
    public bool TryAcquire(CallContext call, Candidate candidate, bool listed, out bool probe)
    {
        if (cooldowns.TryAcquire(candidate.Key, out probe))
        {
            return true;
        }

        if (!listed || !IsListed(call, candidate))
        {
            SkipCoolingDown(call, candidate);
        }

        return false;
    }

    /// <summary>The call's one report of a candidate; a stream's waits for its end (<see cref="OnCallEnded"/>).</summary>
    public void Report(CallContext call, Candidate candidate, bool probe, CandidateReport report)
    {
        switch (report)
        {
            case CandidateReport.Streamed:
                // A stream handed over says nothing yet: it reports once it ends, and a probe keeps its slot until then.
                call.StreamProbe = probe;
                break;
            case CandidateReport.Succeeded:
                cooldowns.ReportSuccess(candidate.Key, probe);
                break;
            case CandidateReport.Unhealthy:
                cooldowns.ReportFailure(candidate.Key, probe);
                break;
            default:
                if (probe)
                {
                    cooldowns.ReleaseProbe(candidate.Key);
                }

                break;
        }
    }

    /// <summary>
    /// The stream's one cooldown report, made when it ends: a model that keeps breaking its streams must cool
    /// down like one that refuses them, while a caller that stops reading or cancels says nothing about the model.
    /// </summary>
    public void OnCallEnded(CallContext call)
    {
        if (!call.Streamed || call.Current is not { } candidate)
        {
            return;
        }

        if (call.Outcome == UsageOutcome.Succeeded)
        {
            cooldowns.ReportSuccess(candidate.Key, call.StreamProbe);
        }
        else if (call.Outcome == UsageOutcome.Incomplete
            && !string.Equals(call.Error, Http.Internal.ObservedStreamContent.ClosedEarly, StringComparison.Ordinal)
            && !string.Equals(call.Error, Http.Internal.ObservedStreamContent.AbandonedByCaller, StringComparison.Ordinal))
        {
            cooldowns.ReportFailure(candidate.Key, call.StreamProbe);
        }
        else if (call.StreamProbe)
        {
            cooldowns.ReleaseProbe(candidate.Key);
        }
    }

    private void SkipCoolingDown(CallContext call, Candidate candidate) =>
        call.Skip(candidate, cooldowns.RemainingCooldown(candidate.Key) is { } remaining && remaining > TimeSpan.Zero
            ? $"skipped: cooling down for {remaining}"
            : "skipped: cooling down, a probe call is in flight");

    /// <summary>Whether the candidate already has an entry in the attempts (the cooldown list comes first).</summary>
    private static bool IsListed(CallContext call, Candidate candidate)
    {
        var attempts = call.Attempts;
        for (var i = 0; i < attempts.Count; i++)
        {
            if (string.Equals(attempts[i].Provider, candidate.Provider.Name, StringComparison.Ordinal) && string.Equals(attempts[i].Model, candidate.Model, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
