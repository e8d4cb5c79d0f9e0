using System.Collections;
using System.Reflection;
using System.Runtime.Loader;

namespace AgentHarness.ReadmeTests.Snippets;

/// <summary>
/// Runs a compiled README program in this process as a new user would run it on a fresh machine: in a
/// working directory holding the README's files, with no API key in the environment, and with nothing
/// allowed to leave the process. Programs run one at a time, since the working directory, the
/// environment and the console are process wide.
/// </summary>
internal static class SnippetRunner
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    /// <summary>Runs <paramref name="snippet"/>'s entry point to its end.</summary>
    /// <param name="snippet">A program that compiled.</param>
    /// <param name="workingDirectory">The directory it runs in.</param>
    /// <param name="timeout">How long it may take before it counts as hung: a guard, not a speed check.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public static async Task<SnippetRun> RunAsync(CompiledSnippet snippet, string workingDirectory, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(snippet);
        if (snippet.Image is null)
        {
            throw new ArgumentException("The snippet did not compile.", nameof(snippet));
        }

        await Gate.WaitAsync(cancellationToken);
        var context = new AssemblyLoadContext("README snippet", isCollectible: true);
        var directory = Environment.CurrentDirectory;
        var keys = RemoveApiKeys();
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var output = new StringWriter();
        Exception? failure = null;
        IReadOnlyList<string> network;
        try
        {
            Environment.CurrentDirectory = workingDirectory;
            Console.SetOut(output);
            Console.SetError(output);
            var networkTouched = NetworkGuard.Instance.Watch();
            try
            {
                using var image = new MemoryStream(snippet.Image);
                using var pdb = snippet.Pdb is null ? null : new MemoryStream(snippet.Pdb);
                var assembly = context.LoadFromStream(image, pdb);
                var main = InvokeMainAsync(assembly);

                // A program that reaches for the network fails at once rather than when its connection times out.
                var first = await Task.WhenAny(main, networkTouched).WaitAsync(timeout, cancellationToken);
                if (first == main)
                {
                    await main;
                }
            }
            catch (TimeoutException)
            {
                failure = new TimeoutException($"The program did not end within {timeout.TotalSeconds:0} s.");
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                failure = e is TargetInvocationException { InnerException: { } inner } ? inner : e;
            }
            finally
            {
                network = NetworkGuard.Instance.Stop();
            }
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            RestoreApiKeys(keys);
            Environment.CurrentDirectory = directory;
            context.Unload();
            Gate.Release();
        }

        return new SnippetRun(output.ToString(), failure, network);
    }

    private static Task InvokeMainAsync(Assembly assembly)
    {
        var entryPoint = assembly.EntryPoint ?? throw new InvalidOperationException("The program has no entry point.");

        // With await in top-level statements the entry point blocks on an async <Main>$; call that one.
        var main = entryPoint.ReturnType == typeof(void)
            ? entryPoint.DeclaringType?.GetMethod("<Main>$", BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public) ?? entryPoint
            : entryPoint;
        object?[] arguments = main.GetParameters().Length == 0 ? [] : [Array.Empty<string>()];
        return main.Invoke(null, arguments) is Task task ? task : Task.CompletedTask;
    }

    // A real key in the developer's environment would send a README program to the real service.
    private static Dictionary<string, string> RemoveApiKeys()
    {
        var removed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            if (variable.Key is string name && name.EndsWith("_API_KEY", StringComparison.OrdinalIgnoreCase) && variable.Value is string value)
            {
                removed[name] = value;
                Environment.SetEnvironmentVariable(name, null);
            }
        }

        return removed;
    }

    private static void RestoreApiKeys(Dictionary<string, string> keys)
    {
        foreach (var (name, value) in keys)
        {
            Environment.SetEnvironmentVariable(name, value);
        }
    }
}

/// <summary>How a README program's run ended.</summary>
/// <param name="Output">What it wrote to the console.</param>
/// <param name="Exception">What it threw, or <see langword="null"/>.</param>
/// <param name="NetworkUse">The connections and DNS lookups it started; any one is a failure.</param>
internal sealed record SnippetRun(string Output, Exception? Exception, IReadOnlyList<string> NetworkUse)
{
    /// <summary>Gets a value indicating whether the program ended without an exception and without using the network.</summary>
    public bool Succeeded => Exception is null && NetworkUse.Count == 0;
}
