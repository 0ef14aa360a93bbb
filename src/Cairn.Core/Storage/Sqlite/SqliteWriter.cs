using System.Threading.Channels;
using Cairn.Diagnostics;
using Microsoft.Data.Sqlite;

namespace Cairn.Storage.Sqlite;

/// <summary>
/// The single writer of a SQLite database in this process. Writes queue here and are group-committed:
/// whatever is waiting when the writer comes round goes into one transaction, each write inside its own
/// savepoint, so one bad write fails alone while the rest share a commit. SQLite allows one writer at a
/// time anyway; queueing in-process replaces lock contention (SQLITE_BUSY) with an orderly line, and
/// other processes are waited out by the busy timeout of BEGIN IMMEDIATE.
/// </summary>
/// <remarks>
/// A fault of the loop itself (an error outside any one write: SQLITE_BUSY or SQLITE_FULL in the periodic optimize, a
/// broken transaction that cannot even roll back a savepoint) must not leave writes queued behind a dead loop. The
/// writer fails the writes of that group and every queued one with TEMPORARILY_UNAVAILABLE (503), refuses new writes
/// the same way while it is down (and says so to the readiness check through <see cref="Problem"/>), then, after a
/// delay that doubles with each fault in a row up to a bound, checks that its connection can take the write lock again
/// and resumes.
/// </remarks>
internal sealed class SqliteWriter : IAsyncDisposable
{
    private const int MaxGroup = 256;

    private readonly SqliteConnection _connection;
    private readonly Channel<WorkItem> _queue = Channel.CreateUnbounded<WorkItem>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly TimeSpan _optimizeInterval;
    private readonly TimeSpan _firstRestartDelay;
    private readonly TimeSpan _maxRestartDelay;
    private readonly Task _loop;
    private volatile bool _stopping;
    private volatile Fault? _fault;

    /// <param name="connection">The open connection all writes go through; the writer disposes it.</param>
    /// <param name="optimizeInterval">How often <c>PRAGMA optimize</c> runs after a commit (10 minutes, the first after one).</param>
    /// <param name="restartDelay">How long the writer stays down after a fault before it tries to resume (1 s, doubling per fault in a row up to 30 s).</param>
    public SqliteWriter(SqliteConnection connection, TimeSpan? optimizeInterval = null, TimeSpan? restartDelay = null)
    {
        _connection = connection;
        _optimizeInterval = optimizeInterval ?? TimeSpan.FromMinutes(10);
        _nextOptimize = Environment.TickCount64 + (long)(optimizeInterval ?? TimeSpan.FromMinutes(1)).TotalMilliseconds;
        _firstRestartDelay = restartDelay ?? TimeSpan.FromSeconds(1);
        _maxRestartDelay = TimeSpan.FromTicks(Math.Max(_firstRestartDelay.Ticks, TimeSpan.FromSeconds(30).Ticks));
        _loop = Task.Run(RunAsync);
    }

