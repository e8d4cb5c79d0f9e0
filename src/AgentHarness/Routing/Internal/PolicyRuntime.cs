using AgentHarness.Pipeline.Internal;

namespace AgentHarness.Routing.Internal;

/// <summary>
/// A configured policy, ready for traffic: its members resolved to candidates (or to nested
/// policies) and the selector that orders them for each call.
/// </summary>
internal sealed class PolicyRuntime : ILatencyObserver
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
    /// <param name="run">The call's run, for sticky routing keys.</param>
    /// <param name="cooldowns">Which candidates are cooling down.</param>
    /// <param name="price">
    /// A model's price per token (input and output together) by its catalog id, or <see langword="null"/>
    /// when unknown; lowest-cost policies order members of equal rank by it.
    /// </param>
    public List<Candidate> Candidates(AgentRun? run, CooldownTracker cooldowns, Func<string, decimal?>? price = null)
    {
        var result = new List<Candidate>(_members.Length);
        Append(result, run, cooldowns, price, depth: 0);
        return result;
    }

    public void ReportLatency(int member, TimeSpan latency) => _selector.ReportLatency(member, latency);

    private void Append(List<Candidate> result, AgentRun? run, CooldownTracker cooldowns, Func<string, decimal?>? price, int depth)
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

        var availableCount = _selector.Order(available, order, RoutingKey(run));
        if (price is not null && _options.Strategy == RoutingStrategy.LowestCost)
        {
            // Ranks come first; among equal ranks (all 0 unless set) the catalog decides.
            SortByPrice(order[..availableCount], price);
            SortByPrice(order[availableCount..], price);
        }

        foreach (var index in order)
        {
            var member = _members[index];
            if (member.Candidate is { } candidate)
            {
                if (!Contains(result, candidate.Key))
                {
                    result.Add(candidate);
                }
            }
            else
            {
                member.Policy!.Append(result, run, cooldowns, price, depth + 1);
            }
        }
    }

    /// <summary>Whether a candidate of that key is listed already; a loop, where a predicate would cost every member a closure.</summary>
    private static bool Contains(List<Candidate> candidates, string key)
    {
        foreach (var listed in candidates)
        {
            if (listed.Key == key)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A stable insertion sort by rank, then price; members without a price (or nested policies) go after priced ones of their rank.</summary>
    private void SortByPrice(Span<int> order, Func<string, decimal?> price)
    {
        if (order.Length < 2)
        {
            return;
        }

        Span<decimal> keys = order.Length <= 64 ? stackalloc decimal[order.Length] : new decimal[order.Length];
        for (var i = 0; i < order.Length; i++)
        {
            keys[i] = _members[order[i]].Candidate is { } candidate ? price(candidate.CatalogId) ?? decimal.MaxValue : decimal.MaxValue;
        }

        for (var i = 1; i < order.Length; i++)
        {
            var member = order[i];
            var key = keys[i];
            var rank = _options.Models[member].Rank;
            var j = i - 1;
            while (j >= 0 && (_options.Models[order[j]].Rank > rank || (_options.Models[order[j]].Rank == rank && keys[j] > key)))
            {
                order[j + 1] = order[j];
                keys[j + 1] = keys[j];
                j--;
            }

            order[j + 1] = member;
            keys[j + 1] = key;
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
