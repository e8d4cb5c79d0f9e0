namespace AgentHarness;

/// <summary>
/// Thrown when every candidate of a policy failed or was skipped (cooling down, too small a context
/// window). <see cref="Attempts"/> lists each attempt with its model, provider, status and reason.
/// </summary>
public sealed class AllCandidatesFailedException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="AllCandidatesFailedException"/> class.</summary>
    public AllCandidatesFailedException()
        : this("Every candidate failed.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="AllCandidatesFailedException"/> class.</summary>
    /// <param name="message">The message.</param>
    public AllCandidatesFailedException(string message)
        : base(message)
    {
        Model = string.Empty;
        Attempts = [];
    }

    /// <summary>Initializes a new instance of the <see cref="AllCandidatesFailedException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public AllCandidatesFailedException(string message, Exception innerException)
        : base(message, innerException)
    {
        Model = string.Empty;
        Attempts = [];
    }

    /// <summary>Initializes a new instance of the <see cref="AllCandidatesFailedException"/> class.</summary>
    /// <param name="model">The model id the call asked for, for example <c>policy/claude-4</c>.</param>
    /// <param name="attempts">Every attempt and skip, in order.</param>
    public AllCandidatesFailedException(string model, IReadOnlyList<UsageAttempt> attempts)
        : base(Describe(model, attempts))
    {
        Model = model;
        Attempts = attempts;
    }

    /// <summary>Gets the model id the call asked for.</summary>
    public string Model { get; }

    /// <summary>Gets every attempt and skip, in order.</summary>
    public IReadOnlyList<UsageAttempt> Attempts { get; }

    private static string Describe(string model, IReadOnlyList<UsageAttempt> attempts)
    {
        ArgumentNullException.ThrowIfNull(attempts);
        var lines = attempts.Select(static a =>
            $"  {a.Model} via {a.Provider}: {(a.StatusCode is { } status ? $"HTTP {status}, " : string.Empty)}{a.Error ?? a.Outcome.ToString()}");
        var verdict = attempts.Count > 0 && attempts.All(static a => a.Outcome == AttemptOutcome.Skipped)
            ? "every candidate is cooling down or was skipped; nothing was sent"
            : "every candidate failed";
        return $"No candidate of '{model}' could answer: {verdict}.{Environment.NewLine}{string.Join(Environment.NewLine, lines)}";
    }
}
