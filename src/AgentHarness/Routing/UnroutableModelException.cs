namespace AgentHarness;

/// <summary>
/// Thrown when no configured provider can serve a model id. It is thrown before anything is sent.
/// </summary>
public sealed class UnroutableModelException : InvalidOperationException
{
    /// <summary>Initializes a new instance of the <see cref="UnroutableModelException"/> class.</summary>
    public UnroutableModelException()
        : base("No configured provider can serve the model.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="UnroutableModelException"/> class.</summary>
    /// <param name="message">The message.</param>
    public UnroutableModelException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="UnroutableModelException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public UnroutableModelException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="UnroutableModelException"/> class.</summary>
    /// <param name="model">The model id that could not be routed, or <see langword="null"/> when the request named none.</param>
    /// <param name="message">Why no provider can serve it.</param>
    public UnroutableModelException(string? model, string message)
        : base(message)
    {
        Model = model;
    }

    /// <summary>Gets the model id that could not be routed, or <see langword="null"/> when the request named none.</summary>
    public string? Model { get; }
}
