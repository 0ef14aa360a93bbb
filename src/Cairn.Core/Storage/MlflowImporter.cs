using System.Data.Common;
using Cairn.Artifacts;
using Cairn.Data.Remotes;
using Cairn.Storage.Postgres;
using Cairn.Tracking;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Cairn.Storage;

/// <summary>What <see cref="MlflowImporter"/> found in MLflow and what it wrote: per kind, rows read and rows new to Cairn.</summary>
public sealed class MlflowImportSummary
{
    /// <summary>Kinds in the order they are imported: experiments, runs, params, tags, metric points, datasets, inputs, models, versions, aliases, and the artifact files this import copied.</summary>
    public IReadOnlyList<string> Kinds { get; } =
        ["experiments", "runs", "params", "tags", "metric points", "datasets", "inputs", "registered models", "model versions", "aliases", "artifact files copied"];

    /// <summary>Rows (or files) found in MLflow, per kind.</summary>
    public Dictionary<string, long> Found { get; } = new(StringComparer.Ordinal);

    /// <summary>Rows (or files) written into Cairn by this import, per kind; the rest were there already.</summary>
    public Dictionary<string, long> Imported { get; } = new(StringComparer.Ordinal);

    /// <summary>Artifact bytes copied.</summary>
    public long ArtifactBytes { get; internal set; }

    /// <summary>What was left out and why (an artifact location outside --artifacts-root, say), one line each.</summary>
    public List<string> Warnings { get; } = [];

    internal void Add(string kind, long found, long imported)
    {
        Found[kind] = Found.GetValueOrDefault(kind) + found;
        Imported[kind] = Imported.GetValueOrDefault(kind) + imported;
    }
}

/// <summary>Progress of an import: the run being copied (one step per run) out of all runs.</summary>
public readonly record struct MlflowImportProgress(int RunsDone, int RunsTotal, string Stage);

/// <summary>
/// <c>cairn import mlflow</c>: copies an MLflow 2.x tracking database (SQLite or PostgreSQL, the schema of MLflow's alembic
/// migrations) and its artifacts into a Cairn database, keeping experiment ids, run ids and version numbers.
/// <para>
/// Resumable and idempotent: every row goes in with <c>ON CONFLICT DO NOTHING</c>; a run is written in one transaction after
/// its artifacts are copied, so a run present in Cairn is complete and a second import skips it; a registered model is
/// written in one transaction. An id that Cairn already uses for something else (an experiment id with another name) is
/// refused rather than merged.
/// </para>
/// Artifacts are read from <c>--artifacts-root</c> (a folder or <c>s3://bucket/prefix</c>): MLflow's <c>mlflow-artifacts:/path</c>
/// maps to <c>root/path</c>, and file paths, <c>file:</c> URIs and <c>s3://</c> URIs are read when they lie under the root. They are
/// written below Cairn's own artifact root, and the locations (and model version sources under a run) are rewritten to Cairn's.
/// </summary>
public static class MlflowImporter
{
    private const string ProxyScheme = "mlflow-artifacts:";
    private const int MetricBatch = 5000;

    /// <summary>
    /// Imports into the database behind <paramref name="client"/> (a folder, sqlite:/// or postgresql:// tracking URI, not a server).
    /// <paramref name="s3"/> reaches an <c>s3://</c> <paramref name="artifactsRoot"/> or Cairn's own S3 artifact root.
    /// </summary>
    public static Task<MlflowImportSummary> RunAsync(Cairn.Client.CairnClient client, string backendStoreUri, string artifactsRoot,
        S3ConnectionOptions? s3 = null, IProgress<MlflowImportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        return RunAsync(client.Stores, backendStoreUri, artifactsRoot, s3, progress, cancellationToken);
    }

    /// <summary>Imports into <paramref name="target"/>, a database opened by <see cref="CairnStores.OpenAsync"/> (not a server).</summary>
    public static async Task<MlflowImportSummary> RunAsync(CairnStores target, string backendStoreUri, string artifactsRoot,
        S3ConnectionOptions? s3 = null, IProgress<MlflowImportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (string.IsNullOrWhiteSpace(backendStoreUri)) throw new InvalidParameterValueException("Missing value for required parameter '--backend-store-uri'.");
        if (string.IsNullOrWhiteSpace(artifactsRoot)) throw new InvalidParameterValueException("Missing value for required parameter '--artifacts-root'.");
        var database = target.Database ?? throw new InvalidParameterValueException(
            $"Invalid tracking URI '{target.Uri}' for an import: it names a server; import into its database (a folder, sqlite:///... or postgresql://...).");
        s3 ??= new S3ConnectionOptions();

        await using var source = await OpenSourceAsync(backendStoreUri, cancellationToken).ConfigureAwait(false);
        var tables = await TablesAsync(source, cancellationToken).ConfigureAwait(false);
        foreach (var required in new[] { "alembic_version", "experiments", "runs", "params", "tags", "metrics", "registered_models", "model_versions" })
            if (!tables.Contains(required))
                throw new InvalidParameterValueException($"Invalid value '{Redact(backendStoreUri)}' for '--backend-store-uri': it is not an MLflow 2.x tracking database (no table '{required}').");

        var sourceRoot = ArtifactStores.Open(artifactsRoot, s3);
        using var disposeSource = sourceRoot as IDisposable;
        var cairnRoot = database.DefaultArtifactRoot;
        IArtifactStore proxied = cairnRoot.StartsWith("s3://", StringComparison.OrdinalIgnoreCase)
            ? new S3ArtifactStore(cairnRoot, s3)
            : new LocalArtifactStore(target.LocalArtifactsFolder ?? Path.GetFullPath(Path.Combine(".cairn", "artifacts")));
        using var disposeProxied = proxied as IDisposable;
        var import = new Import(source, tables, database, sourceRoot, artifactsRoot, new ArtifactLocationResolver(proxied), progress, cancellationToken);
        await import.RunAsync().ConfigureAwait(false);
        return import.Summary;
    }

