using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AgentHarness.Redis.Internal;

/// <summary>Checks <see cref="RedisBudgetStoreOptions"/>; every message names the setting by its configuration path and shows the bad value.</summary>
internal sealed class RedisBudgetStoreOptionsValidator(string sectionPath, Func<bool> hasMultiplexer) : IValidateOptions<RedisBudgetStoreOptions>
{
    /// <summary>The section the options are read from when no other is given.</summary>
    public const string DefaultSectionPath = "AgentHarness:Redis";

    public string SectionPath { get; } = sectionPath;

    public ValidateOptionsResult Validate(string? name, RedisBudgetStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            if (!hasMultiplexer())
            {
                failures.Add($"{SectionPath}:ConnectionString is required when no IConnectionMultiplexer is registered: a StackExchange.Redis configuration string such as 'localhost:6379'; got '{options.ConnectionString}'.");
            }
        }
        else
        {
            try
            {
                _ = ConfigurationOptions.Parse(options.ConnectionString);
            }
            catch (ArgumentException ex)
            {
                // The string may hold a password: the parser's own message names the bad part without echoing it whole.
                failures.Add($"{SectionPath}:ConnectionString is not a StackExchange.Redis configuration string: {ex.Message}");
            }
        }

        if (string.IsNullOrWhiteSpace(options.KeyPrefix) || options.KeyPrefix.AsSpan().IndexOfAny('{', '}') >= 0)
        {
            failures.Add($"{SectionPath}:KeyPrefix must be non-empty text without braces (the store adds them); got '{options.KeyPrefix}'.");
        }

        if (!Enum.IsDefined(options.WhenUnavailable))
        {
            failures.Add($"{SectionPath}:WhenUnavailable must be FailClosed or FailOpen; got '{options.WhenUnavailable}'.");
        }

        Check(failures, "OperationTimeout", options.OperationTimeout, TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(5));
        if (options.LeaseTime is { } lease)
        {
            Check(failures, "LeaseTime", lease, TimeSpan.FromSeconds(1), TimeSpan.FromDays(7));
        }

        Check(failures, "SettleRetryWindow", options.SettleRetryWindow, TimeSpan.FromSeconds(1), TimeSpan.FromDays(7));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private void Check(List<string> failures, string setting, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{SectionPath}:{setting} must be between {min} and {max}; got {value}."));
        }
    }
}
