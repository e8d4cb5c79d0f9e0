using Microsoft.Extensions.Logging;

namespace AgentHarness.Sqlite.Internal;

/// <summary>The ledger's log messages. None carries a record's content: only counts, the file's path and SQLite's error.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 300, Level = LogLevel.Debug, Message = "Usage ledger opened at {Path} (schema version {Version}).")]
    public static partial void Opened(ILogger logger, string path, int version);

    [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "The usage ledger at {Path} dropped a usage record because its queue of {Capacity} records is full; {Dropped} dropped so far. Only the first drop and every 1000th after it are logged.")]
    public static partial void DroppedFull(ILogger logger, string path, int capacity, long dropped);

    [LoggerMessage(EventId = 302, Level = LogLevel.Warning, Message = "The usage ledger at {Path} dropped a usage record because it is disposed; {Dropped} dropped so far. Only the first drop and every 1000th after it are logged.")]
    public static partial void DroppedDisposed(ILogger logger, string path, long dropped);

    [LoggerMessage(EventId = 303, Level = LogLevel.Error, Message = "The usage ledger at {Path} could not write a batch of {Count} usage records; {Failed} records failed so far.")]
    public static partial void BatchFailed(ILogger logger, Exception exception, string path, int count, long failed);

    [LoggerMessage(EventId = 304, Level = LogLevel.Error, Message = "The usage ledger at {Path} cannot store a usage record whose cost or saved amount does not fit 64-bit picodollars (more than 9,223,372 USD); {Failed} records failed so far.")]
    public static partial void CostOutOfRange(ILogger logger, string path, long failed);

    [LoggerMessage(EventId = 305, Level = LogLevel.Error, Message = "The usage ledger cannot open its database {Path} ({Setting}); usage records are counted as failed until it can. It tries again before each later batch, and logs this once until it succeeds.")]
    public static partial void OpenFailed(ILogger logger, Exception exception, string path, string setting);

    [LoggerMessage(EventId = 306, Level = LogLevel.Information, Message = "The usage ledger opened its database {Path} after failing to; {Failed} records failed so far.")]
    public static partial void OpenRecovered(ILogger logger, string path, long failed);

    [LoggerMessage(EventId = 307, Level = LogLevel.Error, Message = "The usage ledger at {Path} is being disposed and its database refused a write: the {Count} usage records still queued were not tried and are counted as failed; {Failed} records failed so far.")]
    public static partial void AbandonedOnDispose(ILogger logger, string path, long count, long failed);
}
