using System.Threading.Channels;
using AgentHarness.Internal;
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
/// refuses is logged and counted in <see cref="Failed"/>, and the next batches are tried as usual. A
/// write waits up to 30 seconds for another process's write lock before its batch counts as failed.
/// </para>
/// <para>
/// Creating the ledger touches no file, so a file that cannot be opened never fails the harness or a
/// model call. The background loop opens the file (creating it and its directory when missing)
/// before its first batch; while it cannot, it logs an error once, counts the records as
/// <see cref="Failed"/>, and tries again before each later batch. <see cref="GetUsageAsync"/> and
/// <see cref="GetRecords"/> open the file themselves and throw <see cref="InvalidOperationException"/>,
/// naming the file, when they cannot.
/// </para>
/// <para>
/// The file uses write-ahead logging, so reports and <see cref="GetRecords"/> read while records are
/// written, and several processes may share one file. The schema is versioned with
/// <c>PRAGMA user_version</c>; a file written by a newer version is refused: records count as
/// <see cref="Failed"/> and queries throw.
/// </para>
/// <para>The ledger is thread safe. Dispose it (the service provider does) to write what is queued and close the file.</para>
/// </remarks>
public sealed class SqliteUsageLedger : IUsageLedger, AgentHarness.Internal.ILedgerCounters, IDisposable, IAsyncDisposable
{
    /// <summary>How long a statement waits for another connection's lock: the Microsoft.Data.Sqlite default.</summary>
    internal static readonly TimeSpan DefaultBusyTimeout = TimeSpan.FromSeconds(30);

    private const int DropLogInterval = 1000;

    private readonly Channel<UsageRecord> _queue;
    private readonly ILogger _logger;
    private readonly string _setting;
    private readonly string _connectionString;
    private readonly int _capacity;
    private readonly int _batchSize;

    // Guards _accepted together with the queue's writes, and the flushes waiting for the writer.
    private readonly Lock _flushGate = new();
    private readonly List<(long Target, TaskCompletionSource Flushed)> _flushes = [];
    private readonly Lazy<Task> _disposal;
    private readonly Task _writerLoop;

    // Owned by the writer loop (and by disposal once the loop has ended).
    private SqliteConnection? _connection;
    private RecordWriter? _recordWriter;
    private bool _openFailing;
    private bool _abandoned;
    private long _abandonedCount;

    private long _accepted;
    private long _finished;
    private long _written;
    private long _dropped;
    private long _failed;
    private long _pending;
    private volatile bool _disposed;

    /// <summary>Creates the ledger and starts its writer; the file is opened (created with its directory when missing) when the first records are written.</summary>
    /// <param name="options">The options; see <see cref="SqliteUsageLedgerOptions"/>.</param>
    /// <param name="logger">
    /// The logger of dropped records and failed writes, or <see langword="null"/> for none; the ledger
    /// registered by <c>AddSqliteUsageLedger</c> logs under <see cref="AgentHarnessLogCategories.Sqlite"/>
    /// (<c>loggerFactory.CreateLogger(AgentHarnessLogCategories.Sqlite)</c>).
    /// </param>
    /// <exception cref="ArgumentException">The options are not valid; the message names the setting and the bad value.</exception>
    public SqliteUsageLedger(SqliteUsageLedgerOptions options, ILogger? logger = null)
        : this(options, SqliteUsageLedgerOptionsValidator.DefaultSectionPath, logger)
    {
    }

    /// <summary>Creates the ledger; does nothing that can wait or fail on the file, since it is built on a model call's path.</summary>
    /// <param name="options">The options.</param>
    /// <param name="sectionPath">The configuration section the options come from, named in messages.</param>
    /// <param name="logger">The logger, or <see langword="null"/>.</param>
    /// <param name="busyTimeout">How long a statement waits for another connection's lock (whole seconds, at least one); <see cref="DefaultBusyTimeout"/> when <see langword="null"/>. Tests shorten it.</param>
    internal SqliteUsageLedger(SqliteUsageLedgerOptions options, string sectionPath, ILogger? logger, TimeSpan? busyTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sectionPath);
        var validation = new SqliteUsageLedgerOptionsValidator(sectionPath).Validate(null, options);
        if (validation.Failed)
        {
            throw new ArgumentException(validation.FailureMessage, nameof(options));
        }

