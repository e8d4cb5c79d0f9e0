using Microsoft.Extensions.Time.Testing;

namespace AgentHarness.Tests.Support;

/// <summary>
/// A fake clock that also tells when a timer is created, so a test can advance time only once the
/// code under test is waiting on it (advancing earlier would move the clock past a timer not yet set).
/// </summary>
internal sealed class ObservableTimeProvider(DateTimeOffset start) : FakeTimeProvider(start)
{
    private readonly List<(TimeSpan DueTime, TaskCompletionSource Created)> _waiters = [];
    private readonly List<TimeSpan> _created = [];

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        lock (_waiters)
        {
            _created.Add(dueTime);
            foreach (var waiter in _waiters.Where(w => w.DueTime == dueTime).ToList())
            {
                waiter.Created.TrySetResult();
                _waiters.Remove(waiter);
            }
        }

        return timer;
    }

    /// <summary>Completes when a timer with this due time has been created (now or earlier).</summary>
    public Task WaitForTimerAsync(TimeSpan dueTime, CancellationToken cancellationToken)
    {
        lock (_waiters)
        {
            if (_created.Contains(dueTime))
            {
                return Task.CompletedTask;
            }

            var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((dueTime, created));
            return created.Task.WaitAsync(cancellationToken);
        }
    }
}
