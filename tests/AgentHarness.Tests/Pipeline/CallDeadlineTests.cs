using AgentHarness.Pipeline.Internal;
using Microsoft.Extensions.Time.Testing;

namespace AgentHarness.Tests.Pipeline;

public sealed class CallDeadlineTests
{
    private static (FakeTimeProvider Time, CallDeadline Deadline) Create(TimeSpan total) => WithCaller(total, CancellationToken.None);

    private static (FakeTimeProvider Time, CallDeadline Deadline) WithCaller(TimeSpan total, CancellationToken caller)
    {
        var time = new FakeTimeProvider();
        return (time, new CallDeadline(time, caller, time.GetTimestamp(), total));
    }

    [Fact]
    public void ForPhase_PhaseEndsBeforeTheTotal_FiresAsThePhase()
    {
        var (time, deadline) = Create(TimeSpan.FromSeconds(10));
        using (deadline)
        {
            var token = deadline.ForPhase(TimeSpan.FromSeconds(2));
            time.Advance(TimeSpan.FromSeconds(2));

            Assert.True(token.IsCancellationRequested);
            Assert.True(deadline.PhaseExpired);
            Assert.False(deadline.TotalExpired);
            Assert.False(deadline.IsCallOver);
        }
    }

    [Fact]
    public void ForPhase_TotalEndsFirst_FiresAsTheTotal()
    {
        var (time, deadline) = Create(TimeSpan.FromSeconds(3));
        using (deadline)
        {
            var token = deadline.ForPhase(TimeSpan.FromSeconds(5));
            time.Advance(TimeSpan.FromSeconds(3));

            Assert.True(token.IsCancellationRequested);
            Assert.True(deadline.TotalExpired);
            Assert.False(deadline.PhaseExpired);
            Assert.True(deadline.IsCallOver);
        }
    }

    [Fact]
    public void ForCall_AfterAPhaseTimedOut_GetsAFreshTokenThatEndsWithTheTotal()
    {
        var (time, deadline) = Create(TimeSpan.FromSeconds(10));
        using (deadline)
        {
            var attempt = deadline.ForPhase(TimeSpan.FromSeconds(2));
            time.Advance(TimeSpan.FromSeconds(2));
            var rest = deadline.ForCall();

            Assert.True(attempt.IsCancellationRequested);
            Assert.False(rest.IsCancellationRequested);
            Assert.False(deadline.PhaseExpired);

            time.Advance(TimeSpan.FromSeconds(7));
            Assert.False(rest.IsCancellationRequested);
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.True(rest.IsCancellationRequested);
            Assert.True(deadline.TotalExpired);
        }
    }

    [Fact]
    public void ForPhase_RearmedForALongerPhase_DoesNotFireAtTheFirstOne()
    {
        var (time, deadline) = Create(TimeSpan.FromSeconds(60));
        using (deadline)
        {
            deadline.ForPhase(TimeSpan.FromSeconds(2));
            var firstEvent = deadline.ForPhase(TimeSpan.FromSeconds(5));
            time.Advance(TimeSpan.FromSeconds(4));

            Assert.False(firstEvent.IsCancellationRequested);
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.True(firstEvent.IsCancellationRequested);
            Assert.True(deadline.PhaseExpired);
        }
    }

    [Fact]
    public void CallerCancels_TheTokenEndsAndNoTimeoutIsClaimed()
    {
        using var caller = new CancellationTokenSource();
        var (_, deadline) = WithCaller(TimeSpan.FromSeconds(10), caller.Token);
        using (deadline)
        {
            var token = deadline.ForPhase(TimeSpan.FromSeconds(2));
            caller.Cancel();

            Assert.True(token.IsCancellationRequested);
            Assert.True(deadline.CallerCanceled);
            Assert.False(deadline.TotalExpired);
            Assert.False(deadline.PhaseExpired);
            Assert.True(deadline.IsCallOver);
        }
    }

    [Fact]
    public void ForPhase_CallerCancelledBeforeTheFirstPhase_TokenIsCancelledAtOnce()
    {
        using var caller = new CancellationTokenSource();
        caller.Cancel();
        var (_, deadline) = WithCaller(TimeSpan.FromSeconds(10), caller.Token);
        using (deadline)
        {
            Assert.True(deadline.ForPhase(TimeSpan.FromSeconds(2)).IsCancellationRequested);
        }
    }

