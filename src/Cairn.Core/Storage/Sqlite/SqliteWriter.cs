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
internal sealed class SqliteWriter : IAsyncDisposable
{
    private const int MaxGroup = 256;

    private readonly SqliteConnection _connection;
    private readonly Channel<WorkItem> _queue = Channel.CreateUnbounded<WorkItem>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;
    private volatile bool _stopping;

    public SqliteWriter(SqliteConnection connection)
    {
        _connection = connection;
        _loop = Task.Run(RunAsync);
    }

    public Task<T> ExecuteAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var item = new WorkItem<T>(work, cancellationToken);
        if (!_queue.Writer.TryWrite(item))
            throw new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE, "The store is shutting down.");
        CairnTelemetry.SqliteWriterQueueDepth.Add(1);
        return item.Task;
    }

    /// <summary>
    /// Why this writer cannot be trusted with writes, or null: its loop ended outside disposal (every later write would
    /// wait forever), or its database file was removed (SQLite in WAL mode keeps committing into the unlinked file).
    /// </summary>
    public string? Problem =>
        _loop.IsCompleted && !_stopping ? "the SQLite writer loop stopped" + (_loop.Exception is { } e ? ": " + e.GetBaseException().Message : "")
        : !_stopping && !File.Exists(_connection.DataSource) ? $"the database file {_connection.DataSource} is gone" : null;

    private async Task RunAsync()
    {
        var group = new List<WorkItem>(MaxGroup);
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

    private long _nextOptimize = Environment.TickCount64 + 60_000;

    /// <summary>
    /// Keeps the planner's statistics fresh as tables grow (SQLite's advice for long-lived connections:
    /// PRAGMA optimize now and then). Cheap when nothing changed; search plans depend on it.
    /// </summary>
    private async Task OptimizeWhenDueAsync()
    {
        if (Environment.TickCount64 < _nextOptimize) return;
        _nextOptimize = Environment.TickCount64 + 10 * 60_000;
        await using var command = _connection.CreateCommand();
        command.CommandText = "PRAGMA optimize";
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
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
    public const int Constraint = 19;

    public static Exception Translate(Exception e) => e switch
    {
        SqliteException { SqliteErrorCode: Busy or Locked } => new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE,
            "The database is busy (another process holds the write lock beyond the busy timeout). Retry the request.", e),
        _ => e,
    };

    public static bool IsUniqueViolation(Exception e) =>
        e is SqliteException { SqliteErrorCode: Constraint } s && (s.SqliteExtendedErrorCode is 2067 or 1555);
}
