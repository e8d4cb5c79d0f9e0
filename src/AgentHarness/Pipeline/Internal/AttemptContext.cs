namespace AgentHarness.Pipeline.Internal;

/// <summary>
/// The attempt a call is making: where it goes, what the stages set on it, and the request built for it. A call makes
/// one attempt at a time, so it keeps one of these and starts it afresh for each attempt.
/// </summary>
internal sealed class AttemptContext
{
    /// <summary>Gets the candidate the attempt goes to.</summary>
    public Candidate Candidate { get; private set; } = null!;

    /// <summary>Gets the attempt's number on its candidate, from 1.</summary>
    public int Number { get; private set; }

    /// <summary>Gets or sets the output limit the budget stage asks for, written into this attempt's body only; <see langword="null"/> for none.</summary>
    public int? OutputLimit { get; set; }

    /// <summary>Gets or sets the request built for the attempt, by the request stage.</summary>
    public HttpRequestMessage? Request { get; set; }

    /// <summary>Gets or sets when the attempt started (after its budget was reserved), as a timestamp of the harness's clock.</summary>
    public long Started { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether the attempt counts as sent: from the moment it is handed to the transport,
    /// unless the caller cancelled before its body started to leave.
    /// </summary>
    public bool Sent { get; set; }

    /// <summary>Starts the next attempt.</summary>
    public void Begin(Candidate candidate, int number)
    {
        Candidate = candidate;
        Number = number;
        OutputLimit = null;
        Request = null;
        Started = 0;
        Sent = false;
    }
}
