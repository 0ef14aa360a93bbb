using System.Data.Common;
using Cairn.Artifacts;
using Cairn.Data.Remotes;
using Cairn.Storage.Postgres;
using Cairn.Tracking;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Cairn.Storage;

public static partial class MlflowImporter
{
    /// <summary>One import: the source connection, the target database and what has been mapped so far.</summary>
    private sealed partial class Import(DbConnection source, HashSet<string> tables, SqlDatabase database, IArtifactStore sourceRoot, string artifactsRoot,
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
    }
}
