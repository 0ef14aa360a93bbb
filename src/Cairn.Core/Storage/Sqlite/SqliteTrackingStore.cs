using System.Collections.Concurrent;
using System.Data.Common;
using Cairn.Tracking;
using Microsoft.Data.Sqlite;

namespace Cairn.Storage.Sqlite;

/// <summary>
/// The embedded default: one SQLite file in WAL mode. Readers use a small pool of open connections and
/// never block the writer; all writes go through <see cref="SqliteWriter"/>.
/// </summary>
internal sealed class SqliteTrackingStore : SqlTrackingStore
{
    private const int MaxPooledReaders = 16;

    private readonly string _connectionString;
    private readonly ConcurrentBag<SqliteConnection> _readers = [];
    private readonly SqliteWriter _writer;
    private int _disposed;

    private SqliteTrackingStore(string databasePath, string defaultArtifactRoot) : base(defaultArtifactRoot)
    {
        DatabasePath = Path.GetFullPath(databasePath);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Pooling = false, // this class keeps its own connections open
            DefaultTimeout = 30,
        }.ToString();
        _writer = new SqliteWriter(Open());
    }

    public string DatabasePath { get; }

    /// <summary>Opens (creating and migrating when needed) the database at <paramref name="databasePath"/>.</summary>
    public static async Task<SqliteTrackingStore> OpenAsync(string databasePath, string defaultArtifactRoot, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(databasePath))!);
        var store = new SqliteTrackingStore(databasePath, defaultArtifactRoot);
        try
        {
            await store.InitializeSchemaAsync(SqlFlavor.Sqlite, cancellationToken).ConfigureAwait(false);
            // Statistics for a database opened after bulk writes by another process (0x10002: analyze
            // tables that never had statistics too, within a time limit).
            await store.WriteAsync(async (c, tx) =>
            {
                await using var optimize = c.CreateCommand();
                optimize.Transaction = tx;
                optimize.CommandText = "PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002";
                await optimize.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                return 0;
            }, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            store.Dispose();
            throw;
        }
        return store;
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var pragma = connection.CreateCommand();
        // WAL: readers never block the writer. synchronous=NORMAL: a commit survives a process kill
        // (SIGKILL), and only an OS crash or power loss can lose the last commits, never corrupt the file.
        pragma.CommandText = """
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = NORMAL;
            PRAGMA foreign_keys = ON;
            PRAGMA busy_timeout = 30000;
            PRAGMA cache_size = -65536;
            PRAGMA temp_store = MEMORY;
            PRAGMA mmap_size = 268435456;
            """;
        pragma.ExecuteNonQuery();
        return connection;
    }

    protected override ValueTask<DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var connection = _readers.TryTake(out var pooled) ? pooled : Open();
        return ValueTask.FromResult<DbConnection>(new PooledReader(connection, this));
    }

    private void Return(SqliteConnection connection)
    {
        if (_disposed == 0 && _readers.Count < MaxPooledReaders) _readers.Add(connection);
        else connection.Dispose();
    }

    protected override Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken) =>
        _writer.ExecuteAsync((c, tx) => work(c, tx), cancellationToken);

    protected override string LikeSql(string column, string parameter) => $"{column} GLOB {parameter}";

    protected override string ILikeSql(string column, string parameter) => $"lower({column}) LIKE lower({parameter})";

    /// <summary>SQLite's LIKE ignores case, so case-sensitive LIKE is done with GLOB: % becomes *, _ becomes ?.</summary>
    protected override string LikePattern(string pattern)
    {
        var sb = new System.Text.StringBuilder(pattern.Length + 8);
        foreach (var c in pattern)
        {
            sb.Append(c switch
            {
                '%' => "*",
                '_' => "?",
                '*' => "[*]",
                '?' => "[?]",
                '[' => "[[]",
                _ => c.ToString(),
            });
        }
        return sb.ToString();
    }

    protected override async Task InsertMetricHistoryAsync(DbConnection connection, DbTransaction transaction, string runId, IReadOnlyList<Metric> metrics, CancellationToken cancellationToken)
    {
        // The hot path of ingest. Multi-row INSERTs of up to RowsPerStatement points amortize the per-statement
        // cost (parse once, bind, step) that dominates when each point is its own statement.
        var full = metrics.Count / RowsPerStatement;
        if (full > 0)
        {
            await using var command = MetricInsert(connection, transaction, runId, RowsPerStatement);
            for (var chunk = 0; chunk < full; chunk++)
            {
                BindMetrics(command, metrics, chunk * RowsPerStatement, RowsPerStatement);
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        var rest = metrics.Count - full * RowsPerStatement;
        if (rest > 0)
        {
            await using var command = MetricInsert(connection, transaction, runId, rest);
            BindMetrics(command, metrics, full * RowsPerStatement, rest);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private const int RowsPerStatement = 100;

    private static SqliteCommand MetricInsert(DbConnection connection, DbTransaction transaction, string runId, int rows)
    {
        var command = (SqliteCommand)connection.CreateCommand();
        command.Transaction = (SqliteTransaction)transaction;
        var sql = new System.Text.StringBuilder("INSERT INTO metrics (run_uuid, key, step, timestamp, value, is_nan) VALUES ", 40 + rows * 40);
        for (var i = 0; i < rows; i++)
        {
            if (i > 0) sql.Append(',');
            sql.Append("($r,$k").Append(i).Append(",$s").Append(i).Append(",$t").Append(i).Append(",$v").Append(i).Append(",$n").Append(i).Append(')');
        }
        command.CommandText = sql.Append(" ON CONFLICT DO NOTHING").ToString();
        command.Parameters.Add("$r", SqliteType.Text).Value = runId;
        for (var i = 0; i < rows; i++)
        {
            command.Parameters.Add("$k" + i, SqliteType.Text);
            command.Parameters.Add("$s" + i, SqliteType.Integer);
            command.Parameters.Add("$t" + i, SqliteType.Integer);
            command.Parameters.Add("$v" + i, SqliteType.Real);
            command.Parameters.Add("$n" + i, SqliteType.Integer);
        }
        return command;
    }

    private static void BindMetrics(SqliteCommand command, IReadOnlyList<Metric> metrics, int offset, int rows)
    {
        var parameters = command.Parameters;
        for (var i = 0; i < rows; i++)
        {
            var m = metrics[offset + i];
            var p = 1 + i * 5;
            parameters[p].Value = m.Key;
            parameters[p + 1].Value = m.Step;
            parameters[p + 2].Value = m.Timestamp;
            parameters[p + 3].Value = StoredValue(m.Value);
            parameters[p + 4].Value = double.IsNaN(m.Value) ? 1 : 0;
        }
    }

    protected override bool IsUniqueViolation(Exception exception) => SqliteErrors.IsUniqueViolation(exception);

    /// <summary>Runs SQLite's integrity check; returns "ok" for a sound file.</summary>
    public async Task<string> CheckIntegrityAsync(CancellationToken cancellationToken = default)
    {
        await using var c = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = c.CreateCommand();
        command.CommandText = "PRAGMA integrity_check";
        return (string?)await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) ?? "";
    }

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        while (_readers.TryTake(out var connection))
        {
            try
            {
                using var optimize = connection.CreateCommand();
                optimize.CommandText = "PRAGMA optimize";
                optimize.ExecuteNonQuery();
            }
            finally
            {
                connection.Dispose();
            }
        }
    }

    /// <summary>A reader connection that goes back to the pool when disposed.</summary>
    private sealed class PooledReader(SqliteConnection inner, SqliteTrackingStore owner) : DbConnectionWrapper(inner)
    {
        protected override void Dispose(bool disposing)
        {
            if (disposing) owner.Return(inner);
        }

        public override ValueTask DisposeAsync()
        {
            owner.Return(inner);
            return ValueTask.CompletedTask;
        }
    }
}
