using System.Data.Common;
using Cairn.Tracking;
using Dapper;

namespace Cairn.Storage;

/// <summary>
/// One metadata database, shared by the stores of each capability over it (<see cref="SqlTrackingStore"/>,
/// <see cref="SqlRegistryStore"/>, and later deployments or predictions): its connections, its write path
/// (SQLite: the one group-committing writer; PostgreSQL: pooled transactions), its schema migrations, the few
/// places where the two SQL dialects differ, and provider error translation. All SQL is parameterized; no caller
/// text reaches the SQL string.
/// </summary>
internal abstract class SqlDatabase : IDisposable
{
    public const string DefaultExperimentId = "0";
    public const string DefaultExperimentName = "Default";

    protected SqlDatabase(string defaultArtifactRoot, TimeProvider timeProvider)
    {
        DefaultArtifactRoot = defaultArtifactRoot.TrimEnd('/');
        TimeProvider = timeProvider;
    }

    /// <summary>Where new experiments put their artifacts: <c>{root}/{experiment id}</c>.</summary>
    public string DefaultArtifactRoot { get; }

    /// <summary>The clock of every timestamp the stores write (creation, update, deletion times).</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>
    /// The grants and run experiments the permission check read recently. Every write that changes a grant empties it after
    /// committing: the permission store's own writes, and a registered model's rename or deletion (whose grants follow by
    /// ON UPDATE/DELETE CASCADE).
    /// </summary>
    public GrantCache Grants { get; } = new();

    /// <summary>Now, in the Unix milliseconds MLflow stores.</summary>
    public long NowMs() => TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    // ---- Dialect ----

    /// <summary>SQL for a case-sensitive LIKE of <paramref name="column"/> against parameter <paramref name="parameter"/>.</summary>
    public abstract string LikeSql(string column, string parameter);

    /// <summary>SQL for a case-insensitive LIKE.</summary>
    public abstract string ILikeSql(string column, string parameter);

    /// <summary>
    /// SQL for <c>column IN values</c>, <paramref name="parameter"/> being bound to <see cref="ListParameter(string[])"/>
    /// of the same values. However long the list, it costs a bounded number of bound parameters: a page of 50,000
    /// runs must not become 50,000 of them (SQLite allows 32,766 per statement).
    /// </summary>
    public abstract string InSql(string column, string parameter, System.Collections.ICollection values, bool negated = false);

    /// <summary>The value to bind to the parameter of <see cref="InSql"/>: the array itself, or its provider's form.</summary>
    public virtual object ListParameter(string[] values) => values;

    /// <inheritdoc cref="ListParameter(string[])"/>
    public virtual object ListParameter(long[] values) => values;

    /// <summary>
    /// Parameters binding <paramref name="name"/> to <see cref="ListParameter(string[])"/> of <paramref name="values"/>, plus
    /// <paramref name="others"/>: built as <see cref="DynamicParameters"/>, which expand a short list by its runtime type
    /// (an anonymous object's property typed object would not be expanded).
    /// </summary>
    public DynamicParameters ListArgs(string name, string[] values, object? others = null)
    {
        var args = new DynamicParameters(others);
        args.Add(name, ListParameter(values));
        return args;
    }

    /// <inheritdoc cref="ListArgs(string, string[], object?)"/>
    public DynamicParameters ListArgs(string name, long[] values)
    {
        var args = new DynamicParameters();
        args.Add(name, ListParameter(values));
        return args;
    }

    /// <summary>
    /// An inner join whose left side the planner must not reorder: SQLite's CROSS JOIN (which takes ON);
    /// PostgreSQL plans a plain JOIN well and rejects CROSS JOIN ... ON.
    /// </summary>
    public virtual string OrderedJoin => " JOIN ";

    /// <summary>
    /// What closes the subquery of a filter's <c>EXISTS (...)</c> term. PostgreSQL turns every top-level EXISTS into a
    /// semi-join and plans them all as one join problem, which took seconds for fifty terms; its override fences the
    /// subquery (<c>OFFSET 0</c>) so each stays a per-row index probe, as SQLite runs it.
    /// </summary>
    public virtual string ExistsEnd => ")";

    /// <summary>
    /// Appended to a SELECT of one row inside a write transaction to lock the row until the transaction ends, for writes
    /// that read before they write (check-then-act). PostgreSQL runs transactions at READ COMMITTED, so without it two
    /// writers both read the old state; SQLite's writes are already serialized by its one writer, so it needs nothing.
    /// </summary>
    public virtual string ForUpdate => "";

