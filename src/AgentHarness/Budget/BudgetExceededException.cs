using System.Globalization;

namespace AgentHarness;

/// <summary>
/// Thrown when a call is refused before anything is sent because the worst-case cost of every
/// candidate it could use does not fit a budget: a run's <see cref="AgentRun.MaxCostUsd"/> or a rule
/// of <see cref="AgentHarnessOptions.Budgets"/>. <see cref="Attempts"/> lists each candidate and why
/// it was not sent.
/// </summary>
public sealed class BudgetExceededException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="BudgetExceededException"/> class.</summary>
    public BudgetExceededException()
        : this("A budget has no room for the call.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="BudgetExceededException"/> class.</summary>
    /// <param name="message">The message.</param>
    public BudgetExceededException(string message)
        : base(message)
    {
        Rule = string.Empty;
        Model = string.Empty;
        Attempts = [];
    }

    /// <summary>Initializes a new instance of the <see cref="BudgetExceededException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public BudgetExceededException(string message, Exception innerException)
        : base(message, innerException)
    {
        Rule = string.Empty;
        Model = string.Empty;
        Attempts = [];
    }

    /// <summary>Initializes a new instance of the <see cref="BudgetExceededException"/> class.</summary>
    /// <param name="model">The model id the call asked for.</param>
    /// <param name="status">The figures of the budget that refused the cheapest candidate.</param>
    /// <param name="estimateUsd">That candidate's worst-case cost.</param>
    /// <param name="attempts">Every candidate and why it was not sent (or how it failed), in order.</param>
    public BudgetExceededException(string model, BudgetStatus status, decimal estimateUsd, IReadOnlyList<UsageAttempt> attempts)
        : base(Describe(model, status, estimateUsd))
    {
        ArgumentNullException.ThrowIfNull(status);
        Model = model;
        Rule = status.Rule;
        Value = status.Value;
        LimitUsd = status.LimitUsd;
        SpentUsd = status.SpentUsd;
        ReservedUsd = status.ReservedUsd;
        EstimateUsd = estimateUsd;
        Attempts = attempts;
    }

    /// <summary>Gets the model id the call asked for.</summary>
    public string Model { get; }

    /// <summary>Gets the budget that refused: a rule's name, or <c>MaxCostUsd</c> for the run's own cap.</summary>
    public string Rule { get; }

    /// <summary>Gets the dimension value of the rule's counter (for example the customer), or <see langword="null"/>.</summary>
    public string? Value { get; }

    /// <summary>Gets the budget's limit, in US dollars.</summary>
    public decimal LimitUsd { get; }

    /// <summary>Gets what the budget had spent when it refused, in US dollars.</summary>
    public decimal SpentUsd { get; }

    /// <summary>Gets what calls in flight held in the budget when it refused, in US dollars.</summary>
    public decimal ReservedUsd { get; }

    /// <summary>Gets the worst-case cost that did not fit, in US dollars.</summary>
    public decimal EstimateUsd { get; }

    /// <summary>Gets every candidate of the call and why it was not sent, in order.</summary>
    public IReadOnlyList<UsageAttempt> Attempts { get; }

    private static string Describe(string model, BudgetStatus status, decimal estimate)
    {
        ArgumentNullException.ThrowIfNull(status);
        var budget = status.Value is null ? $"'{status.Rule}'" : $"'{status.Rule}' for '{status.Value}'";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"The call to '{model}' was refused before sending: its worst-case cost of ${estimate:0.########} does not fit budget {budget} (limit ${status.LimitUsd:0.########}, spent ${status.SpentUsd:0.########}, reserved by calls in flight ${status.ReservedUsd:0.########}, remaining ${status.RemainingUsd:0.########}).");
    }
}
