namespace AgentHarness.Agents;

/// <summary>
/// Thrown by <see cref="ChatClientTaskExtensions.ClassifyAsync{TEnum}"/> when the model's answer is
/// not exactly one of the categories. The harness never guesses: the raw answer is kept for the
/// caller to log or handle.
/// </summary>
public sealed class ClassificationException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="ClassificationException"/> class.</summary>
    public ClassificationException()
        : this("The model's answer is not one of the categories.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="ClassificationException"/> class.</summary>
    /// <param name="message">The message.</param>
    public ClassificationException(string message)
        : base(message)
    {
        RawAnswer = string.Empty;
        Labels = [];
    }

    /// <summary>Initializes a new instance of the <see cref="ClassificationException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public ClassificationException(string message, Exception innerException)
        : base(message, innerException)
    {
        RawAnswer = string.Empty;
        Labels = [];
    }

    /// <summary>Initializes a new instance of the <see cref="ClassificationException"/> class.</summary>
    /// <param name="rawAnswer">The model's answer, exactly as received.</param>
    /// <param name="labels">The categories the answer had to be one of.</param>
    public ClassificationException(string rawAnswer, IReadOnlyList<string> labels)
        : base($"The model answered '{Excerpt(rawAnswer)}', which is not one of the categories ({string.Join(", ", labels ?? [])}).")
    {
        RawAnswer = rawAnswer ?? string.Empty;
        Labels = labels ?? [];
    }

    /// <summary>Gets the model's answer, exactly as received.</summary>
    public string RawAnswer { get; }

    /// <summary>Gets the categories the answer had to be one of.</summary>
    public IReadOnlyList<string> Labels { get; }

    private static string Excerpt(string? text) =>
        text is null ? string.Empty : text.Length <= 200 ? text : string.Concat(text.AsSpan(0, 200), "...");
}
