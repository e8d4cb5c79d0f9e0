using Microsoft.Data.Sqlite;

namespace AgentHarness.Tests.Sqlite;

/// <summary>A database path in a directory of its own under the temporary folder; the directory (file, WAL and shared-memory files) is deleted on dispose.</summary>
internal sealed class TempDatabase : IDisposable
{
    public TempDatabase()
    {
        DirectoryPath = Path.Combine(Path.GetTempPath(), "agentharness-sqlite-tests", Guid.NewGuid().ToString("N"));
        FilePath = Path.Combine(DirectoryPath, "usage.db");
    }

    /// <summary>Gets the directory, which does not exist until something creates it.</summary>
    public string DirectoryPath { get; }

    /// <summary>Gets the database file's path.</summary>
    public string FilePath { get; }

    /// <summary>Opens a connection of the test's own (not pooled, so it never outlives the test) on the file.</summary>
    public SqliteConnection Connect()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = FilePath, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    /// <summary>Runs SQL on a connection of the test's own.</summary>
    public void Execute(string sql)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>Holds the file's write lock from another connection until disposed, so the ledger's writer waits.</summary>
    public SqliteConnection HoldWriteLock()
    {
        var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "BEGIN EXCLUSIVE;";
        command.ExecuteNonQuery();
        return connection;
    }

    public void Dispose()
    {
        try
        {
            if (Directory.Exists(DirectoryPath))
            {
                Directory.Delete(DirectoryPath, recursive: true);
            }
        }
        catch (IOException)
        {
            // Best effort: a leftover temporary file must not fail a test.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
