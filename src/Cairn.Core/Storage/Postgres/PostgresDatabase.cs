using System.Data.Common;
using Cairn.Tracking;
using Npgsql;
using NpgsqlTypes;

namespace Cairn.Storage.Postgres;

/// <summary>
/// Shared metadata for teams running several Cairn servers: the same SQL as the SQLite database on a pooled
/// PostgreSQL data source, each write in its own transaction. Uniqueness races between replicas end in a
/// unique violation, which becomes RESOURCE_ALREADY_EXISTS; serialization and deadlock failures are retried.
/// </summary>
internal sealed class PostgresDatabase : SqlDatabase
{
    private const int MaxAttempts = 5;

    private readonly NpgsqlDataSource _dataSource;

    private PostgresDatabase(NpgsqlDataSource dataSource, string defaultArtifactRoot, TimeProvider timeProvider) : base(defaultArtifactRoot, timeProvider)
    {
        _dataSource = dataSource;
    }

    /// <summary>
    /// Opens the database named by <paramref name="connectionString"/> (an Npgsql connection string or a
    /// <c>postgresql://user:pass@host:port/db?schema=name</c> URI), creating the schema and migrating it when needed.
    /// </summary>
    public static async Task<PostgresDatabase> OpenAsync(string connectionString, string defaultArtifactRoot, TimeProvider timeProvider, CancellationToken cancellationToken = default)
    {
        var (npgsql, schema) = PostgresConnection.Parse(connectionString);
        if (schema is not null)
        {
            await using var bootstrap = NpgsqlDataSource.Create(npgsql);
            await using var command = bootstrap.CreateCommand($"CREATE SCHEMA IF NOT EXISTS \"{schema.Replace("\"", "\"\"", StringComparison.Ordinal)}\"");
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            npgsql = new NpgsqlConnectionStringBuilder(npgsql) { SearchPath = schema }.ToString();
        }
        var store = new PostgresDatabase(NpgsqlDataSource.Create(npgsql), defaultArtifactRoot, timeProvider);
        try
        {
            // Replicas starting together must not both migrate: a transaction-scoped advisory lock serializes them.
            await store.WriteAsync(async (c, tx) =>
            {
                await using var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock(727274)", (NpgsqlConnection)c, (NpgsqlTransaction)tx);
                await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                return 0;
            }, cancellationToken).ConfigureAwait(false);
            await store.InitializeSchemaAsync(SqlFlavor.Postgres, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            store.Dispose();
            throw;
        }
        return store;
    }

    public override async ValueTask<DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    public override async Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var result = await work(connection, transaction).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected && attempt < MaxAttempts)
            {
                await transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
                await Task.Delay(10 * attempt, cancellationToken).ConfigureAwait(false);
            }
            catch (NpgsqlException e) when (e.IsTransient && e is not PostgresException)
            {
                throw new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE, "The PostgreSQL server is unreachable or overloaded. Retry the request.", e);
            }
        }
    }

    public override string ExistsEnd => " OFFSET 0)";
    public override string ForUpdate => " FOR UPDATE";

    public override string LikeSql(string column, string parameter) => $"{column} LIKE {parameter}";

    public override string ILikeSql(string column, string parameter) => $"{column} ILIKE {parameter}";

    // Dapper passes arrays to Npgsql as one array parameter instead of expanding them, so IN @p would be a syntax error.
    public override string InSql(string column, string parameter, System.Collections.ICollection values, bool negated = false) =>
        negated ? $"{column} <> ALL({parameter})" : $"{column} = ANY({parameter})";

    public override async Task InsertMetricHistoryAsync(DbConnection connection, DbTransaction transaction, string runId, IReadOnlyList<Metric> metrics, CancellationToken cancellationToken)
    {
        // One round trip for the whole batch: arrays unnested server-side.
        var n = metrics.Count;
        var keys = new string[n];
        var steps = new long[n];
        var timestamps = new long[n];
        var values = new double[n];
        var nans = new short[n];
        for (var i = 0; i < n; i++)
        {
            var m = metrics[i];
            keys[i] = m.Key;
            steps[i] = m.Step;
            timestamps[i] = m.Timestamp;
            values[i] = SqlDatabase.StoredValue(m.Value);
            nans[i] = (short)(double.IsNaN(m.Value) ? 1 : 0);
        }
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO metrics (run_uuid, key, step, timestamp, value, is_nan)
            SELECT $1, k, s, t, v, n FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::double precision[], $6::smallint[]) AS u(k, s, t, v, n)
            ON CONFLICT DO NOTHING
            """, (NpgsqlConnection)connection, (NpgsqlTransaction)transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = runId, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = keys, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = steps, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = timestamps, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = values, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Double });
        command.Parameters.Add(new NpgsqlParameter { Value = nans, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Smallint });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public override bool IsUniqueViolation(Exception exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    public override void Dispose() => _dataSource.Dispose();
}

/// <summary>Accepts both Npgsql connection strings and the <c>postgresql://</c> URIs MLflow users pass.</summary>
internal static class PostgresConnection
{
    public static (string ConnectionString, string? Schema) Parse(string value)
    {
        if (!value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) && !value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase))
        {
            var builder = new NpgsqlConnectionStringBuilder(value);
            var schema = builder.SearchPath;
            return (value, string.IsNullOrEmpty(schema) ? null : schema);
        }
        var uri = new Uri(value);
        var csb = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = uri.AbsolutePath.Trim('/') is { Length: > 0 } db ? Uri.UnescapeDataString(db) : "postgres",
        };
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            csb.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length > 1) csb.Password = Uri.UnescapeDataString(parts[1]);
        }
        string? schemaName = null;
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            var key = Uri.UnescapeDataString(kv[0]);
            var val = kv.Length > 1 ? Uri.UnescapeDataString(kv[1]) : "";
            if (key is "schema" or "search_path") schemaName = val;
            else csb[key] = val;
        }
        return (csb.ToString(), schemaName);
    }
}
