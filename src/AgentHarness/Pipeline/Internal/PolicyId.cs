namespace AgentHarness.Pipeline.Internal;

/// <summary>How a model id names a routing policy (<c>policy/&lt;name&gt;</c>): known to routing, which plans it, and to what reports it.</summary>
internal static class PolicyId
{
    /// <summary>The prefix of a policy's id, compared ignoring case.</summary>
    public const string Prefix = "policy/";
}
