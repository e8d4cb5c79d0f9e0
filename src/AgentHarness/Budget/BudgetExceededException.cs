using System.Globalization;

namespace AgentHarness;

/// <summary>
/// Thrown when a budget is why a call cannot go on: the worst-case cost of every candidate it could
/// still try does not fit a budget, a run's <see cref="AgentRun.MaxCostUsd"/> (its own or an
/// enclosing run's) or a rule of <see cref="AgentHarnessOptions.Budgets"/>. That is before anything
/// is sent, or after earlier attempts failed and their retries or fallbacks do not fit.
/// <see cref="Attempts"/> lists every attempt that was sent and every candidate that was not, and why.
/// A run's spend checkpoint that stops a call throws the subclass <see cref="SpendCheckpointException"/>.
/// </summary>
public class BudgetExceededException : Exception
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
        : this(Describe(model, status, estimateUsd, attempts), model, status, estimateUsd, attempts, innerException: null)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="BudgetExceededException"/> class for a subclass, with its own message.</summary>
    /// <param name="message">The message.</param>
    /// <param name="model">The model id the call asked for.</param>
    /// <param name="status">The figures of the budget that refused.</param>
    /// <param name="estimateUsd">The worst-case cost that was refused.</param>
    /// <param name="attempts">Every candidate and why it was not sent (or how it failed), in order.</param>
    /// <param name="innerException">The cause, or <see langword="null"/>.</param>
    protected BudgetExceededException(string message, string model, BudgetStatus status, decimal estimateUsd, IReadOnlyList<UsageAttempt> attempts, Exception? innerException)
        : base(message, innerException)
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

    /// <summary>Gets every attempt of the call (sent and failed, or not sent and why), in order.</summary>
    public IReadOnlyList<UsageAttempt> Attempts { get; }

    private static string Describe(string model, BudgetStatus status, decimal estimate, IReadOnlyList<UsageAttempt>? attempts)
    {
        ArgumentNullException.ThrowIfNull(status);
        var budget = status.Value is null ? $"'{status.Rule}'" : $"'{status.Rule}' for '{status.Value}'";
        var sent = attempts?.Count(static a => a is not null && a.Outcome != AttemptOutcome.Skipped) ?? 0;
        var opening = sent == 0
            ? $"The call to '{model}' was refused before sending: its worst-case cost"
            : $"The call to '{model}' cannot go on after {sent} failed attempt(s): the worst-case cost of the next";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{opening} of ${estimate:0.########} does not fit budget {budget} (limit ${status.LimitUsd:0.########}, spent ${status.SpentUsd:0.########}, reserved by calls in flight ${status.ReservedUsd:0.########}, remaining ${status.RemainingUsd:0.########}).");
    }
}
