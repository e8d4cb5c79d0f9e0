using Microsoft.Extensions.Logging;

namespace AgentHarness.Redis.Internal;

internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Redis (budget store, key prefix {Prefix}) cannot be reached: calls that a budget applies to are {Behavior} until it answers again.")]
    public static partial void Unreachable(ILogger logger, Exception exception, string prefix, string behavior);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Redis (budget store, key prefix {Prefix}) answers again; {FailedOpen} call(s) went through without it and {Refused} were refused since start.")]
    public static partial void Reachable(ILogger logger, string prefix, long failedOpen, long refused);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "Redis unreachable: reservation {ReservationId} of ${AmountUsd} on {Counter} held in this process only (fail open).")]
    public static partial void FailedOpen(ILogger logger, string reservationId, decimal amountUsd, string counter);

    [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "A settle of reservation {ReservationId} (${ActualUsd} on {Counter}) could not reach Redis within {Window}; it is lost and the counter lacks it.")]
    public static partial void SettleLost(ILogger logger, Exception exception, string reservationId, decimal actualUsd, string counter, TimeSpan window);

    [LoggerMessage(EventId = 5, Level = LogLevel.Debug, Message = "A settle of reservation {ReservationId} could not reach Redis; retrying in {Delay}.")]
    public static partial void SettleRetry(ILogger logger, string reservationId, TimeSpan delay);
}
