using Microsoft.Extensions.Logging;

namespace PackageConsumer;

/// <summary>Counts log entries at Warning and above: the consumer's flow should log none.</summary>
internal sealed class WarningCounter : ILoggerProvider, ILogger
{
    private int count;

    public int Count => Volatile.Read(ref count);

    public ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            Interlocked.Increment(ref count);
        }
    }

    public void Dispose()
    {
    }
}