    /// <summary>Turns a LIKE pattern into what <see cref="LikeSql"/> expects.</summary>
    public virtual string LikePattern(string pattern) => pattern;

    // ---- Connections and writes ----

    /// <summary>Opens a connection for reading; dispose it to give it back.</summary>
    public abstract ValueTask<DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken);

    /// <summary>Runs <paramref name="work"/> in a write transaction and commits it.</summary>
    public abstract Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken);

    /// <summary>Inserts metric history points (duplicates ignored) and is free to use a faster provider-specific path.</summary>
    public abstract Task InsertMetricHistoryAsync(DbConnection connection, DbTransaction transaction, string runId, IReadOnlyList<Metric> metrics, CancellationToken cancellationToken);

    /// <summary>Whether <paramref name="exception"/> is the provider's unique-constraint violation.</summary>
    public abstract bool IsUniqueViolation(Exception exception);

    /// <summary>Closes the connections (and, for SQLite, drains the writer).</summary>
    public abstract void Dispose();

    /// <summary>NaN cannot be stored in a NOT NULL REAL column (SQLite turns it into NULL), so it is 0 plus is_nan.</summary>
    public static double StoredValue(double value) => double.IsNaN(value) ? 0 : value;

    /// <summary>Maps a provider's unique violation to RESOURCE_ALREADY_EXISTS; other errors pass through.</summary>
    public async Task<T> TranslateAsync<T>(Func<Task<T>> action, string alreadyExistsMessage)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (Exception e) when (IsUniqueViolation(e))
        {
            throw new ResourceAlreadyExistsException(alreadyExistsMessage, e);
        }
    }

    // ---- Schema ----

    /// <summary>Applies the migrations this database lacks and makes sure the Default experiment exists.</summary>
    protected async Task InitializeSchemaAsync(SqlFlavor flavor, CancellationToken cancellationToken)
    {
        await WriteAsync(async (c, tx) =>
        {
            await c.ExecuteAsync(new CommandDefinition(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, description TEXT NOT NULL, applied_time BIGINT NOT NULL)",
                transaction: tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            var current = await c.ExecuteScalarAsync<int?>(new CommandDefinition(
                "SELECT MAX(version) FROM schema_version", transaction: tx, cancellationToken: cancellationToken)).ConfigureAwait(false) ?? 0;
            if (current > Migrations.Latest)
                throw new CairnException(ErrorCode.INTERNAL_ERROR,
                    $"The database schema is at version {current}, newer than this Cairn ({Migrations.Latest}). Upgrade Cairn to open it.");
            // Every migration the database has not recorded, in order: a branch's migration may land after a later-numbered
            // one was applied (numbers are reserved per piece of work), so the highest number alone does not say what is missing.
            var applied = (await c.QueryAsync<long>(new CommandDefinition(
                "SELECT version FROM schema_version", transaction: tx, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToHashSet();
            foreach (var migration in Migrations.All.Where(m => !applied.Contains(m.Version)))
            {
                await c.ExecuteAsync(new CommandDefinition(migration.Sql(flavor), transaction: tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
                await c.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO schema_version (version, description, applied_time) VALUES (@v, @d, @t)",
                    new { v = migration.Version, d = migration.Description, t = NowMs() }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            }
            var hasDefault = await c.ExecuteScalarAsync<long>(new CommandDefinition(
                "SELECT COUNT(*) FROM experiments WHERE experiment_id = 0", transaction: tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (hasDefault == 0)
            {
                var now = NowMs();
                await c.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (0, @name, @loc, 'active', @now, @now)",
                    new { name = DefaultExperimentName, loc = ExperimentArtifactLocation(DefaultExperimentId), now }, tx,
                    cancellationToken: cancellationToken)).ConfigureAwait(false);
            }
            return 0;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The schema version of the open database.</summary>
    public async Task<int> GetSchemaVersionAsync(CancellationToken cancellationToken = default)
    {
        await using var c = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await c.ExecuteScalarAsync<int>(new CommandDefinition("SELECT MAX(version) FROM schema_version", cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>The artifact location of a new experiment that names none.</summary>
    public string ExperimentArtifactLocation(string experimentId) => $"{DefaultArtifactRoot}/{experimentId}";
}
