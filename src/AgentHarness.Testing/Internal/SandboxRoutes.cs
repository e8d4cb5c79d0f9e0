namespace AgentHarness.Testing.Internal;

/// <summary>The sandbox, if any, that answers each configured provider; computed once per handler chain.</summary>
/// <param name="byProvider">Each configured provider's sandbox, or <see langword="null"/> for its real transport.</param>
/// <param name="unattributed">
/// The sandbox of a request that names no provider (the harness names one on every request it sends): the one of the
/// last call that covers every provider, or <see langword="null"/> when no call does.
/// </param>
internal sealed class SandboxRoutes(Dictionary<string, SandboxProvider?> byProvider, SandboxProvider? unattributed)
{
    public SandboxProvider? For(HttpRequestMessage request) =>
        request.Options.TryGetValue(AttemptTarget.OptionsKey, out var target) && byProvider.TryGetValue(target.Provider, out var sandbox)
            ? sandbox
            : unattributed;
}
