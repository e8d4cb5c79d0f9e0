namespace AgentHarness;

/// <summary>
/// Thrown while reading a streamed answer that had already started when it failed: the stream was
/// cut, stalled past its idle timeout, carried a malformed or error event, or ended without its end
/// marker. Output already read is never joined with another attempt's: the call is not retried.
/// </summary>
public sealed class StreamInterruptedException : IOException
{
    /// <summary>Initializes a new instance of the <see cref="StreamInterruptedException"/> class.</summary>
    public StreamInterruptedException()
        : this("The stream was interrupted after its output had started.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StreamInterruptedException"/> class.</summary>
    /// <param name="message">The message.</param>
    public StreamInterruptedException(string message)
        : base(message)
    {
        Model = string.Empty;
        Provider = string.Empty;
        Reason = message;
    }

    /// <summary>Initializes a new instance of the <see cref="StreamInterruptedException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public StreamInterruptedException(string message, Exception innerException)
        : base(message, innerException)
    {
        Model = string.Empty;
        Provider = string.Empty;
        Reason = message;
    }

    /// <summary>Initializes a new instance of the <see cref="StreamInterruptedException"/> class.</summary>
    /// <param name="provider">The provider that was streaming.</param>
    /// <param name="model">The model that was streaming.</param>
    /// <param name="reason">What went wrong.</param>
    /// <param name="eventsReceived">How many events had arrived.</param>
    /// <param name="innerException">The cause, or <see langword="null"/>.</param>
    public StreamInterruptedException(string provider, string model, string reason, int eventsReceived, Exception? innerException)
        : base($"The stream from {model} via {provider} was interrupted after {eventsReceived} event(s): {reason}.", innerException)
    {
        Provider = provider;
        Model = model;
        Reason = reason;
        EventsReceived = eventsReceived;
    }

    /// <summary>Gets the provider that was streaming.</summary>
    public string Provider { get; }

    /// <summary>Gets the model that was streaming.</summary>
    public string Model { get; }

    /// <summary>Gets what went wrong.</summary>
    public string Reason { get; }

    /// <summary>Gets how many events had arrived before the failure.</summary>
    public int EventsReceived { get; }
}
