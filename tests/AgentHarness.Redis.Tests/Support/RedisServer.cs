using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

[assembly: AssemblyFixture(typeof(AgentHarness.Redis.Tests.Support.RedisServer))]

namespace AgentHarness.Redis.Tests.Support;

/// <summary>
/// A real <c>redis-server</c> for the test assembly: on a free loopback port, persisting nothing, in a
/// temporary directory, stopped at the end. Each test uses a key prefix of its own.
/// </summary>
public sealed class RedisServer : IAsyncLifetime
{
    private static int _prefixes;
    private Process? _process;
    private string? _directory;

    public int Port { get; private set; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public ConnectionMultiplexer Connection { get; private set; } = null!;

    public IDatabase Database => Connection.GetDatabase();

    /// <summary>A key prefix no other test uses.</summary>
    public static string NewPrefix(string test) => $"t{Interlocked.Increment(ref _prefixes)}-{test}";

    public async ValueTask InitializeAsync()
    {
        (_process, _directory, Port) = await StartAsync(FreePort());
        Connection = await ConnectionMultiplexer.ConnectAsync(ConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        if (Connection is not null)
        {
            await Connection.DisposeAsync();
        }

        Stop(_process, _directory);
    }

    /// <summary>A loopback port nothing listens on (as long as nobody takes it meanwhile).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts a server on <paramref name="port"/> and waits (bounded) until it answers PING.</summary>
    public static async Task<(Process Process, string Directory, int Port)> StartAsync(int port)
    {
        var directory = Directory.CreateTempSubdirectory("agentharness-redis-").FullName;
        var start = new ProcessStartInfo("redis-server")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory })
        {
            start.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("redis-server is not installed: `apt-get install -y redis-server` (.ci/run installs it).", ex);
        }

        process.OutputDataReceived += static (_, _) => { };
        process.ErrorDataReceived += static (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            try
            {
                using var probe = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},connectTimeout=500,abortConnect=true");
                await probe.GetDatabase().PingAsync();
                return (process, directory, port);
            }
            catch (RedisConnectionException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    public static void Stop(Process? process, string? directory)
    {
        if (process is not null)
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(10_000);
            }

            process.Dispose();
        }

        if (directory is not null)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
