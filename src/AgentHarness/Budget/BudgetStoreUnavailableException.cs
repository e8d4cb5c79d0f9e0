namespace AgentHarness;

/// <summary>
/// Thrown when a call that a budget applies to is refused because the budget store (a shared one such
/// as Redis) could not be reached in time: the budget is not known to be spent, it could not be checked.
/// Nothing was sent. A store configured to fail open lets such calls through instead.
/// </summary>
public sealed class BudgetStoreUnavailableException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="BudgetStoreUnavailableException"/> class.</summary>
    public BudgetStoreUnavailableException()
        : this("The budget store could not be reached; calls that a budget applies to are refused until it answers again.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="BudgetStoreUnavailableException"/> class.</summary>
    /// <param name="message">The message.</param>
    public BudgetStoreUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="BudgetStoreUnavailableException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The store's own error: a connection failure or a timeout.</param>
    public BudgetStoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
