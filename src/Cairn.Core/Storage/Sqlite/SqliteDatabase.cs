using System.Collections.Concurrent;
using System.Data.Common;
using Cairn.Tracking;
using Microsoft.Data.Sqlite;

namespace Cairn.Storage.Sqlite;

/// <summary>
/// The embedded default: one SQLite file in WAL mode. Readers use a small pool of open connections and
/// never block the writer; all writes of every store on the file (tracking and registry) go through its one
/// <see cref="SqliteWriter"/>, so they share its group commit.
/// </summary>
internal sealed class SqliteDatabase : SqlDatabase
{
    private const int MaxPooledReaders = 16;

    private readonly string _connectionString;
    private readonly ConcurrentBag<SqliteConnection> _readers = [];
    private readonly SqliteWriter _writer;
    private int _disposed;

    private SqliteDatabase(string databasePath, string defaultArtifactRoot, TimeProvider timeProvider) : base(defaultArtifactRoot, timeProvider)
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

    /// <summary>The single writer, for the server's readiness check.</summary>
    internal SqliteWriter Writer => _writer;

    /// <summary>Opens (creating and migrating when needed) the database at <paramref name="databasePath"/>.</summary>
    public static async Task<SqliteDatabase> OpenAsync(string databasePath, string defaultArtifactRoot, TimeProvider timeProvider, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(databasePath))!);
        var store = new SqliteDatabase(databasePath, defaultArtifactRoot, timeProvider);
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
        // The reverse of BitConverter.DoubleToInt64Bits, for metric batches (below): SQLite's own text-to-number conversion
        // can miss the last bit of extreme values (1e-300 came back one unit off), integers it parses exactly.
        connection.CreateFunction("cairn_double_from_bits", static (long bits) => BitConverter.Int64BitsToDouble(bits), isDeterministic: true);
        return connection;
    }

    public override ValueTask<DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken)
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

    public override Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken) =>
        _writer.ExecuteAsync((c, tx) => work(c, tx), cancellationToken);

    public override string OrderedJoin => " CROSS JOIN ";

    /// <summary>
    /// Lists longer than this travel as one JSON array that SQLite unpacks itself (json_each): Dapper expands an array
    /// into one parameter per element, and SQLite refuses more than 32,766 per statement (a page of 50,000 runs, gc of
    /// a big experiment). Short lists stay expanded, since the planner can then see the values, e.g. walk
    /// runs(experiment_id, start_time) in order for one experiment. A filter's terms are bounded too
    /// (<see cref="Tracking.Search.SearchFilterParser.MaxTerms"/>), so a statement stays far below the limit.
    /// </summary>
    internal const int InlineListLimit = 16;

    public override string InSql(string column, string parameter, System.Collections.ICollection values, bool negated = false) =>
        values.Count <= InlineListLimit
            ? $"{column} {(negated ? "NOT IN" : "IN")} {parameter}"
            : $"{column} {(negated ? "NOT IN" : "IN")} (SELECT value FROM json_each({parameter}))";

    public override object ListParameter(string[] values) =>
        values.Length <= InlineListLimit ? values : ListJson(values, static (w, v) => w.WriteStringValue(v));

    public override object ListParameter(long[] values) =>
        values.Length <= InlineListLimit ? values : ListJson(values, static (w, v) => w.WriteNumberValue(v));

    private static string ListJson<T>(T[] values, Action<System.Text.Json.Utf8JsonWriter, T> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(16 + values.Length * 40);
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var value in values) write(writer, value);
            writer.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public override string LikeSql(string column, string parameter) => $"{column} GLOB {parameter}";

    public override string ILikeSql(string column, string parameter) => $"lower({column}) LIKE lower({parameter})";

    /// <summary>SQLite's LIKE ignores case, so case-sensitive LIKE is done with GLOB: % becomes *, _ becomes ?.</summary>
    public override string LikePattern(string pattern)
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

    public override async Task InsertMetricHistoryAsync(DbConnection connection, DbTransaction transaction, string runId, IReadOnlyList<Metric> metrics, CancellationToken cancellationToken)
    {
        // The hot path of ingest. Binding six parameters per point costs more than SQLite's own insert, so
        // the batch travels as one JSON text that SQLite unpacks itself (json_each). Values travel as the integers of
        // their IEEE bits, which JSON and SQLite carry exactly (infinities and -0 included), and become REAL again in SQL.
        await using var command = (SqliteCommand)connection.CreateCommand();
        command.Transaction = (SqliteTransaction)transaction;
        command.CommandText = """
            INSERT INTO metrics (run_uuid, key, step, timestamp, value, is_nan)
            SELECT $run, p.value ->> 0, p.value ->> 1, p.value ->> 2, cairn_double_from_bits(p.value ->> 3), p.value ->> 4 FROM json_each($points) p
            WHERE true ON CONFLICT DO NOTHING
            """;
        command.Parameters.Add("$run", SqliteType.Text).Value = runId;
        command.Parameters.Add("$points", SqliteType.Text).Value = MetricsJson(metrics);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string MetricsJson(IReadOnlyList<Metric> metrics)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(64 + metrics.Count * 48);
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions { SkipValidation = true }))
        {
            writer.WriteStartArray();
            foreach (var m in metrics)
            {
                writer.WriteStartArray();
                writer.WriteStringValue(m.Key);
                writer.WriteNumberValue(m.Step);
                writer.WriteNumberValue(m.Timestamp);
                writer.WriteNumberValue(BitConverter.DoubleToInt64Bits(SqlDatabase.StoredValue(m.Value)));
                writer.WriteNumberValue(double.IsNaN(m.Value) ? 1 : 0);
                writer.WriteEndArray();
            }
            writer.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public override bool IsUniqueViolation(Exception exception) => SqliteErrors.IsUniqueViolation(exception);

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
    private sealed class PooledReader(SqliteConnection inner, SqliteDatabase owner) : DbConnectionWrapper(inner)
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
