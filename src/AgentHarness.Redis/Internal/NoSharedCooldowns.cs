namespace AgentHarness.Redis.Internal;

/// <summary>Cooldowns kept by each replica alone: what <see cref="RedisBudgetStoreOptions.SharedCooldowns"/> off means.</summary>
internal sealed class NoSharedCooldowns : ISharedCooldowns
{
    public static readonly NoSharedCooldowns Instance = new();

    public TimeSpan? CoolingDownElsewhere(string key) => null;

    public void Opened(string key, TimeSpan period)
    {
    }

    public void Closed(string key)
    {
    }

    public bool TryTakeProbe(string key) => true;

    public void ReleaseProbe(string key)
    {
    }
}
