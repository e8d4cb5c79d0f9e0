namespace AgentHarness;

/// <summary>
/// Thrown when the harness could not get a credential for a provider (its <see cref="ProviderTokenSource"/> failed or
/// timed out): nothing was sent to the provider. In a policy the next candidate is tried, as for a provider that refused
/// its key; a direct call ends with this exception.
/// </summary>
public sealed class ProviderCredentialException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="ProviderCredentialException"/> class.</summary>
    public ProviderCredentialException()
        : base("The provider's credential could not be obtained.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="ProviderCredentialException"/> class.</summary>
    /// <param name="message">The message.</param>
    public ProviderCredentialException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="ProviderCredentialException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public ProviderCredentialException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="ProviderCredentialException"/> class.</summary>
    /// <param name="provider">The provider whose credential could not be obtained.</param>
    /// <param name="message">Why.</param>
    /// <param name="innerException">The token source's failure, or <see langword="null"/>.</param>
    public ProviderCredentialException(string provider, string message, Exception? innerException)
        : base(message, innerException)
    {
        Provider = provider;
    }

    /// <summary>Gets the name of the provider whose credential could not be obtained.</summary>
    public string? Provider { get; }
}