    public Task<T> ExecuteAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // Down after a fault: fail now rather than queue behind a writer that is not taking writes.
        if (_fault is { } fault) return Task.FromException<T>(fault.Error());
        var item = new WorkItem<T>(work, cancellationToken);
        if (!_queue.Writer.TryWrite(item))
            throw new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE, "The store is shutting down.");
        CairnTelemetry.SqliteWriterQueueDepth.Add(1);
        return item.Task;
    }

    /// <summary>
    /// Why this writer cannot be trusted with writes, or null: it is down after a fault (until it resumes), its loop
    /// ended outside disposal (every later write would wait forever), or its database file was removed (SQLite in WAL
    /// mode keeps committing into the unlinked file).
    /// </summary>
    public string? Problem =>
        _fault is { } fault && !_stopping ? fault.Describe()
        : _loop.IsCompleted && !_stopping ? "the SQLite writer loop stopped" + (_loop.Exception is { } e ? ": " + e.GetBaseException().Message : "")
        : !_stopping && !File.Exists(_connection.DataSource) ? $"the database file {_connection.DataSource} is gone" : null;

    private async Task RunAsync()
    {
        var group = new List<WorkItem>(MaxGroup);
        var restartDelay = _firstRestartDelay;
        while (true)
        {
            try
            {
                while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
                {
                    group.Clear();
                    var taken = 0;
                    for (; taken < MaxGroup && _queue.Reader.TryRead(out var item); taken++)
                    {
                        if (item.CancellationToken.IsCancellationRequested) item.Cancel();
                        else group.Add(item);
                    }
                    CairnTelemetry.SqliteWriterQueueDepth.Add(-taken);
                    if (group.Count > 0) await CommitGroupAsync(group).ConfigureAwait(false);
                    restartDelay = _firstRestartDelay;
                }
                return; // completed by DisposeAsync
            }
            catch (Exception e)
            {
                CairnTelemetry.SqliteWriterFaults.Add(1);
                var fault = new Fault(e, restartDelay);
                _fault = fault;
                // Acknowledged writes are unaffected (a completed task keeps its result); the rest of the group did not commit.
                foreach (var item in group) item.Fail(fault.Error());
                group.Clear();
                FailQueued(fault);
                if (!await RestartAsync(restartDelay).ConfigureAwait(false)) return;
                restartDelay = TimeSpan.FromTicks(Math.Min(restartDelay.Ticks * 2, _maxRestartDelay.Ticks));
            }
        }
    }

    /// <summary>Waits out the delay, then checks the connection can take the write lock again; false when the writer is stopping.</summary>
    private async Task<bool> RestartAsync(TimeSpan delay)
    {
        while (true)
        {
            try
            {
                await Task.Delay(delay, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            try
            {
                await ResetConnectionAsync().ConfigureAwait(false);
                // Writes that slipped in while the fault was being recorded are still queued and go through now.
                _fault = null;
                return true;
            }
            catch (Exception e)
            {
                CairnTelemetry.SqliteWriterFaults.Add(1);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _maxRestartDelay.Ticks));
                var fault = new Fault(e, delay);
                _fault = fault;
                FailQueued(fault);
            }
        }
    }

    /// <summary>Ends a transaction the fault left open, and proves the write lock can be taken (BEGIN IMMEDIATE, ROLLBACK).</summary>
    private async Task ResetConnectionAsync()
    {
        if (SQLitePCL.raw.sqlite3_get_autocommit(_connection.Handle) == 0)
        {
            await using var rollback = _connection.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            await rollback.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        await using var probe = (SqliteTransaction)await _connection.BeginTransactionAsync().ConfigureAwait(false);
        await probe.RollbackAsync().ConfigureAwait(false);
    }

    private void FailQueued(Fault fault)
    {
        while (_queue.Reader.TryRead(out var item))
        {
            CairnTelemetry.SqliteWriterQueueDepth.Add(-1);
            item.Fail(fault.Error());
        }
    }

    private async Task CommitGroupAsync(List<WorkItem> group)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        SqliteTransaction transaction;
        try
        {
            transaction = (SqliteTransaction)await _connection.BeginTransactionAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            var error = SqliteErrors.Translate(e);
            foreach (var item in group) item.Fail(error);
            return;
        }

        var succeeded = new List<WorkItem>(group.Count);
        await using (transaction.ConfigureAwait(false))
        {
            if (group.Count == 1)
            {
                // Alone in the transaction: no savepoint needed, a failure just rolls back.
                var item = group[0];
                try
                {
                    await item.RunAsync(_connection, transaction).ConfigureAwait(false);
                    succeeded.Add(item);
                }
                catch (Exception e)
                {
                    item.Fail(SqliteErrors.Translate(e));
                }
            }
            else
            {
                for (var i = 0; i < group.Count; i++)
                {
                    var item = group[i];
                    var savepoint = "w" + i;
                    try
                    {
                        await transaction.SaveAsync(savepoint).ConfigureAwait(false);
                        await item.RunAsync(_connection, transaction).ConfigureAwait(false);
                        await transaction.ReleaseAsync(savepoint).ConfigureAwait(false);
                        succeeded.Add(item);
                    }
                    catch (Exception e)
                    {
                        try
                        {
                            await transaction.RollbackAsync(savepoint).ConfigureAwait(false);
                            await transaction.ReleaseAsync(savepoint).ConfigureAwait(false);
                        }
                        catch (SqliteException rollbackError)
                        {
                            // The transaction itself is broken (e.g. disk full): nothing in this group can commit.
                            foreach (var done in succeeded) done.Fail(SqliteErrors.Translate(rollbackError));
                            item.Fail(SqliteErrors.Translate(e));
                            for (var j = i + 1; j < group.Count; j++) group[j].Fail(SqliteErrors.Translate(rollbackError));
                            return;
                        }
                        item.Fail(SqliteErrors.Translate(e));
                    }
                }
            }

            if (succeeded.Count == 0)
            {
                await transaction.RollbackAsync().ConfigureAwait(false);
                return;
            }
            try
            {
                await transaction.CommitAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                var error = SqliteErrors.Translate(e);
                foreach (var item in succeeded) item.Fail(error);
                return;
            }
        }
        CairnTelemetry.SqliteWriterBatchSize.Record(group.Count);
        CairnTelemetry.SqliteWriterCommitDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        // Acknowledge only after the commit: an acknowledged write is durable in the WAL.
        foreach (var item in succeeded) item.Succeed();
        await OptimizeWhenDueAsync().ConfigureAwait(false);
    }

    private long _nextOptimize;

    /// <summary>
    /// Keeps the planner's statistics fresh as tables grow (SQLite's advice for long-lived connections:
    /// PRAGMA optimize now and then). Cheap when nothing changed; search plans depend on it.
    /// </summary>
    private async Task OptimizeWhenDueAsync()
    {
        if (Environment.TickCount64 < _nextOptimize) return;
        _nextOptimize = Environment.TickCount64 + (long)_optimizeInterval.TotalMilliseconds;
        await using var command = _connection.CreateCommand();
        command.CommandText = "PRAGMA optimize";
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        _queue.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        // Left by a loop that stopped while down after a fault.
        while (_queue.Reader.TryRead(out var item)) item.Fail(new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE, "The store is shutting down."));
        _stop.Dispose();
        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>A fault of the loop: what went wrong and when the writer tries again.</summary>
    private sealed class Fault(Exception cause, TimeSpan restartDelay)
    {
        private readonly long _restartAt = Environment.TickCount64 + (long)restartDelay.TotalMilliseconds;
        private readonly string _cause = cause.GetBaseException().Message;

        public CairnException Error() => new(ErrorCode.TEMPORARILY_UNAVAILABLE,
            $"The SQLite writer failed ({_cause}) and is restarting; retry the request.", cause);

        public string Describe() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"the SQLite writer failed ({_cause}); it restarts in {Math.Max(0, _restartAt - Environment.TickCount64) / 1000.0:0.#} s");
    }

    private abstract class WorkItem(CancellationToken cancellationToken)
    {
        public CancellationToken CancellationToken { get; } = cancellationToken;
        public abstract Task RunAsync(SqliteConnection connection, SqliteTransaction transaction);
        public abstract void Succeed();
        public abstract void Fail(Exception error);
        public abstract void Cancel();
    }

    private sealed class WorkItem<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> work, CancellationToken cancellationToken) : WorkItem(cancellationToken)
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;

        public Task<T> Task => _completion.Task;

        public override async Task RunAsync(SqliteConnection connection, SqliteTransaction transaction) =>
            _result = await work(connection, transaction).ConfigureAwait(false);

        // The result was produced inside the committed transaction; null only when T allows it.
        public override void Succeed() => _completion.TrySetResult(_result!);
        public override void Fail(Exception error) => _completion.TrySetException(error);
        public override void Cancel() => _completion.TrySetCanceled(CancellationToken);
    }
}

/// <summary>SQLite errors in MLflow's terms, translated once at the storage edge.</summary>
internal static class SqliteErrors
{
    public const int Busy = 5;
    public const int Locked = 6;
    public const int Full = 13;
    public const int Constraint = 19;

    public static Exception Translate(Exception e) => e switch
    {
        SqliteException { SqliteErrorCode: Busy or Locked } => new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE,
            "The database is busy (another process holds the write lock beyond the busy timeout). Retry the request.", e),
        // MLflow answers its store's operational errors (a full disk among them) with TEMPORARILY_UNAVAILABLE too.
        SqliteException { SqliteErrorCode: Full } => new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE,
            "The database or its disk is full; free space and retry the request.", e),
        _ => e,
    };

    public static bool IsUniqueViolation(Exception e) =>
        e is SqliteException { SqliteErrorCode: Constraint } s && (s.SqliteExtendedErrorCode is 2067 or 1555);
}
