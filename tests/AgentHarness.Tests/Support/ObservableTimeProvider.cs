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
        var timer = new ObservedTimer(base.CreateTimer(callback, state, dueTime, period), this);
        Armed(dueTime);
        return timer;
    }

    private void Armed(TimeSpan dueTime)
    {
        lock (_waiters)
        {
            _created.Add(dueTime);
            foreach (var waiter in _waiters.Where(w => w.DueTime == dueTime).ToList())
            {
                waiter.Created.TrySetResult();
                _waiters.Remove(waiter);
            }
        }
    }

    /// <summary>A timer re-armed with <see cref="Change"/> (as <c>CancelAfter</c> does) counts as set again.</summary>
    private sealed class ObservedTimer(ITimer inner, ObservableTimeProvider owner) : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            var changed = inner.Change(dueTime, period);
            owner.Armed(dueTime);
            return changed;
        }

        public void Dispose() => inner.Dispose();

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    /// <summary>Completes when a timer with this due time has been set (now or earlier).</summary>
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