    [Fact]
    public void Dispose_Recycled_TheNextCallsDeadlineStartsClean()
    {
        var sources = new DeadlineSources(TimeProvider.System);
        using var firstCaller = new CancellationTokenSource();
        var first = new CallDeadline(TimeProvider.System, firstCaller.Token, TimeProvider.System.GetTimestamp(), TimeSpan.FromHours(1), sources);
        var firstToken = first.ForPhase(TimeSpan.FromHours(1));
        first.Recycle = true;
        first.Dispose();

        using var second = new CallDeadline(TimeProvider.System, CancellationToken.None, TimeProvider.System.GetTimestamp(), TimeSpan.FromHours(1), sources);
        var token = second.ForPhase(TimeSpan.FromHours(1));

        // The earlier call's caller cancelling after its call ended reaches nothing of the next call.
        firstCaller.Cancel();

        Assert.Equal(firstToken, token);
        Assert.False(token.IsCancellationRequested);
        Assert.False(second.CallerCanceled);
        Assert.False(second.IsCallOver);
        Assert.False(second.PhaseExpired);
        Assert.False(second.TotalExpired);
    }

    [Fact]
    public void Dispose_RecycledAfterTheCallerCancelled_TheNextCallGetsANewSource()
    {
        var sources = new DeadlineSources(TimeProvider.System);
        using var firstCaller = new CancellationTokenSource();
        var first = new CallDeadline(TimeProvider.System, firstCaller.Token, TimeProvider.System.GetTimestamp(), TimeSpan.FromHours(1), sources);
        var firstToken = first.ForPhase(TimeSpan.FromHours(1));
        firstCaller.Cancel();
        first.Recycle = true;
        first.Dispose();

        using var second = new CallDeadline(TimeProvider.System, CancellationToken.None, TimeProvider.System.GetTimestamp(), TimeSpan.FromHours(1), sources);
        var token = second.ForPhase(TimeSpan.FromHours(1));

        Assert.True(firstToken.IsCancellationRequested);
        Assert.NotEqual(firstToken, token);
        Assert.False(token.IsCancellationRequested);
        Assert.False(second.IsCallOver);
    }

    [Fact]
    public void Dispose_NotRecycled_TheSourceIsNotHandedToTheNextCall()
    {
        var sources = new DeadlineSources(TimeProvider.System);
        var first = new CallDeadline(TimeProvider.System, CancellationToken.None, TimeProvider.System.GetTimestamp(), TimeSpan.FromHours(1), sources);
        var firstToken = first.ForPhase(TimeSpan.FromHours(1));
        first.Dispose();

        using var second = new CallDeadline(TimeProvider.System, CancellationToken.None, TimeProvider.System.GetTimestamp(), TimeSpan.FromHours(1), sources);

        Assert.NotEqual(firstToken, second.ForPhase(TimeSpan.FromHours(1)));
    }

    [Fact]
    public void Pause_TimePassesBeyondTheTotal_TheArmedTokenDoesNotFireAndThePauseIsNotCounted()
    {
        var (time, deadline) = Create(TimeSpan.FromSeconds(10));
        using (deadline)
        {
            var token = deadline.ForCall();
            time.Advance(TimeSpan.FromSeconds(4));
            var paused = deadline.Pause();
            time.Advance(TimeSpan.FromMinutes(10));
            deadline.Resume(paused);

            Assert.False(token.IsCancellationRequested);
            Assert.False(deadline.IsCallOver);
            time.Advance(TimeSpan.FromSeconds(5));
            Assert.False(deadline.ForCall().IsCancellationRequested);
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.True(token.IsCancellationRequested);
            Assert.True(deadline.TotalExpired);
        }
    }

    [Fact]
    public void Resume_PausedBeforeAnyPhase_TheFirstPhaseGetsTheTimeLeftBeforeThePause()
    {
        var (time, deadline) = Create(TimeSpan.FromSeconds(10));
        using (deadline)
        {
            time.Advance(TimeSpan.FromSeconds(2));
            var paused = deadline.Pause();
            time.Advance(TimeSpan.FromMinutes(10));
            deadline.Resume(paused);

            var token = deadline.ForPhase(TimeSpan.FromSeconds(30));
            time.Advance(TimeSpan.FromSeconds(7));
            Assert.False(token.IsCancellationRequested);
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.True(deadline.TotalExpired);
        }
    }
}
