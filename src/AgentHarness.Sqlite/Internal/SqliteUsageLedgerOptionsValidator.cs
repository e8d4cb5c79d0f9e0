using System.Globalization;
using Microsoft.Extensions.Options;

namespace AgentHarness.Sqlite.Internal;

/// <summary>Checks <see cref="SqliteUsageLedgerOptions"/>; every message names the setting by its configuration path and shows the bad value.</summary>
internal sealed class SqliteUsageLedgerOptionsValidator(string sectionPath) : IValidateOptions<SqliteUsageLedgerOptions>
{
    /// <summary>The section the options are read from when no other is given.</summary>
    public const string DefaultSectionPath = "AgentHarness:Sqlite";

    public string SectionPath { get; } = sectionPath;

    public ValidateOptionsResult Validate(string? name, SqliteUsageLedgerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Path))
        {
            failures.Add($"{SectionPath}:Path is required: the database file of the usage ledger, for example 'usage.db'; got '{options.Path}'.");
        }
        else if (options.Path.AsSpan().IndexOfAny(System.IO.Path.GetInvalidPathChars()) >= 0)
        {
            failures.Add($"{SectionPath}:Path '{options.Path}' contains a character that is not valid in a path.");
        }

        if (options.QueueCapacity < 1)
        {
            failures.Add($"{SectionPath}:QueueCapacity must be at least 1; got {options.QueueCapacity.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (options.BatchSize < 1)
        {
            failures.Add($"{SectionPath}:BatchSize must be at least 1; got {options.BatchSize.ToString(CultureInfo.InvariantCulture)}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
