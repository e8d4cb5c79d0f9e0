using System.Threading.Channels;
using AgentHarness.Sqlite.Internal;
using AgentHarness.Usage.Internal;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgentHarness.Sqlite;

/// <summary>
/// A durable <see cref="IUsageLedger"/>: every call's <see cref="UsageRecord"/> is kept in a SQLite
/// file, so usage survives restarts, and <see cref="GetUsageAsync"/> answers reports in SQL with the
/// same figures, periods and group order as the in-memory ledger.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Add"/> never waits for the disk: it puts the record in a bounded queue
/// (<see cref="SqliteUsageLedgerOptions.QueueCapacity"/>) and returns. One background loop writes the
/// queue in transactions of up to <see cref="SqliteUsageLedgerOptions.BatchSize"/> records. A record
/// that finds the queue full, or arrives after the ledger is disposed, is dropped and counted in
/// <see cref="Dropped"/> (the first drop and every 1000th after it are logged); a batch the database
/// refuses is logged and counted in <see cref="Failed"/>, and the next batches are tried as usual.
/// </para>
/// <para>
/// The file uses write-ahead logging, so reports and <see cref="GetRecords"/> read while records are
/// written, and several processes may share one file. The schema is versioned with
/// <c>PRAGMA user_version</c>; a file written by a newer version is refused.
/// </para>
/// <para>The ledger is thread safe. Dispose it (the service provider does) to write what is queued and close the file.</para>
/// </remarks>
public sealed class SqliteUsageLedger : IUsageLedger, IDisposable, IAsyncDisposable
{
    private const int DropLogInterval = 1000;

    private readonly Channel<QueueItem> _queue;
    private readonly ILogger _logger;
    private readonly string _connectionString;
    private readonly SqliteConnection _connection;
    private readonly RecordWriter _recordWriter;
    private readonly int _capacity;
    private readonly int _batchSize;
    private readonly Task _writerLoop;
    private readonly Lazy<Task> _disposal;
    private long _written;
    private long _dropped;
    private long _failed;
    private long _pending;
    private volatile bool _disposed;

    /// <summary>Opens the database file (creating it and its directory when missing) and starts writing.</summary>
    /// <param name="options">The options; see <see cref="SqliteUsageLedgerOptions"/>.</param>
    /// <param name="logger">The logger of dropped records and failed writes, or <see langword="null"/> for none.</param>
    /// <exception cref="ArgumentException">The options are not valid; the message names the setting and the bad value.</exception>
    /// <exception cref="InvalidOperationException">The file cannot be opened or created, is not a SQLite database, or was written by a newer schema version.</exception>
    public SqliteUsageLedger(SqliteUsageLedgerOptions options, ILogger<SqliteUsageLedger>? logger = null)
        : this(options, SqliteUsageLedgerOptionsValidator.DefaultSectionPath, logger)
    {
    }

    internal SqliteUsageLedger(SqliteUsageLedgerOptions options, string sectionPath, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sectionPath);
        var validation = new SqliteUsageLedgerOptionsValidator(sectionPath).Validate(null, options);
        if (validation.Failed)
        {
            throw new ArgumentException(validation.FailureMessage, nameof(options));
        }

        _logger = logger ?? NullLogger.Instance;
        _capacity = options.QueueCapacity;
        _batchSize = options.BatchSize;
        (Path, _connectionString, _connection) = Open(options.Path, sectionPath + ":Path");
        _recordWriter = new RecordWriter(_connection);
        Log.Opened(_logger, Path, LedgerSchema.Version);