    /// <summary>A connection string or URI with its password hidden, for messages.</summary>
    private static string Redact(string uri)
    {
        var at = uri.IndexOf('@', StringComparison.Ordinal);
        var scheme = uri.IndexOf("://", StringComparison.Ordinal);
        return at > 0 && scheme > 0 && at > scheme ? uri[..(scheme + 3)] + "***" + uri[at..] : uri.Contains("Password", StringComparison.OrdinalIgnoreCase) ? "(connection string)" : uri;
    }

    /// <summary>
    /// Checks that <paramref name="uri"/> names an MLflow store this import reads (<c>sqlite:///path</c>, <c>postgresql://...</c>,
    /// with or without a SQLAlchemy driver such as <c>+psycopg2</c>) and returns it without the driver; nothing is opened.
    /// </summary>
    public static string CheckBackendStoreUri(string uri)
    {
        if (string.IsNullOrWhiteSpace(uri)) throw new InvalidParameterValueException("Missing value for required parameter '--backend-store-uri'.");
        // SQLAlchemy URIs may name a driver (postgresql+psycopg2://); the driver does not matter here.
        var plus = uri.IndexOf('+', StringComparison.Ordinal);
        var scheme = uri.IndexOf("://", StringComparison.Ordinal);
        if (plus > 0 && scheme > plus) uri = uri[..plus] + uri[scheme..];
        if (uri.StartsWith("sqlite:///", StringComparison.OrdinalIgnoreCase) && uri.Length > "sqlite:///".Length)
        {
            var path = uri["sqlite:///".Length..];
            return File.Exists(path) ? uri
                : throw new ResourceDoesNotExistException($"Invalid value '{uri}' for '--backend-store-uri': the SQLite file '{path}' does not exist.");
        }
        if (uri.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || uri.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase))
            return uri;
        throw new InvalidParameterValueException(
            $"Invalid value '{Redact(uri)}' for '--backend-store-uri': use sqlite:////absolute/path/mlflow.db or postgresql://user:password@host:port/database.");
    }

    private static async Task<DbConnection> OpenSourceAsync(string uri, CancellationToken cancellationToken)
    {
        DbConnection connection;
        uri = CheckBackendStoreUri(uri);
        if (uri.StartsWith("sqlite:///", StringComparison.OrdinalIgnoreCase))
        {
            var path = uri["sqlite:///".Length..];
            connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly }.ToString());
        }
        else
        {
            var (npgsql, schema) = PostgresConnection.Parse(uri);
            if (schema is not null) npgsql = new NpgsqlConnectionStringBuilder(npgsql) { SearchPath = schema }.ToString();
            connection = new NpgsqlConnection(npgsql);
        }
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return connection;
    }

    private static async Task<HashSet<string>> TablesAsync(DbConnection c, CancellationToken cancellationToken)
    {
        var sql = c is SqliteConnection
            ? "SELECT name FROM sqlite_master WHERE type = 'table'"
            : "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()";
        return (await c.QueryAsync<string>(new CommandDefinition(sql, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
    }

    // Rows as classes with setters, not positional records: Dapper converts column types into properties (MLflow's INTEGER
    // ids arrive as Int32 from PostgreSQL and as Int64 from SQLite), while constructor matching wants exact types.
#pragma warning disable CA1812 // instantiated by Dapper
    private sealed class ExperimentRow
    {
        public long ExperimentId { get; set; }
        public string Name { get; set; } = "";
        public string? ArtifactLocation { get; set; }
        public string? LifecycleStage { get; set; }
        public long? CreationTime { get; set; }
        public long? LastUpdateTime { get; set; }
    }

    private sealed class ExperimentTagRow
    {
        public long ExperimentId { get; set; }
        public string Key { get; set; } = "";
        public string? Value { get; set; }
    }

    private sealed class ExistingExperiment
    {
        public string Name { get; set; } = "";
        public string ArtifactLocation { get; set; } = "";
    }

    private sealed class RunRow
    {
        public string RunUuid { get; set; } = "";
        public long ExperimentId { get; set; }
        public string? Name { get; set; }
        public string? UserId { get; set; }
        public string? Status { get; set; }
        public long? StartTime { get; set; }
        public long? EndTime { get; set; }
        public long? DeletedTime { get; set; }
        public string? LifecycleStage { get; set; }
        public string? ArtifactUri { get; set; }
    }

    private sealed class KeyValue
    {
        public string Key { get; set; } = "";
        public string? Value { get; set; }
    }

    private sealed class RunCounts
    {
        public long Params { get; set; }
        public long Tags { get; set; }
        public long Metrics { get; set; }
        public long Inputs { get; set; }
    }

    private sealed class DatasetRow
    {
        public string DatasetUuid { get; set; } = "";
        public long ExperimentId { get; set; }
        public string Name { get; set; } = "";
        public string Digest { get; set; } = "";
        public string DatasetSourceType { get; set; } = "";
        public string DatasetSource { get; set; } = "";
        public string? DatasetSchema { get; set; }
        public string? DatasetProfile { get; set; }
    }

    private sealed class InputRow
    {
        public string InputUuid { get; set; } = "";
        public string SourceId { get; set; } = "";
    }

    private sealed class InputTagRow
    {
        public string InputUuid { get; set; } = "";
        public string Name { get; set; } = "";
        public string Value { get; set; } = "";
    }

    private sealed class ModelRow
    {
        public string Name { get; set; } = "";
        public long? CreationTime { get; set; }
        public long? LastUpdatedTime { get; set; }
        public string? Description { get; set; }
    }

    private sealed class VersionRow
    {
        public string Name { get; set; } = "";
        public long Version { get; set; }
        public long? CreationTime { get; set; }
        public long? LastUpdatedTime { get; set; }
        public string? Description { get; set; }
        public string? UserId { get; set; }
        public string? CurrentStage { get; set; }
        public string? Source { get; set; }
        public string? StorageLocation { get; set; }
        public string? RunId { get; set; }
        public string? RunLink { get; set; }
        public string? Status { get; set; }
        public string? StatusMessage { get; set; }
    }

    private sealed class VersionTagRow
    {
        public long Version { get; set; }
        public string Key { get; set; } = "";
        public string? Value { get; set; }
    }

    private sealed class AliasRow
    {
        public string Alias { get; set; } = "";
        public long Version { get; set; }
    }
#pragma warning restore CA1812

    /// <summary>One import: the source connection, the target database and what has been mapped so far.</summary>
    private sealed class Import(DbConnection source, HashSet<string> tables, SqlDatabase database, IArtifactStore sourceRoot, string artifactsRoot,
        ArtifactLocationResolver cairnArtifacts, IProgress<MlflowImportProgress>? progress, CancellationToken ct)
    {
        /// <summary>MLflow experiment id → Cairn artifact location (the same id in both).</summary>
        private readonly Dictionary<long, string> _experimentLocations = [];

        /// <summary>Run id → (MLflow artifact URI, Cairn artifact URI), for rewriting model version sources.</summary>
        private readonly Dictionary<string, (string Mlflow, string Cairn)> _runUris = new(StringComparer.Ordinal);

        /// <summary>MLflow dataset uuid → Cairn dataset uuid (the same unless Cairn had the dataset already).</summary>
        private readonly Dictionary<string, string> _datasets = new(StringComparer.Ordinal);

        public MlflowImportSummary Summary { get; } = new();

        private bool IsPostgres => source is NpgsqlConnection;

        public async Task RunAsync()
        {
            await ExperimentsAsync().ConfigureAwait(false);
            await DatasetsAsync().ConfigureAwait(false);
            await RunsAsync().ConfigureAwait(false);
            await RegistryAsync().ConfigureAwait(false);
        }

        private Task<IEnumerable<T>> ReadAsync<T>(string sql, object? args = null) =>
            source.QueryAsync<T>(new CommandDefinition(sql, args, cancellationToken: ct));

        // ---- Experiments ----

        private async Task ExperimentsAsync()
        {
            var rows = (await ReadAsync<ExperimentRow>(
                "SELECT experiment_id AS ExperimentId, name AS Name, artifact_location AS ArtifactLocation, lifecycle_stage AS LifecycleStage, " +
                "creation_time AS CreationTime, last_update_time AS LastUpdateTime FROM experiments ORDER BY experiment_id").ConfigureAwait(false)).ToList();
            var tags = (await ReadAsync<ExperimentTagRow>(
                "SELECT experiment_id AS ExperimentId, key AS Key, value AS Value FROM experiment_tags").ConfigureAwait(false)).ToLookup(t => t.ExperimentId);
            // Every conflict is found before anything is written: a refused import leaves the store as it was.
            await using (var read = await database.OpenReadConnectionAsync(ct).ConfigureAwait(false))
            {
                var existing = (await read.QueryAsync<ExperimentRow>(new CommandDefinition(
                    "SELECT experiment_id AS ExperimentId, name AS Name FROM experiments", cancellationToken: ct)).ConfigureAwait(false)).ToList();
                var byId = existing.ToDictionary(e => e.ExperimentId, e => e.Name);
                var byName = existing.GroupBy(e => e.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().ExperimentId, StringComparer.Ordinal);
                foreach (var row in rows)
                {
                    if (byId.TryGetValue(row.ExperimentId, out var name) && name != row.Name)
                        throw new InvalidStateException(
                            $"Cannot import MLflow experiment {row.ExperimentId} '{row.Name}': Cairn's experiment {row.ExperimentId} is '{name}'. Ids are kept, so import into a new store or one this import filled.");
                    if (byName.TryGetValue(row.Name, out var id) && id != row.ExperimentId)
                        throw new InvalidStateException(
                            $"Cannot import MLflow experiment {row.ExperimentId} '{row.Name}': Cairn has an experiment of that name with id {id}. Ids are kept, so import into a new store or one this import filled.");
                }
            }
            long imported = 0, tagsImported = 0;
            foreach (var row in rows)
            {
                var (location, isNew) = await database.WriteAsync(async (c, tx) =>
                {
                    var byId = await c.QuerySingleOrDefaultAsync<ExistingExperiment>(new CommandDefinition(
                        "SELECT name AS Name, artifact_location AS ArtifactLocation FROM experiments WHERE experiment_id = @id",
                        new { id = row.ExperimentId }, tx, cancellationToken: ct)).ConfigureAwait(false);
                    if (byId is not null)
                    {
                        if (byId.Name != row.Name)
                            throw new InvalidStateException(
                                $"Cannot import MLflow experiment {row.ExperimentId} '{row.Name}': Cairn's experiment {row.ExperimentId} is '{byId.Name}'. Ids are kept, so import into a new store or one this import filled.");
                        return (byId.ArtifactLocation, false);
                    }
                    var otherId = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
                        "SELECT experiment_id FROM experiments WHERE name = @name", new { name = row.Name }, tx, cancellationToken: ct)).ConfigureAwait(false);
                    if (otherId is { } other)
                        throw new InvalidStateException(
                            $"Cannot import MLflow experiment {row.ExperimentId} '{row.Name}': Cairn has an experiment of that name with id {other}. Ids are kept, so import into a new store or one this import filled.");
                    var loc = database.ExperimentArtifactLocation(row.ExperimentId.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    var deleted = row.LifecycleStage == "deleted";
                    await c.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, deleted_time) " +
                        "VALUES (@id, @name, @loc, @stage, @created, @updated, @deletedTime)",
                        new
                        {
                            id = row.ExperimentId, name = row.Name, loc, stage = deleted ? "deleted" : "active", created = row.CreationTime, updated = row.LastUpdateTime,
                            deletedTime = deleted ? row.LastUpdateTime ?? database.NowMs() : (long?)null,
                        }, tx, cancellationToken: ct)).ConfigureAwait(false);
                    if (IsPostgresTarget(c))
                        await c.ExecuteAsync(new CommandDefinition(
                            "SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), GREATEST((SELECT MAX(experiment_id) FROM experiments), 1))",
                            transaction: tx, cancellationToken: ct)).ConfigureAwait(false);
                    return (loc, true);
                }, ct).ConfigureAwait(false);
                if (isNew) imported++;
                _experimentLocations[row.ExperimentId] = location;
                var experimentTags = tags[row.ExperimentId].ToList();
                if (experimentTags.Count > 0)
                    tagsImported += await database.WriteAsync((c, tx) => c.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (@ExperimentId, @Key, @Value) ON CONFLICT DO NOTHING",
                        experimentTags.Select(t => new { t.ExperimentId, t.Key, Value = t.Value ?? "" }), tx, cancellationToken: ct)), ct).ConfigureAwait(false);
            }
            Summary.Add("experiments", rows.Count, imported);
            Summary.Add("tags", tags.Sum(g => g.Count()), tagsImported);
        }

        private static bool IsPostgresTarget(DbConnection c) => c is NpgsqlConnection;

        // ---- Datasets ----

        private async Task DatasetsAsync()
        {
            if (!tables.Contains("datasets")) return;
            var rows = (await ReadAsync<DatasetRow>(
                "SELECT dataset_uuid AS DatasetUuid, experiment_id AS ExperimentId, name AS Name, digest AS Digest, dataset_source_type AS DatasetSourceType, " +
                "dataset_source AS DatasetSource, dataset_schema AS DatasetSchema, dataset_profile AS DatasetProfile FROM datasets").ConfigureAwait(false)).ToList();
            long imported = 0;
            foreach (var chunk in rows.Chunk(500))
            {
                imported += await database.WriteAsync(async (c, tx) =>
                {
                    var n = 0;
                    foreach (var d in chunk)
                    {
                        n += await c.ExecuteAsync(new CommandDefinition(
                            "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source, schema_json, profile) " +
                            "VALUES (@DatasetUuid, @ExperimentId, @Name, @Digest, @DatasetSourceType, @DatasetSource, @DatasetSchema, @DatasetProfile) ON CONFLICT DO NOTHING",
                            d, tx, cancellationToken: ct)).ConfigureAwait(false);
                        // Cairn may know the same dataset (experiment, name, digest) under another uuid: inputs point at Cairn's.
                        _datasets[d.DatasetUuid] = await c.ExecuteScalarAsync<string>(new CommandDefinition(
                            "SELECT dataset_uuid FROM datasets WHERE experiment_id = @ExperimentId AND name = @Name AND digest = @Digest",
                            d, tx, cancellationToken: ct)).ConfigureAwait(false) ?? d.DatasetUuid;
                    }
                    return n;
                }, ct).ConfigureAwait(false);
            }
            Summary.Add("datasets", rows.Count, imported);
        }

        // ---- Runs ----

        private async Task RunsAsync()
        {
            var runs = (await ReadAsync<RunRow>(
                "SELECT run_uuid AS RunUuid, experiment_id AS ExperimentId, name AS Name, user_id AS UserId, status AS Status, start_time AS StartTime, " +
                "end_time AS EndTime, deleted_time AS DeletedTime, lifecycle_stage AS LifecycleStage, artifact_uri AS ArtifactUri FROM runs ORDER BY start_time, run_uuid")
                .ConfigureAwait(false)).ToList();
            HashSet<string> present;
            await using (var c = await database.OpenReadConnectionAsync(ct).ConfigureAwait(false))
                present = (await c.QueryAsync<string>(new CommandDefinition("SELECT run_uuid FROM runs", cancellationToken: ct)).ConfigureAwait(false))
                    .ToHashSet(StringComparer.Ordinal);
            long imported = 0;
            for (var i = 0; i < runs.Count; i++)
            {
                var run = runs[i];
                progress?.Report(new MlflowImportProgress(i, runs.Count, $"run {run.RunUuid}"));
                ct.ThrowIfCancellationRequested();
                if (!_experimentLocations.TryGetValue(run.ExperimentId, out var experimentLocation))
                {
                    Summary.Warnings.Add($"run {run.RunUuid}: its experiment {run.ExperimentId} is not in the MLflow database; left out.");
                    continue;
                }
                var cairnUri = $"{experimentLocation.TrimEnd('/')}/{run.RunUuid}/artifacts";
                _runUris[run.RunUuid] = (run.ArtifactUri ?? "", cairnUri);
                if (present.Contains(run.RunUuid))
                {
                    await CountRunAsync(run.RunUuid).ConfigureAwait(false);
                    continue;
                }
                // Artifacts first: a run row in Cairn means its artifacts are there too, so a resumed import skips it.
                try
                {
                    await CopyArtifactsAsync(run, cairnUri).ConfigureAwait(false);
                }
                catch (InvalidParameterValueException e)
                {
                    // A location or listed path that would lead outside --artifacts-root (.., a symbolic link out): nothing of it is read.
                    Summary.Warnings.Add($"run {run.RunUuid}: artifacts not copied: {e.Message}");
                }
                await ImportRunAsync(run, cairnUri).ConfigureAwait(false);
                imported++;
            }
            progress?.Report(new MlflowImportProgress(runs.Count, runs.Count, "registry"));
            Summary.Add("runs", runs.Count, imported);
        }

        /// <summary>The rows of a run that was imported before, counted as found and not imported.</summary>
        private async Task CountRunAsync(string runId)
        {
            var counts = await source.QuerySingleAsync<RunCounts>(new CommandDefinition(
                "SELECT (SELECT COUNT(*) FROM params WHERE run_uuid = @runId) AS Params, (SELECT COUNT(*) FROM tags WHERE run_uuid = @runId) AS Tags, " +
                "(SELECT COUNT(*) FROM metrics WHERE run_uuid = @runId) AS Metrics, " +
                (tables.Contains("inputs") ? "(SELECT COUNT(*) FROM inputs WHERE destination_type = 'RUN' AND destination_id = @runId AND source_type = 'DATASET')" : "0") + " AS Inputs",
                new { runId }, cancellationToken: ct)).ConfigureAwait(false);
            Summary.Add("params", counts.Params, 0);
            Summary.Add("tags", counts.Tags, 0);
            Summary.Add("metric points", counts.Metrics, 0);
            Summary.Add("inputs", counts.Inputs, 0);
        }

        private async Task ImportRunAsync(RunRow run, string cairnUri)
        {
            var runId = run.RunUuid;
            var parameters = (await ReadAsync<KeyValue>("SELECT key AS Key, value AS Value FROM params WHERE run_uuid = @runId", new { runId }).ConfigureAwait(false)).ToList();
            var tags = (await ReadAsync<KeyValue>("SELECT key AS Key, value AS Value FROM tags WHERE run_uuid = @runId", new { runId }).ConfigureAwait(false)).ToList();
            var inputs = tables.Contains("inputs")
                ? (await ReadAsync<InputRow>(
                    "SELECT input_uuid AS InputUuid, source_id AS SourceId FROM inputs WHERE destination_type = 'RUN' AND destination_id = @runId AND source_type = 'DATASET'",
                    new { runId }).ConfigureAwait(false)).ToList()
                : [];
            var inputTags = tables.Contains("input_tags") && inputs.Count > 0
                ? (await ReadAsync<InputTagRow>(
                    "SELECT t.input_uuid AS InputUuid, t.name AS Name, t.value AS Value FROM input_tags t JOIN inputs i ON i.input_uuid = t.input_uuid " +
                    "WHERE i.destination_type = 'RUN' AND i.destination_id = @runId", new { runId }).ConfigureAwait(false)).ToList()
                : [];
            // The metric history streams in batches rather than as one list: a run may hold millions of points.
            var metrics = await source.ExecuteReaderAsync(new CommandDefinition(
                "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = @runId", new { runId }, cancellationToken: ct)).ConfigureAwait(false);
            long points = 0, paramCount = 0, tagCount = 0, inputCount = 0;
            await using (metrics)
            {
                await database.WriteAsync(async (c, tx) =>
                {
                    var deleted = run.LifecycleStage == "deleted";
                    await c.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage, deleted_time) " +
                        "VALUES (@runId, @experimentId, @name, @userId, @status, @start, @end, @uri, @stage, @deletedTime) ON CONFLICT DO NOTHING",
                        new
                        {
                            runId, experimentId = run.ExperimentId, name = run.Name ?? "", userId = run.UserId,
                            status = Enum.TryParse<RunStatus>(run.Status, out var status) ? status.ToString() : nameof(RunStatus.FINISHED),
                            start = run.StartTime ?? 0, end = run.EndTime, uri = cairnUri, stage = deleted ? "deleted" : "active",
                            deletedTime = deleted ? run.DeletedTime ?? run.EndTime ?? database.NowMs() : (long?)null,
                        }, tx, cancellationToken: ct)).ConfigureAwait(false);
                    paramCount = await c.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO params (run_uuid, key, value) VALUES (@runId, @Key, @Value) ON CONFLICT DO NOTHING",
                        parameters.Select(p => new { runId, p.Key, Value = p.Value ?? "" }), tx, cancellationToken: ct)).ConfigureAwait(false);
                    tagCount = await c.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO tags (run_uuid, key, value) VALUES (@runId, @Key, @Value) ON CONFLICT DO NOTHING",
                        tags.Select(t => new { runId, t.Key, Value = t.Value ?? "" }), tx, cancellationToken: ct)).ConfigureAwait(false);
                    var batch = new List<Metric>(MetricBatch);
                    while (await metrics.ReadAsync(ct).ConfigureAwait(false))
                    {
                        var isNan = Convert.ToBoolean(metrics.GetValue(4), System.Globalization.CultureInfo.InvariantCulture);
                        batch.Add(new Metric(metrics.GetString(0), isNan ? double.NaN : metrics.GetDouble(1),
                            metrics.IsDBNull(2) ? 0 : metrics.GetInt64(2), metrics.GetInt64(3)));
                        if (batch.Count == MetricBatch)
                        {
                            await database.InsertMetricHistoryAsync(c, tx, runId, batch, ct).ConfigureAwait(false);
                            points += batch.Count;
                            batch.Clear();
                        }
                    }
                    if (batch.Count > 0) await database.InsertMetricHistoryAsync(c, tx, runId, batch, ct).ConfigureAwait(false);
                    points += batch.Count;
                    // The latest point per key, chosen as Cairn chooses it when metrics are logged.
                    await c.ExecuteAsync(new CommandDefinition("""
                        INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan)
                        SELECT run_uuid, key, value, timestamp, step, is_nan FROM (
                            SELECT m.*, ROW_NUMBER() OVER (PARTITION BY run_uuid, key ORDER BY step DESC, timestamp DESC, is_nan ASC, value DESC) AS rn
                            FROM metrics m WHERE run_uuid = @runId) ranked
                        WHERE rn = 1
                        ON CONFLICT DO NOTHING
                        """, new { runId }, tx, cancellationToken: ct)).ConfigureAwait(false);
                    foreach (var input in inputs)
                    {
                        if (!_datasets.TryGetValue(input.SourceId, out var dataset)) continue;
                        inputCount += await c.ExecuteAsync(new CommandDefinition(
                            "INSERT INTO inputs (run_uuid, dataset_uuid) VALUES (@runId, @dataset) ON CONFLICT DO NOTHING",
                            new { runId, dataset }, tx, cancellationToken: ct)).ConfigureAwait(false);
                        await c.ExecuteAsync(new CommandDefinition(
                            "INSERT INTO input_tags (run_uuid, dataset_uuid, key, value) VALUES (@runId, @dataset, @Name, @Value) ON CONFLICT DO NOTHING",
                            inputTags.Where(t => t.InputUuid == input.InputUuid).Select(t => new { runId, dataset, t.Name, t.Value }), tx, cancellationToken: ct)).ConfigureAwait(false);
                    }
                    return 0;
                }, ct).ConfigureAwait(false);
            }
            Summary.Add("params", parameters.Count, paramCount);
            Summary.Add("tags", tags.Count, tagCount);
            Summary.Add("metric points", points, points);
            Summary.Add("inputs", inputs.Count, inputCount);
        }

        // ---- Artifacts ----

        /// <summary>
        /// The store and path under --artifacts-root that an MLflow location names, or null (with the reason) when it lies
        /// elsewhere. Every path is checked by <see cref="ArtifactPath.Normalize"/>; the local store also refuses symbolic links out of the root.
        /// </summary>
        private (string? Path, string? Why) SourcePath(string uri)
        {
            if (uri.Length == 0) return (null, "it has no artifact location");
            if (uri.StartsWith(ProxyScheme, StringComparison.OrdinalIgnoreCase))
            {
                var rest = uri[ProxyScheme.Length..];
                if (rest.StartsWith("//", StringComparison.Ordinal))
                {
                    var slash = rest.IndexOf('/', 2);
                    rest = slash < 0 ? "" : rest[slash..];
                }
                return (ArtifactPath.Normalize(rest.TrimStart('/'), "artifact_uri"), null);
            }
            if (uri.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
            {
                if (sourceRoot is not S3ArtifactStore s3 || S3Connection.ParseUrl(uri) is not { } parsed || parsed.Bucket != s3.Bucket)
                    return (null, $"'{uri}' is not under --artifacts-root {artifactsRoot}");
                var key = ArtifactPath.Normalize(parsed.Prefix, "artifact_uri");
                if (s3.Prefix.Length == 0) return (key, null);
                return key == s3.Prefix ? ("", null)
                    : key.StartsWith(s3.Prefix + "/", StringComparison.Ordinal) ? (key[(s3.Prefix.Length + 1)..], null)
                    : (null, $"'{uri}' is not under --artifacts-root {artifactsRoot}");
            }
            string local;
            if (uri.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
            {
                if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || !parsed.IsFile) return (null, $"'{uri}' is not a local file: URI");
                local = parsed.LocalPath;
            }
            else if (uri.Contains("://", StringComparison.Ordinal))
            {
                return (null, $"'{uri}' uses a scheme the import does not read (only mlflow-artifacts:, file:, s3:// and folders)");
            }
            else
            {
                local = uri;
            }
            if (sourceRoot is not LocalArtifactStore)
                return (null, $"'{uri}' is a local path, but --artifacts-root {artifactsRoot} is not a folder");
            var root = Path.GetFullPath(artifactsRoot.StartsWith("file:", StringComparison.OrdinalIgnoreCase) ? new Uri(artifactsRoot).LocalPath : artifactsRoot);
            var full = Path.GetFullPath(local);
            var relative = Path.GetRelativePath(root, full);
            if (relative == ".") return ("", null);
            if (Path.IsPathRooted(relative) || relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                return (null, $"'{uri}' is not under --artifacts-root {artifactsRoot}");
            return (ArtifactPath.Normalize(relative.Replace(Path.DirectorySeparatorChar, '/'), "artifact_uri"), null);
        }

        private async Task CopyArtifactsAsync(RunRow run, string cairnUri)
        {
            var (path, why) = SourcePath(run.ArtifactUri ?? "");
            if (path is null)
            {
                Summary.Warnings.Add($"run {run.RunUuid}: artifacts not copied: {why}.");
                return;
            }
            var target = cairnArtifacts.Resolve(cairnUri);
            long files = 0;
            var pending = new Stack<string>();
            pending.Push("");
            while (pending.Count > 0)
            {
                var folder = pending.Pop();
                foreach (var entry in await sourceRoot.ListAsync(ArtifactPath.Join(path, folder), ct).ConfigureAwait(false))
                {
                    // A listing names entries below the folder it lists; only the last segment is taken, and checked.
                    var relative = ArtifactPath.Join(folder, ArtifactPath.Normalize(ArtifactPath.FileName(entry.Path), "artifact path"));
                    if (entry.IsDir)
                    {
                        pending.Push(relative);
                        continue;
                    }
                    await using var input = await sourceRoot.OpenReadAsync(ArtifactPath.Join(path, relative), ct).ConfigureAwait(false);
                    Summary.ArtifactBytes += await target.Store.WriteAsync(target.PathOf(relative), input, ct).ConfigureAwait(false);
                    files++;
                }
            }
            Summary.Add("artifact files copied", files, files);
        }

        // ---- Registry ----

        private async Task RegistryAsync()
        {
            var models = (await ReadAsync<ModelRow>(
                "SELECT name AS Name, creation_time AS CreationTime, last_updated_time AS LastUpdatedTime, description AS Description FROM registered_models ORDER BY name")
                .ConfigureAwait(false)).ToList();
            long modelsImported = 0;
            foreach (var model in models)
            {
                ct.ThrowIfCancellationRequested();
                var name = model.Name;
                // Versions MLflow deleted stay in its table as 'Deleted_Internal' until the model goes; they are not imported.
                var versions = (await ReadAsync<VersionRow>(
                    "SELECT name AS Name, version AS Version, creation_time AS CreationTime, last_updated_time AS LastUpdatedTime, description AS Description, " +
                    "user_id AS UserId, current_stage AS CurrentStage, source AS Source, storage_location AS StorageLocation, run_id AS RunId, run_link AS RunLink, " +
                    "status AS Status, status_message AS StatusMessage FROM model_versions WHERE name = @name ORDER BY version", new { name }).ConfigureAwait(false)).ToList();
                var maxVersion = versions.Count == 0 ? 0 : versions.Max(v => v.Version);
                versions.RemoveAll(v => v.CurrentStage == "Deleted_Internal");
                var modelTags = tables.Contains("registered_model_tags")
                    ? (await ReadAsync<KeyValue>("SELECT key AS Key, value AS Value FROM registered_model_tags WHERE name = @name", new { name }).ConfigureAwait(false)).ToList()
                    : [];
                var versionTags = tables.Contains("model_version_tags")
                    ? (await ReadAsync<VersionTagRow>("SELECT version AS Version, key AS Key, value AS Value FROM model_version_tags WHERE name = @name", new { name }).ConfigureAwait(false))
                        .Where(t => versions.Any(v => v.Version == t.Version)).ToList()
                    : [];
                var aliases = tables.Contains("registered_model_aliases")
                    ? (await ReadAsync<AliasRow>("SELECT alias AS Alias, version AS Version FROM registered_model_aliases WHERE name = @name", new { name }).ConfigureAwait(false))
                        .Where(a => versions.Any(v => v.Version == a.Version)).ToList()
                    : [];
                var (isNew, versionsNew, aliasesNew, tagsNew) = await database.WriteAsync(async (c, tx) =>
                {
                    var created = model.CreationTime ?? database.NowMs();
                    var n = await c.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO registered_models (name, creation_time, last_updated_time, description, next_version) VALUES (@name, @created, @updated, @description, @next) ON CONFLICT DO NOTHING",
                        new { name, created, updated = model.LastUpdatedTime ?? created, description = model.Description, next = maxVersion + 1 }, tx, cancellationToken: ct)).ConfigureAwait(false);
                    await c.ExecuteAsync(new CommandDefinition(
                        "UPDATE registered_models SET next_version = @next WHERE name = @name AND next_version < @next",
                        new { name, next = maxVersion + 1 }, tx, cancellationToken: ct)).ConfigureAwait(false);
                    var tagsInserted = await c.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO registered_model_tags (name, key, value) VALUES (@name, @Key, @Value) ON CONFLICT DO NOTHING",
                        modelTags.Select(t => new { name, t.Key, Value = t.Value ?? "" }), tx, cancellationToken: ct)).ConfigureAwait(false);
                    var v = await c.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, source, storage_location, run_id, run_link, status, status_message) " +
                        "VALUES (@Name, @Version, @CreationTime, @LastUpdatedTime, @Description, @UserId, @CurrentStage, @Source, @StorageLocation, @RunId, @RunLink, @Status, @StatusMessage) ON CONFLICT DO NOTHING",
                        versions.Select(x =>
                        {
                            var source = Rewrite(x.Source ?? "", x.RunId);
                            return new
                            {
                                x.Name, x.Version, CreationTime = x.CreationTime ?? created, LastUpdatedTime = x.LastUpdatedTime ?? x.CreationTime ?? created, x.Description,
                                x.UserId, CurrentStage = x.CurrentStage ?? "None", Source = source,
                                StorageLocation = x.StorageLocation is { Length: > 0 } storage ? Rewrite(storage, x.RunId) : source,
                                RunId = string.IsNullOrEmpty(x.RunId) ? null : x.RunId, x.RunLink, Status = x.Status ?? "READY", x.StatusMessage,
                            };
                        }), tx, cancellationToken: ct)).ConfigureAwait(false);
                    tagsInserted += await c.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO model_version_tags (name, version, key, value) VALUES (@name, @Version, @Key, @Value) ON CONFLICT DO NOTHING",
                        versionTags.Select(t => new { name, t.Version, t.Key, Value = t.Value ?? "" }), tx, cancellationToken: ct)).ConfigureAwait(false);
                    var a = await c.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO registered_model_aliases (name, alias, version) VALUES (@name, @Alias, @Version) ON CONFLICT DO NOTHING",
                        aliases.Select(x => new { name, x.Alias, x.Version }), tx, cancellationToken: ct)).ConfigureAwait(false);
                    return (n > 0, v, a, tagsInserted);
                }, ct).ConfigureAwait(false);
                if (isNew) modelsImported++;
                Summary.Add("model versions", versions.Count, versionsNew);
                Summary.Add("aliases", aliases.Count, aliasesNew);
                Summary.Add("tags", modelTags.Count + versionTags.Count, tagsNew);
            }
            Summary.Add("registered models", models.Count, modelsImported);
        }

        /// <summary>A location under an imported run's MLflow artifact URI, moved under the run's Cairn artifact URI; anything else unchanged.</summary>
        private string Rewrite(string location, string? runId)
        {
            IEnumerable<(string Mlflow, string Cairn)> candidates = runId is { Length: > 0 } && _runUris.TryGetValue(runId, out var own) ? [own] : _runUris.Values;
            foreach (var (mlflow, cairn) in candidates)
            {
                var root = mlflow.TrimEnd('/');
                if (root.Length == 0) continue;
                if (location.TrimEnd('/') == root) return cairn;
                if (location.StartsWith(root + "/", StringComparison.Ordinal)) return cairn + location[root.Length..];
            }
            return location;
        }
    }
}
