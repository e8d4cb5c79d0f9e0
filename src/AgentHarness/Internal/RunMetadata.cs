using System.Collections.Frozen;

namespace AgentHarness.Internal;

/// <summary>
/// An immutable snapshot of a run's metadata. A run swaps in a new snapshot on every change, so a
/// call reads one consistent set of values for all its attempts without locking, and the header
/// list for a gateway's prefix is built once per snapshot, not once per request.
/// </summary>
internal sealed class RunMetadata
{
    public const int AgentIndex = 0;
    public const int BranchIndex = 1;
    public const int EnvironmentIndex = 2;
    public const int CustomerIndex = 3;
    public const int TeamIndex = 4;
    public const int RepoIndex = 5;
    public const int UserIndex = 6;

    /// <summary>Header suffixes of the built-in fields, in index order; the task is sent as <c>Task</c>.</summary>
    public static readonly string[] HeaderNames = ["Agent", "Branch", "Environment", "Customer", "Team", "Repo", "User"];

    /// <summary>Keys of the built-in fields in records and reports (<c>extra.agent</c>, ...).</summary>
    public static readonly string[] RecordKeys = ["agent", "branch", "environment", "customer", "team", "repo", "user"];

    public const string TaskHeaderName = "Task";
    public const string TaskRecordKey = "task";

    private readonly string?[] _values;
    private readonly KeyValuePair<string, string>[] _extras;
    private IReadOnlyDictionary<string, string>? _dictionary;
    private HeaderCache? _headers;
    private TaskCache? _forTask;

    private RunMetadata(string?[] values, KeyValuePair<string, string>[] extras)
    {
        _values = values;
        _extras = extras;
    }

    public static RunMetadata Create(string agent)
    {
        var values = new string?[HeaderNames.Length];
        values[AgentIndex] = agent;
        return new RunMetadata(values, []);
    }

    public static bool IsBuiltInName(string name) =>
        name.Equals(TaskHeaderName, StringComparison.OrdinalIgnoreCase)
        || Array.Exists(HeaderNames, n => n.Equals(name, StringComparison.OrdinalIgnoreCase));

    public string? Get(int index) => _values[index];

    public RunMetadata With(int index, string? value)
    {
        var values = (string?[])_values.Clone();
        values[index] = value;
        return new RunMetadata(values, _extras);
    }

    public RunMetadata WithExtra(string name, string? value)
    {
        var extras = new List<KeyValuePair<string, string>>(_extras.Length + 1);
        foreach (var pair in _extras)
        {
            if (!pair.Key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                extras.Add(pair);
            }
        }

        if (value is not null)
        {
            extras.Add(new(name, value));
        }

        return new RunMetadata(_values, [.. extras]);
    }

    public IReadOnlyDictionary<string, string> AsDictionary()
    {
        return _dictionary ??= Build();

        FrozenDictionary<string, string> Build()
        {
            var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            for (var i = 0; i < _values.Length; i++)
            {
                if (_values[i] is { } value)
                {
                    map[RecordKeys[i]] = value;
                }
            }

            foreach (var (key, value) in _extras)
            {
                map[key] = value;
            }

            return map.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        }
    }

    /// <summary>Returns the metadata with the task added under <c>task</c>, as recorded for one call.</summary>
    public IReadOnlyDictionary<string, string> ForCall(string? task)
    {
        var map = AsDictionary();
        if (task is null)
        {
            return map;
        }

        // Calls of one task follow each other, so one cached entry serves nearly all of them.
        var cache = Volatile.Read(ref _forTask);
        if (cache is not null && string.Equals(cache.Task, task, StringComparison.Ordinal))
        {
            return cache.Metadata;
        }

        var withTask = new Dictionary<string, string>(map, StringComparer.OrdinalIgnoreCase) { [TaskRecordKey] = task }
            .ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        Volatile.Write(ref _forTask, new TaskCache(task, withTask));
        return withTask;
    }

    /// <summary>Returns the headers (without the task) for a gateway with the given prefix.</summary>
    public KeyValuePair<string, string>[] HeadersFor(string prefix)
    {
        var cache = Volatile.Read(ref _headers);
        if (cache is not null && ReferenceEquals(cache.Prefix, prefix))
        {
            return cache.Headers;
        }

        var headers = new List<KeyValuePair<string, string>>(_values.Length + _extras.Length);
        for (var i = 0; i < _values.Length; i++)
        {
            if (_values[i] is { } value)
            {
                headers.Add(new(prefix + HeaderNames[i], value));
            }
        }

        foreach (var (key, value) in _extras)
        {
            headers.Add(new(prefix + key, value));
        }

        cache = new HeaderCache(prefix, [.. headers]);
        Volatile.Write(ref _headers, cache);
        return cache.Headers;
    }

    private sealed record TaskCache(string Task, IReadOnlyDictionary<string, string> Metadata);

    private sealed record HeaderCache(string Prefix, KeyValuePair<string, string>[] Headers);
}
