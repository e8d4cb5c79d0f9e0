namespace AgentHarness.Tests.Support;

/// <summary>The repository the tests were built from, for tests that read its files.</summary>
internal static class Repository
{
    /// <summary>Gets the folder above the test's binaries that holds <c>Harness.sln</c>.</summary>
    /// <exception cref="InvalidOperationException">No folder above holds it.</exception>
    public static string Root
    {
        get
        {
            for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "Harness.sln")))
                {
                    return directory.FullName;
                }
            }

            throw new InvalidOperationException("Harness.sln not found above " + AppContext.BaseDirectory);
        }
    }
}
