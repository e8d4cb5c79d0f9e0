using Microsoft.Extensions.DependencyInjection;

namespace AgentHarness.Testing.Internal;

/// <summary>
/// Which sandbox answers which provider, as the application's <c>UseSandbox</c> calls said, in call order. One instance
/// per service collection: later calls add to it, and the last call that covers a provider decides for it.
/// </summary>
internal sealed class SandboxAssignments
{
    private readonly List<Assignment> _assignments = [];

    /// <summary>Gets the calls so far, in order.</summary>
    public IReadOnlyList<Assignment> All => _assignments;

    /// <summary>Gets the service collection's instance, adding it (and the services that read it) on first use.</summary>
    public static SandboxAssignments For(IServiceCollection services)
    {
        if (services.FirstOrDefault(static d => d.ServiceType == typeof(SandboxAssignments))?.ImplementationInstance is SandboxAssignments existing)
        {
            return existing;
        }

        var assignments = new SandboxAssignments();
        services.AddSingleton(assignments);
        return assignments;
    }

    /// <summary>Records one call: <paramref name="sandbox"/> (the registered one when <see langword="null"/>) answers <paramref name="providers"/>, or every provider when empty.</summary>
    public void Add(SandboxProvider? sandbox, string[] providers) => _assignments.Add(new Assignment(sandbox, providers));

    /// <summary>Gets a value indicating whether some call has the sandbox answer <paramref name="provider"/>.</summary>
    public bool Covers(string provider) => _assignments.Exists(a => a.Covers(provider));

    /// <summary>Resolves, for each configured provider, the sandbox that answers it, or <see langword="null"/> for its real transport.</summary>
    public SandboxRoutes Resolve(IServiceProvider services, IEnumerable<string> providers)
    {
        SandboxProvider? Sandbox(Assignment assignment) => assignment.Sandbox ?? services.GetRequiredService<SandboxProvider>();

        var byProvider = new Dictionary<string, SandboxProvider?>(StringComparer.OrdinalIgnoreCase);
        foreach (var provider in providers)
        {
            var last = _assignments.FindLastIndex(a => a.Covers(provider));
            byProvider[provider] = last < 0 ? null : Sandbox(_assignments[last]);
        }

        var catchAll = _assignments.FindLastIndex(static a => a.Providers.Length == 0);
        return new SandboxRoutes(byProvider, catchAll < 0 ? null : Sandbox(_assignments[catchAll]));
    }

    /// <summary>One <c>UseSandbox</c> call.</summary>
    internal readonly record struct Assignment(SandboxProvider? Sandbox, string[] Providers)
    {
        public bool Covers(string provider) =>
            Providers.Length == 0 || Array.Exists(Providers, p => string.Equals(p, provider, StringComparison.OrdinalIgnoreCase));
    }
}