        _logger = logger ?? NullLogger.Instance;
        _setting = sectionPath + ":Path";
        _capacity = options.QueueCapacity;
        _batchSize = options.BatchSize;
        Path = FullPath(options.Path, _setting);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = Math.Max(1, (int)Math.Ceiling((busyTimeout ?? DefaultBusyTimeout).TotalSeconds)),
        }.ToString();

        // Nothing above or below holds a file, a connection or a thread: an exception leaves nothing to release.
        _queue = Channel.CreateBounded<UsageRecord>(new BoundedChannelOptions(_capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        });
        _disposal = new Lazy<Task>(DisposeCoreAsync, LazyThreadSafetyMode.ExecutionAndPublication);

        // Started last: once it runs, only disposal stops it.
        _writerLoop = Task.Run(RunWriterAsync);
    }

    /// <summary>Gets the full path of the database file.</summary>
    public string Path { get; }

    /// <summary>Gets how many records were written to the file since the ledger was created.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Gets how many records were dropped because the queue was full or the ledger was disposed.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>
    /// Gets how many records could not be written since the ledger was created: their batch failed,
    /// the file could not be opened, their cost does not fit the file, or the database refused a write
    /// while the ledger was being disposed (the records still queued are then not tried).
    /// </summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Gets about how many records are queued or being written; a snapshot that may be out of date when read.</summary>
    public long Pending => Interlocked.Read(ref _pending);

    /// <summary>Called by the writer loop, on its thread, before it opens the file (when not open) and writes a batch, with the batch's size; lets tests know records left the queue.</summary>
    internal Action<int>? BatchStarting { get; set; }

    /// <summary>Called on the thread that runs a report's query, with its connection, just before the query; lets tests watch and interrupt it.</summary>
    internal Action<SqliteConnection>? QueryStarting { get; set; }

    /// <summary>Queues a record to be written; never waits and never throws for a full queue or a disposed ledger (the record is then dropped and counted in <see cref="Dropped"/>).</summary>
    /// <param name="record">The record.</param>
    /// <exception cref="ArgumentNullException"><paramref name="record"/> is <see langword="null"/>.</exception>
    public void Add(UsageRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);

        // Counted before the write so the writer can never take the count below zero.
        Interlocked.Increment(ref _pending);
        bool accepted;
        lock (_flushGate)
        {
            // Counted with the write, under the lock a flush reads it with: a flush waits for exactly the records queued before it.
            accepted = _queue.Writer.TryWrite(record);
            if (accepted)
            {
                _accepted++;
            }
        }

        if (accepted)
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
    /// <returns>A task that completes when those records are written or counted as failed.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public Task FlushAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled(cancellationToken);
        }

        // Waits outside the record queue, so a flush never takes a slot a record could have had.
        TaskCompletionSource flushed;
        lock (_flushGate)
        {
            var target = _accepted;
            if (Interlocked.Read(ref _finished) >= target)
            {
                return Task.CompletedTask;
            }

            flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _flushes.Add((target, flushed));
        }

        return flushed.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Builds the report of a query in SQL, after writing what is queued: periods by the UTC
    /// calendar, one row per period and group, calls refused before sending left out, each call's cost
    /// counted to the picodollar, exactly as <see cref="UsageReport.FromRecords"/> counts them. The
    /// query runs on a thread-pool thread, and cancelling interrupts it.
    /// </summary>
    /// <param name="query">The query; see <see cref="UsageQuery.Validate"/>.</param>
    /// <param name="cancellationToken">Cancels the query, also while SQLite runs it.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentException">The query is not valid.</exception>
    /// <exception cref="ObjectDisposedException">The ledger is disposed.</exception>
    /// <exception cref="InvalidOperationException">The file cannot be opened, is not a SQLite database, or was written by a newer schema version; the message names the file.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<UsageReport> GetUsageAsync(UsageQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var builder = new UsageReportBuilder(query);
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        await FlushAsync(cancellationToken).ConfigureAwait(false);

        // Microsoft.Data.Sqlite's async methods run synchronously: the caller's thread must not run the GROUP BY.
        return await Task.Run(() => Query(builder, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Returns every record in the file, in the order they were added, after writing what is queued.
    /// This call blocks its thread while it waits for that and reads the whole file into memory: to
    /// sum usage, use <see cref="GetUsageAsync"/>, which aggregates in SQL without blocking.
    /// </summary>
    /// <returns>The records, oldest first.</returns>
    /// <exception cref="ObjectDisposedException">The ledger is disposed.</exception>
    /// <exception cref="InvalidOperationException">The file cannot be opened, is not a SQLite database, or was written by a newer schema version; the message names the file.</exception>
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

    /// <summary>
    /// Stops accepting records, writes every record queued, and closes the file; it can be opened
    /// again at once. When the database refuses a write during disposal (for example another process
    /// holds its lock past the wait), the records still queued are not tried: they are counted in
    /// <see cref="Failed"/> and logged once, so disposal waits for one refused write at most.
    /// </summary>
    public void Dispose() => _disposal.Value.GetAwaiter().GetResult();

    /// <summary>Disposes as <see cref="Dispose"/> does, without blocking the calling thread.</summary>
    /// <returns>A task that completes when the file is closed.</returns>
    public ValueTask DisposeAsync() => new(_disposal.Value);

    private static string FullPath(string path, string setting)
    {
        try
        {
            return System.IO.Path.GetFullPath(path);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException or System.Security.SecurityException)
        {
            throw new ArgumentException($"{setting} '{path}' is not a valid path: {ex.Message}", "options", ex);
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

    /// <summary>Opens a connection to the file, creating the file, its directory and the schema when missing.</summary>
    /// <exception cref="InvalidOperationException">The file was written by a newer schema version.</exception>
    private SqliteConnection OpenConnection(bool writer)
    {
        var directory = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            LedgerSchema.Initialize(connection, _setting, Path, writer);
            return connection;
        }
        catch
        {
            Close(connection);
            throw;
        }
    }

    /// <summary>A query's own connection; a file that cannot be opened throws naming it.</summary>
    private SqliteConnection OpenQueryConnection()
    {
        try
        {
            return OpenConnection(writer: false);
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new InvalidOperationException($"{_setting} is '{Path}', but the usage ledger database '{Path}' cannot be opened: {ex.Message}", ex);
        }
    }

    private UsageReport Query(UsageReportBuilder builder, CancellationToken cancellationToken)
    {
        using var connection = OpenQueryConnection();
        try
        {
            // Disposed (waiting for a running interrupt to return) before the connection is.
            using var interrupt = cancellationToken.UnsafeRegister(static state => SQLitePCL.raw.sqlite3_interrupt(((SqliteConnection)state!).Handle), connection);
            QueryStarting?.Invoke(connection);
            LedgerQueries.AddUsage(connection, builder, cancellationToken);
        }
        catch (SqliteException ex) when (cancellationToken.IsCancellationRequested)
        {
            // SQLITE_INTERRUPT, or whatever the interrupted statement reported.
            throw new OperationCanceledException("The usage query was cancelled.", ex, cancellationToken);
        }
        finally
        {
            ReleaseIfDisposed(connection);
        }

        return builder.Build();
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
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var record))
                {
                    if (!RecordCodec.TryGetPicodollars(record.CostUsd, out var picodollars, out var scale)
                        || !RecordCodec.TryGetPicodollars(record.SavedUsd, out _, out _))
                    {
                        var failed = Interlocked.Increment(ref _failed);
                        TryLog(static (ledger, failed) => Log.CostOutOfRange(ledger._logger, ledger.Path, failed), failed);
                        Finish(1);
                        continue;
                    }

                    batch.Add((record, picodollars, scale));
                    if (batch.Count >= _batchSize)
                    {
                        WriteBatch(batch);
                    }
                }

                // The queue is empty for now: write what was gathered rather than wait for a full batch.
                WriteBatch(batch);
            }

            if (_abandonedCount > 0)
            {
                TryLog(static (ledger, count) => Log.AbandonedOnDispose(ledger._logger, ledger.Path, count, ledger.Failed), _abandonedCount);
            }
        }
        finally
        {
            // Every record is written or counted by now; nothing may wait for a loop that has ended.
            CompleteFlushes(all: true);
        }
    }

    private void WriteBatch(List<(UsageRecord Record, long Picodollars, int Scale)> batch)
    {
        var count = batch.Count;
        if (count == 0)
        {
            return;
        }

        try
        {
            if (_abandoned)
            {
                Interlocked.Add(ref _failed, count);
                _abandonedCount += count;
                return;
            }

            BatchStarting?.Invoke(count);
            if (!TryOpen())
            {
                Interlocked.Add(ref _failed, count);
                AbandonIfDisposing();
                return;
            }

            _recordWriter!.Write(batch);
            Interlocked.Add(ref _written, count);
        }
        catch (Exception ex)
        {
            var failed = Interlocked.Add(ref _failed, count);
            TryLog(static (ledger, state) => Log.BatchFailed(ledger._logger, state.Exception, ledger.Path, state.Count, state.Failed), (Exception: ex, Count: count, Failed: failed));
            AbandonIfDisposing();
        }
        finally
        {
            batch.Clear();
            Finish(count);
        }
    }

    /// <summary>Opens the writer's connection when it is not open; logs the first failure of a streak.</summary>
    private bool TryOpen()
    {
        if (_recordWriter is not null)
        {
            return true;
        }

        SqliteConnection? connection = null;
        try
        {
            connection = OpenConnection(writer: true);
            _recordWriter = new RecordWriter(connection);
            _connection = connection;
        }
        catch (Exception ex)
        {
            Close(connection);
            if (!_openFailing)
            {
                _openFailing = true;
                TryLog(static (ledger, ex) => Log.OpenFailed(ledger._logger, ex, ledger.Path, ledger._setting), ex);
            }

            return false;
        }

        if (_openFailing)
        {
            _openFailing = false;
            TryLog(static (ledger, failed) => Log.OpenRecovered(ledger._logger, ledger.Path, failed), Failed);
        }

        TryLog(static (ledger, version) => Log.Opened(ledger._logger, ledger.Path, version), LedgerSchema.Version);
        return true;
    }

    /// <summary>Once disposal has begun, a refused write means the rest would likely wait and fail too: stop trying them.</summary>
    private void AbandonIfDisposing()
    {
        if (_disposed)
        {
            _abandoned = true;
        }
    }

    /// <summary>Counts records as finished (written or failed) and releases the flushes waiting for them.</summary>
    private void Finish(int count)
    {
        Interlocked.Add(ref _pending, -count);
        Interlocked.Add(ref _finished, count);
        CompleteFlushes(all: false);
    }

    private void CompleteFlushes(bool all)
    {
        lock (_flushGate)
        {
            if (_flushes.Count == 0)
            {
                return;
            }

            var finished = Interlocked.Read(ref _finished);
            for (var i = _flushes.Count - 1; i >= 0; i--)
            {
                if (all || _flushes[i].Target <= finished)
                {
                    _flushes[i].Flushed.TrySetResult();
                    _flushes.RemoveAt(i);
                }
            }
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
        lock (_flushGate)
        {
            // Under the gate, so no record is counted as accepted after the writer may have ended.
            _queue.Writer.TryComplete();
        }

        await _writerLoop.ConfigureAwait(false);
        _recordWriter?.Dispose();
        Close(_connection);
        _recordWriter = null;
        _connection = null;
    }
}
