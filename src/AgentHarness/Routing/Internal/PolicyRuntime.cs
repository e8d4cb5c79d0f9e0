namespace AgentHarness.Routing.Internal;

/// <summary>
/// A configured policy, ready for traffic: its members resolved to candidates (or to nested
/// policies) and the selector that orders them for each call.
/// </summary>
internal sealed class PolicyRuntime
{
    private readonly PolicyOptions _options;
    private CandidateSelector _selector = null!;
    private Member[] _members = [];

    public PolicyRuntime(string name, PolicyOptions options)
    {
        Name = name;
        _options = options;
        Settings = RouteSettings.From(options);
    }

    public string Name { get; }

    public RouteSettings Settings { get; }

    /// <summary>Resolves the members once every policy exists, so members may name each other.</summary>
    public void Resolve(Func<string, PolicyRuntime?> policy, Func<string, Route?> route)
    {
        var members = new List<Member>(_options.Models.Count);
        var selectorMembers = new List<CandidateMember>(_options.Models.Count);
        for (var i = 0; i < _options.Models.Count; i++)
        {
            var options = _options.Models[i];
            var model = options.Model!;
            if (policy(model) is { } nested)
            {
                members.Add(new Member(null, nested));
            }
            else
            {
                var resolved = route(model) ?? throw new InvalidOperationException($"Policy '{Name}' member '{model}' cannot be routed.");
                members.Add(new Member(new Candidate(resolved.Provider, resolved.Model, options.ContextWindow, this, i), null));
            }

            selectorMembers.Add(new CandidateMember(model, options.Weight, options.Rank));
        }

        _members = [.. members];
        _selector = _options.Strategy switch
        {
            RoutingStrategy.Weighted => new WeightedSelector(selectorMembers),
            RoutingStrategy.RoundRobin => new RoundRobinSelector(selectorMembers),
            RoutingStrategy.LowestLatency => new LowestLatencySelector(selectorMembers),
            RoutingStrategy.LowestCost => new LowestCostSelector(selectorMembers),
            _ => new FallbackSelector(selectorMembers),
        };
    }

    /// <summary>Returns the candidates for one call, in the order to try them; nested policies are expanded in place.</summary>
    public List<Candidate> Candidates(AgentRun? run, CooldownTracker cooldowns)
    {
        var result = new List<Candidate>(_members.Length);
        Append(result, run, cooldowns, depth: 0);
        return result;
    }

    public void ReportLatency(int member, TimeSpan latency) => _selector.ReportLatency(member, latency);

    private void Append(List<Candidate> result, AgentRun? run, CooldownTracker cooldowns, int depth)
    {
        // Cycles are refused when the options are validated; the bound only guards against a bug there.
        if (depth > 16)
        {
            return;
        }

        var count = _members.Length;
        Span<bool> available = count <= 64 ? stackalloc bool[count] : new bool[count];
        Span<int> order = count <= 64 ? stackalloc int[count] : new int[count];
        for (var i = 0; i < count; i++)
        {
            available[i] = _members[i].Candidate is not { } candidate || cooldowns.IsAvailable(candidate.Key);
        }

        _selector.Order(available, order, RoutingKey(run));
        foreach (var index in order)
        {
            var member = _members[index];
            if (member.Candidate is { } candidate)
            {
                if (!result.Exists(c => c.Key == candidate.Key))
                {
                    result.Add(candidate);
                }
            }
            else
            {
                member.Policy!.Append(result, run, cooldowns, depth + 1);
            }
        }
    }

    private string? RoutingKey(AgentRun? run)
    {
        if (!_options.Sticky || run is null)
        {
            return null;
        }

        if (_options.StickyKey is not { Length: > 0 } key)
        {
            return run.RunId;
        }

        if (key.StartsWith("extra.", StringComparison.OrdinalIgnoreCase))
        {
            key = key["extra.".Length..];
        }

        return key.Equals("task", StringComparison.OrdinalIgnoreCase)
            ? run.CurrentTask
            : run.Metadata.TryGetValue(key, out var value) ? value : null;
    }

    private readonly record struct Member(Candidate? Candidate, PolicyRuntime? Policy);
}