        _queue = Channel.CreateBounded<QueueItem>(new BoundedChannelOptions(_capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        });
        _disposal = new Lazy<Task>(DisposeCoreAsync, LazyThreadSafetyMode.ExecutionAndPublication);
        _writerLoop = Task.Run(RunWriterAsync);
    }

    /// <summary>Gets the full path of the database file.</summary>
    public string Path { get; }

    /// <summary>Gets how many records were written to the file since the ledger was created.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Gets how many records were dropped because the queue was full or the ledger was disposed.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Gets how many records could not be written (their batch failed, or their cost does not fit the file), since the ledger was created.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Gets about how many records are queued or being written; a snapshot that may be out of date when read.</summary>
    public long Pending => Interlocked.Read(ref _pending);

    /// <summary>Called by the writer loop, on its thread, before it writes a batch, with the batch's size; lets tests know a record left the queue.</summary>
    internal Action<int>? BatchStarting { get; set; }

    /// <summary>Queues a record to be written; never waits and never throws for a full queue or a disposed ledger (the record is then dropped and counted in <see cref="Dropped"/>).</summary>
    /// <param name="record">The record.</param>
    /// <exception cref="ArgumentNullException"><paramref name="record"/> is <see langword="null"/>.</exception>
    public void Add(UsageRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);

        // Counted before the write so the writer can never take the count below zero.
        Interlocked.Increment(ref _pending);
        if (_queue.Writer.TryWrite(new QueueItem(record, null)))
        {
            return;
        }

        Interlocked.Decrement(ref _pending);
        var dropped = Interlocked.Increment(ref _dropped);
        if ((dropped - 1) % DropLogInterval == 0)
        {
            try
            {
                if (_disposed)
                {
                    Log.DroppedDisposed(_logger, Path, dropped);
                }
                else
                {
                    Log.DroppedFull(_logger, Path, _capacity, dropped);
                }
            }
            catch (Exception)
            {
                // A failing log provider must not fail the model call that is being recorded.
            }
        }
    }

    /// <summary>Waits until every record added before the call has been written, or counted in <see cref="Failed"/>.</summary>
    /// <param name="cancellationToken">Stops waiting; the records are still written.</param>
    /// <returns>A task that completes when those records are written.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();

        // A marker behind the records already queued: the writer completes it once they are written.
        var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            await _queue.Writer.WriteAsync(new QueueItem(null, flushed), cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            // Disposed: the writer drains everything queued before it stops.
            await _writerLoop.WaitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        await flushed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Builds the report of a query in SQL, after writing what is queued: periods by the UTC
    /// calendar, one row per period and group, calls refused before sending left out, each call's cost
    /// counted to the picodollar, exactly as <see cref="UsageReport.FromRecords"/> counts them.
    /// </summary>
    /// <param name="query">The query; see <see cref="UsageQuery.Validate"/>.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentException">The query is not valid.</exception>
    /// <exception cref="ObjectDisposedException">The ledger is disposed.</exception>
    public async Task<UsageReport> GetUsageAsync(UsageQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var builder = new UsageReportBuilder(query);
        ObjectDisposedException.ThrowIf(_disposed, this);
        await FlushAsync(cancellationToken).ConfigureAwait(false);

        var connection = OpenQueryConnection();
        await using (connection.ConfigureAwait(false))
        {
            try
            {
                await LedgerQueries.AddUsageAsync(connection, builder, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                ReleaseIfDisposed(connection);
            }
        }

        return builder.Build();
    }

    /// <summary>
    /// Returns every record in the file, in the order they were added, after writing what is queued
    /// (this call waits for that). It reads the whole file into memory: to sum usage, use
    /// <see cref="GetUsageAsync"/>, which aggregates in SQL.
    /// </summary>
    /// <returns>The records, oldest first.</returns>
    /// <exception cref="ObjectDisposedException">The ledger is disposed.</exception>
    public IReadOnlyList<UsageRecord> GetRecords()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        FlushAsync().GetAwaiter().GetResult();
        using var connection = OpenQueryConnection();
        try
        {
            return LedgerQueries.ReadAll(connection);
        }
        finally
        {
            ReleaseIfDisposed(connection);
        }
    }

    /// <summary>Stops accepting records, writes every record queued, and closes the file; it can be opened again at once.</summary>
    public void Dispose() => _disposal.Value.GetAwaiter().GetResult();

    /// <summary>Stops accepting records, writes every record queued, and closes the file; it can be opened again at once.</summary>
    /// <returns>A task that completes when the file is closed.</returns>
    public ValueTask DisposeAsync() => new(_disposal.Value);

    private static (string Path, string ConnectionString, SqliteConnection Connection) Open(string path, string setting)
    {
        SqliteConnection? connection = null;
        var fullPath = path;
        try
        {
            fullPath = System.IO.Path.GetFullPath(path);
            var directory = System.IO.Path.GetDirectoryName(fullPath);
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }

            var connectionString = new SqliteConnectionStringBuilder
            {
                DataSource = fullPath,
                Mode = SqliteOpenMode.ReadWriteCreate,
                Cache = SqliteCacheMode.Private,
                Pooling = true,
            }.ToString();
            connection = new SqliteConnection(connectionString);
            connection.Open();
            LedgerSchema.Initialize(connection, setting, fullPath);
            return (fullPath, connectionString, connection);
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            Close(connection);
            throw new InvalidOperationException($"{setting} is '{path}', but the usage ledger database '{fullPath}' cannot be opened: {ex.Message}", ex);
        }
        catch
        {
            Close(connection);
            throw;
        }
    }

    private static void Close(SqliteConnection? connection)
    {
        if (connection is not null)
        {
            // Without this the pool keeps the file open, and it could not be deleted or reopened at once.
            SqliteConnection.ClearPool(connection);
            connection.Dispose();
        }
    }

    private SqliteConnection OpenQueryConnection()
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>A query that raced with disposal must not leave an open connection in the pool.</summary>
    private void ReleaseIfDisposed(SqliteConnection connection)
    {
        if (_disposed)
        {
            SqliteConnection.ClearPool(connection);
        }
    }

    private async Task RunWriterAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<(UsageRecord Record, long Picodollars, int Scale)>(_batchSize);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var item))
            {
                if (item.Flushed is { } flushed)
                {
                    WriteBatch(batch);
                    flushed.TrySetResult();
                    continue;
                }

                if (!RecordCodec.TryGetPicodollars(item.Record!.CostUsd, out var picodollars, out var scale))
                {
                    var failed = Interlocked.Increment(ref _failed);
                    Interlocked.Decrement(ref _pending);
                    TryLog(static (ledger, failed) => Log.CostOutOfRange(ledger._logger, ledger.Path, failed), failed);
                    continue;
                }

                batch.Add((item.Record, picodollars, scale));
                if (batch.Count >= _batchSize)
                {
                    WriteBatch(batch);
                }
            }

            // The queue is empty for now: write what was gathered rather than wait for a full batch.
            WriteBatch(batch);
        }
    }

    private void WriteBatch(List<(UsageRecord Record, long Picodollars, int Scale)> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }

        try
        {
            BatchStarting?.Invoke(batch.Count);
            _recordWriter.Write(batch);
            Interlocked.Add(ref _written, batch.Count);
        }
        catch (Exception ex)
        {
            var failed = Interlocked.Add(ref _failed, batch.Count);
            TryLog(static (ledger, state) => Log.BatchFailed(ledger._logger, state.Exception, ledger.Path, state.Count, state.Failed), (Exception: ex, batch.Count, Failed: failed));
        }
        finally
        {
            Interlocked.Add(ref _pending, -batch.Count);
            batch.Clear();
        }
    }

    /// <summary>Logs without letting a failing log provider stop the writer loop (flushes would then wait forever).</summary>
    private void TryLog<TState>(Action<SqliteUsageLedger, TState> log, TState state)
    {
        try
        {
            log(this, state);
        }
        catch (Exception)
        {
            // Nothing else can report it.
        }
    }

    private async Task DisposeCoreAsync()
    {
        _disposed = true;
        _queue.Writer.TryComplete();
        await _writerLoop.ConfigureAwait(false);
        _recordWriter.Dispose();
        Close(_connection);
    }

    /// <summary>A record to write, or a flush marker.</summary>
    private readonly record struct QueueItem(UsageRecord? Record, TaskCompletionSource? Flushed);
}
