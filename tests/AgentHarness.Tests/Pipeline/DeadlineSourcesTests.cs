using AgentHarness.Pipeline.Internal;
using Microsoft.Extensions.Time.Testing;

namespace AgentHarness.Tests.Pipeline;

public sealed class DeadlineSourcesTests
{
    // Real timers, armed far beyond any test's run: nothing here waits for one to fire.
    private static readonly TimeSpan Far = TimeSpan.FromHours(1);

    [Fact]
    public void Rent_AfterASourceThatNeverFiredWasReturned_GetsItBackUncancelled()
    {
        var sources = new DeadlineSources(TimeProvider.System);
        var first = sources.Rent(Far);
        sources.Return(first);

        var second = sources.Rent(Far);

        Assert.Same(first, second);
        Assert.False(second.IsCancellationRequested);
        Assert.False(second.Token.IsCancellationRequested);
        second.Dispose();
    }

    [Fact]
    public void Return_CancelledSource_IsNotKept()
    {
        var sources = new DeadlineSources(TimeProvider.System);
        var cancelled = sources.Rent(Far);
        cancelled.Cancel();
        sources.Return(cancelled);

        using var next = sources.Rent(Far);

        Assert.NotSame(cancelled, next);
        Assert.False(next.IsCancellationRequested);
    }

    [Fact]
    public void Rent_KeptSource_DropsTheRegistrationsOfTheCallBefore()
    {
        var sources = new DeadlineSources(TimeProvider.System);
        var first = sources.Rent(Far);
        var earlierCallNotified = false;
        first.Token.Register(() => earlierCallNotified = true);
        sources.Return(first);

        using var second = sources.Rent(Far);
        second.Cancel();

        Assert.Same(first, second);
        Assert.False(earlierCallNotified);
    }

    [Fact]
    public void Rent_OnAClockWhoseTimersCannotBeReset_GetsANewSourceThatFiresOnThatClock()
    {
        // A TimeProvider's own timers cannot be reset: such a source is disposed, never handed on.
        var time = new FakeTimeProvider();
        var sources = new DeadlineSources(time);
        var first = sources.Rent(TimeSpan.FromSeconds(1));
        sources.Return(first);

        using var second = sources.Rent(TimeSpan.FromSeconds(5));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.NotSame(first, second);
        Assert.False(second.IsCancellationRequested);

        time.Advance(TimeSpan.FromSeconds(4));
        Assert.True(second.IsCancellationRequested);
    }
}
