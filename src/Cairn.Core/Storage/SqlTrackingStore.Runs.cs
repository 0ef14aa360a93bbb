using System.Data.Common;
using Cairn.Tracking;
using Dapper;

namespace Cairn.Storage;

internal sealed partial class SqlTrackingStore
{
    private sealed record RunRow(string RunUuid, long ExperimentId, string Name, string? UserId, string Status, long StartTime, long? EndTime, string ArtifactUri, string LifecycleStage);

    private const string RunColumns =
        "r.run_uuid AS RunUuid, r.experiment_id AS ExperimentId, r.name AS Name, r.user_id AS UserId, r.status AS Status, r.start_time AS StartTime, r.end_time AS EndTime, r.artifact_uri AS ArtifactUri, r.lifecycle_stage AS LifecycleStage";

    public async Task<Run> CreateRunAsync(CreateRunRequest request, CancellationToken cancellationToken = default)
    {
        var experimentId = ParseExperimentId(request.ExperimentId);
        var tags = (request.Tags ?? []).ToList();
        foreach (var tag in tags) TrackingValidator.ValidateTag(tag);
        // The run name and the mlflow.runName tag are one value: either may be given, and they must agree.
        var tagName = tags.LastOrDefault(t => t.Key == SystemTags.RunName)?.Value;
        if (request.RunName is { Length: > 0 } && tagName is not null && tagName != request.RunName)
            throw new InvalidParameterValueException($"Both 'run_name' ('{request.RunName}') and tag '{SystemTags.RunName}' ('{tagName}') were given with different values.");
        var runName = request.RunName is { Length: > 0 } ? request.RunName : tagName ?? RunNames.Next();
        tags.RemoveAll(t => t.Key == SystemTags.RunName);
        tags.Add(new RunTag(SystemTags.RunName, runName));
        var userId = request.UserId ?? tags.LastOrDefault(t => t.Key == SystemTags.User)?.Value;
        var runId = Guid.NewGuid().ToString("N");
        var startTime = request.StartTime ?? NowMs();

        var storedTags = tags.DistinctBy(t => t.Key).OrderBy(t => t.Key, StringComparer.Ordinal).ToList();
        var artifactUri = await WriteAsync(async (c, tx) =>
        {
            var experiment = await c.QuerySingleOrDefaultAsync<ExperimentRow>(new CommandDefinition(
                $"SELECT {ExperimentColumns} FROM experiments WHERE experiment_id = @experimentId", new { experimentId }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)
                ?? throw new ResourceDoesNotExistException($"No Experiment with id={request.ExperimentId} exists");
            // MLflow's _check_experiment_is_active: INVALID_PARAMETER_VALUE, with this message.
            if (experiment.LifecycleStage != "active")
                throw new InvalidParameterValueException($"The experiment {request.ExperimentId} must be in the 'active' state. Current state is {experiment.LifecycleStage}.");
            var artifactUri = $"{experiment.ArtifactLocation.TrimEnd('/')}/{runId}/artifacts";
            await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage) VALUES (@runId, @experimentId, @runName, @userId, 'RUNNING', @startTime, NULL, @artifactUri, 'active')",
                new { runId, experimentId, runName, userId, startTime, artifactUri }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            await UpsertTagsAsync(c, tx, runId, storedTags, cancellationToken).ConfigureAwait(false);
            return artifactUri;
        }, cancellationToken).ConfigureAwait(false);
        // Everything a new run holds is known here; no need to read it back.
        return new Run(
            new RunInfo(runId, request.ExperimentId, runName, userId, RunStatus.RUNNING, startTime, null, artifactUri, LifecycleStage.Active),
            new RunData([], [], storedTags), []);
    }

    public async Task<Run> GetRunAsync(string runId, CancellationToken cancellationToken = default)
    {
        TrackingValidator.ValidateRunId(runId);
        await using var c = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var row = await c.QuerySingleOrDefaultAsync<RunRow>(new CommandDefinition(
            $"SELECT {RunColumns} FROM runs r WHERE r.run_uuid = @runId", new { runId }, cancellationToken: cancellationToken)).ConfigureAwait(false)
            ?? throw RunNotFound(runId);
        return (await LoadRunsAsync(c, [row], cancellationToken).ConfigureAwait(false))[0];
    }

    public async Task<RunInfo> UpdateRunAsync(string runId, RunStatus? status = null, long? endTime = null, string? runName = null, CancellationToken cancellationToken = default)
    {
        TrackingValidator.ValidateRunId(runId);
        if (runName is not null) TrackingValidator.ValidateTag(new RunTag(SystemTags.RunName, runName));
        return await WriteAsync(async (c, tx) =>
        {
            var row = await RequireActiveRunAsync(c, tx, runId, cancellationToken).ConfigureAwait(false);
            var name = string.IsNullOrEmpty(runName) ? null : runName;
            await c.ExecuteAsync(new CommandDefinition(
                "UPDATE runs SET status = COALESCE(@status, status), end_time = COALESCE(@endTime, end_time), name = COALESCE(@name, name) WHERE run_uuid = @runId",
                new { status = status?.ToString(), endTime, name, runId }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (name is not null)
                await UpsertTagsAsync(c, tx, runId, [new RunTag(SystemTags.RunName, name)], cancellationToken).ConfigureAwait(false);
            // The row as updated, read in the same transaction: no second read of the run and its data.
            return ToInfo(row with { Status = status?.ToString() ?? row.Status, EndTime = endTime ?? row.EndTime, Name = name ?? row.Name });
        }, cancellationToken).ConfigureAwait(false);
    }

    private static RunInfo ToInfo(RunRow r) =>
        new(r.RunUuid, r.ExperimentId.ToString(System.Globalization.CultureInfo.InvariantCulture), r.Name, r.UserId,
            Enum.Parse<RunStatus>(r.Status), r.StartTime, r.EndTime, r.ArtifactUri, ParseStage(r.LifecycleStage));

    public Task DeleteRunAsync(string runId, CancellationToken cancellationToken = default) => SetRunStageAsync(runId, "deleted", cancellationToken);

    public Task RestoreRunAsync(string runId, CancellationToken cancellationToken = default) => SetRunStageAsync(runId, "active", cancellationToken);

    private Task SetRunStageAsync(string runId, string stage, CancellationToken cancellationToken)
    {
        TrackingValidator.ValidateRunId(runId);
        return WriteAsync(async (c, tx) =>
        {
            var row = await c.QuerySingleOrDefaultAsync<RunRow>(new CommandDefinition(
                $"SELECT {RunColumns} FROM runs r WHERE r.run_uuid = @runId", new { runId }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)
                ?? throw RunNotFound(runId);
            if (stage == "active")
            {
                var experimentStage = await c.ExecuteScalarAsync<string>(new CommandDefinition(
                    "SELECT lifecycle_stage FROM experiments WHERE experiment_id = @id", new { id = row.ExperimentId }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
                if (experimentStage != "active")
                    throw new InvalidStateException($"Cannot restore run {runId}: its experiment {row.ExperimentId} is deleted. Restore the experiment first.");
            }
            long? deletedTime = stage == "deleted" ? NowMs() : null;
            await c.ExecuteAsync(new CommandDefinition(
                "UPDATE runs SET lifecycle_stage = @stage, deleted_time = @deletedTime WHERE run_uuid = @runId",
                new { stage, deletedTime, runId }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return 0;
        }, cancellationToken);
    }

    public Task LogBatchAsync(string runId, IReadOnlyList<Metric>? metrics = null, IReadOnlyList<Param>? parameters = null, IReadOnlyList<RunTag>? tags = null, CancellationToken cancellationToken = default)
    {
        TrackingValidator.ValidateRunId(runId);
        metrics ??= [];
        parameters ??= [];
        tags ??= [];
        TrackingValidator.ValidateBatch(metrics, parameters, tags);
        if (metrics.Count + parameters.Count + tags.Count == 0) return Task.CompletedTask;

        return WriteAsync(async (c, tx) =>
        {
            await RequireActiveRunAsync(c, tx, runId, cancellationToken).ConfigureAwait(false);
            if (parameters.Count > 0) await InsertParamsAsync(c, tx, runId, parameters, cancellationToken).ConfigureAwait(false);
            if (metrics.Count > 0)
            {
                await Database.InsertMetricHistoryAsync(c, tx, runId, metrics, cancellationToken).ConfigureAwait(false);
                await UpsertLatestMetricsAsync(c, tx, runId, metrics, cancellationToken).ConfigureAwait(false);
            }
            if (tags.Count > 0)
            {
                // The last value of a key in one batch wins, as if the tags were set one by one.
                var distinct = tags.Reverse().DistinctBy(t => t.Key).ToList();
                await UpsertTagsAsync(c, tx, runId, distinct, cancellationToken).ConfigureAwait(false);
                var runName = distinct.FirstOrDefault(t => t.Key == SystemTags.RunName);
                if (runName is not null && runName.Value.Length > 0)
                    await c.ExecuteAsync(new CommandDefinition("UPDATE runs SET name = @name WHERE run_uuid = @runId",
                        new { name = runName.Value, runId }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            }
            return 0;
        }, cancellationToken);
    }

    public Task DeleteTagAsync(string runId, string key, CancellationToken cancellationToken = default)
    {
        TrackingValidator.ValidateRunId(runId);
        TrackingValidator.ValidateKey(key, "tag");
        return WriteAsync(async (c, tx) =>
        {
            await RequireActiveRunAsync(c, tx, runId, cancellationToken).ConfigureAwait(false);
            var n = await c.ExecuteAsync(new CommandDefinition("DELETE FROM tags WHERE run_uuid = @runId AND key = @key",
                new { runId, key }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (n == 0) throw new ResourceDoesNotExistException($"No tag with name: {key} in run with id {runId}");
            return 0;
        }, cancellationToken);
    }

    public Task LogInputsAsync(string runId, IReadOnlyList<DatasetInput> inputs, CancellationToken cancellationToken = default)
    {
        TrackingValidator.ValidateRunId(runId);
        foreach (var input in inputs) TrackingValidator.ValidateDatasetInput(input);
        if (inputs.Count == 0) return Task.CompletedTask;
        return WriteAsync(async (c, tx) =>
        {
            var run = await RequireActiveRunAsync(c, tx, runId, cancellationToken).ConfigureAwait(false);
            foreach (var input in inputs)
            {
                var d = input.Dataset;
                // Insert-if-absent, then read: two runs logging the same new dataset at once both end up with the one row
                // (on PostgreSQL the second insert waits for the first and does nothing, where check-then-insert failed on
                // the unique key). The first logged description of a dataset is kept, as MLflow does.
                await c.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source, schema_json, profile) VALUES (@newId, @experimentId, @Name, @Digest, @SourceType, @Source, @Schema, @Profile) ON CONFLICT (experiment_id, name, digest) DO NOTHING",
                    new { newId = Guid.NewGuid().ToString("N"), experimentId = run.ExperimentId, d.Name, d.Digest, d.SourceType, d.Source, d.Schema, d.Profile }, tx,
                    cancellationToken: cancellationToken)).ConfigureAwait(false);
                var datasetId = await c.ExecuteScalarAsync<string>(new CommandDefinition(
                    "SELECT dataset_uuid FROM datasets WHERE experiment_id = @experimentId AND name = @Name AND digest = @Digest",
                    new { experimentId = run.ExperimentId, d.Name, d.Digest }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
                await c.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO inputs (run_uuid, dataset_uuid) VALUES (@runId, @datasetId) ON CONFLICT (run_uuid, dataset_uuid) DO NOTHING",
                    new { runId, datasetId }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
                if (input.Tags.Count > 0)
                    await c.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO input_tags (run_uuid, dataset_uuid, key, value) VALUES (@runId, @datasetId, @Key, @Value) ON CONFLICT (run_uuid, dataset_uuid, key) DO UPDATE SET value = excluded.value",
                        input.Tags.Select(t => new { runId, datasetId, t.Key, t.Value }), tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            }
            return 0;
        }, cancellationToken);
    }

    public Task RecordLoggedModelAsync(string runId, string modelJson, CancellationToken cancellationToken = default)
    {
        TrackingValidator.ValidateRunId(runId);
        var model = TrackingValidator.ValidateLoggedModel(modelJson);
        return WriteAsync(async (c, tx) =>
        {
            // Read, append and write back under the run's row lock: concurrent calls append one after another instead
            // of each writing back the history it read (and losing the others' entries).
            await RequireActiveRunAsync(c, tx, runId, cancellationToken, Database.ForUpdate).ConfigureAwait(false);
            var history = await c.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT value FROM tags WHERE run_uuid = @runId AND key = @key", new { runId, key = SystemTags.LoggedModels }, tx,
                cancellationToken: cancellationToken)).ConfigureAwait(false);
            var list = history is null ? [] : System.Text.Json.Nodes.JsonNode.Parse(history) as System.Text.Json.Nodes.JsonArray ?? [];
            list.Add(model);
            var tag = new RunTag(SystemTags.LoggedModels, list.ToJsonString());
            TrackingValidator.ValidateTag(tag);
            await UpsertTagsAsync(c, tx, runId, [tag], cancellationToken).ConfigureAwait(false);
            return 0;
        }, cancellationToken);
    }

    public async Task<Page<Metric>> GetMetricHistoryAsync(string runId, string key, int? maxResults = null, string? pageToken = null, CancellationToken cancellationToken = default)
    {
        TrackingValidator.ValidateRunId(runId);
        TrackingValidator.ValidateKey(key, "metric");
        var limit = maxResults ?? TrackingLimits.GetMetricHistoryMaxResults;
        TrackingValidator.ValidateMaxResults(limit, TrackingLimits.GetMetricHistoryMaxResults);
        var fingerprint = $"hist|{runId}|{key}";
        var offset = PageToken.Decode(pageToken, fingerprint);
        await using var c = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var exists = await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM runs WHERE run_uuid = @runId", new { runId }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        if (exists == 0) throw RunNotFound(runId);
        var rows = (await c.QueryAsync<(double Value, long Timestamp, long Step, long IsNan)>(new CommandDefinition(
            "SELECT value, timestamp, step, is_nan FROM metrics WHERE run_uuid = @runId AND key = @key ORDER BY step, timestamp, value LIMIT @limit OFFSET @offset",
            new { runId, key, limit = limit + 1, offset }, cancellationToken: cancellationToken)).ConfigureAwait(false)).AsList();
        var next = PageToken.TrimToPage(rows, limit, offset, fingerprint);
        return new Page<Metric>(rows.Select(r => new Metric(key, r.IsNan != 0 ? double.NaN : r.Value, r.Timestamp, r.Step)).ToList(), next);
    }

    private static ResourceDoesNotExistException RunNotFound(string runId) => new($"Run with id={runId} not found");

    /// <summary>
    /// Reads the run inside the write transaction and refuses writes to a deleted one, as MLflow does; with
    /// <see cref="SqlDatabase.ForUpdate"/> as the lock suffix it holds the run's row lock until the transaction ends.
    /// </summary>
    private static async Task<RunRow> RequireActiveRunAsync(DbConnection c, DbTransaction tx, string runId, CancellationToken cancellationToken, string lockSuffix = "")
    {
        var row = await c.QuerySingleOrDefaultAsync<RunRow>(new CommandDefinition(
            $"SELECT {RunColumns} FROM runs r WHERE r.run_uuid = @runId{lockSuffix}", new { runId }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)
            ?? throw RunNotFound(runId);
        if (row.LifecycleStage != "active")
            throw new InvalidParameterValueException($"The run {runId} must be in the 'active' state. Current state is {row.LifecycleStage}.");
        return row;
    }

    private async Task InsertParamsAsync(DbConnection c, DbTransaction tx, string runId, IReadOnlyList<Param> parameters, CancellationToken cancellationToken)
    {
        // Insert-if-absent, then compare: race-free on both backends, and an existing equal value is fine.
        await ExecuteRowsAsync(c, tx, "INSERT INTO params (run_uuid, key, value) VALUES ", " ON CONFLICT (run_uuid, key) DO NOTHING",
            runId, parameters, static (p, row) => { row.Add(p.Key); row.Add(p.Value); }, cancellationToken).ConfigureAwait(false);
        var keys = parameters.Select(p => p.Key).Distinct().ToArray();
        var stored = (await c.QueryAsync<(string Key, string Value)>(new CommandDefinition(
            $"SELECT key, value FROM params WHERE run_uuid = @runId AND {InSql("key", "@keys", keys)}", Database.ListArgs("keys", keys, new { runId }), tx, cancellationToken: cancellationToken)).ConfigureAwait(false))
            .ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        foreach (var p in parameters)
        {
            if (stored.TryGetValue(p.Key, out var existing) && existing != p.Value)
                throw new InvalidParameterValueException(
                    $"Changing param values is not allowed. Param with key='{p.Key}' was already logged with value='{TrackingValidator.Truncate(existing)}' for run ID='{runId}'. Attempted logging new value '{TrackingValidator.Truncate(p.Value)}'.");
        }
    }

    private static Task UpsertTagsAsync(DbConnection c, DbTransaction tx, string runId, IReadOnlyList<RunTag> tags, CancellationToken cancellationToken) =>
        ExecuteRowsAsync(c, tx, "INSERT INTO tags (run_uuid, key, value) VALUES ", " ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
            runId, tags, static (t, row) => { row.Add(t.Key); row.Add(t.Value); }, cancellationToken);

    /// <summary>
    /// One multi-row INSERT for a run's rows: <c>(@r, @a0, @b0), (@r, @a1, @b1), ...</c>. One statement instead of
    /// one per row is most of what batched logging saves; it works the same on SQLite and PostgreSQL.
    /// </summary>
    private static async Task ExecuteRowsAsync<T>(DbConnection c, DbTransaction tx, string insert, string conflict, string runId,
        IReadOnlyList<T> rows, Action<T, List<object?>> columns, CancellationToken cancellationToken)
    {
        const int RowsPerStatement = 200;
        var values = new List<object?>(8);
        for (var start = 0; start < rows.Count; start += RowsPerStatement)
        {
            var end = Math.Min(rows.Count, start + RowsPerStatement);
            var sql = new System.Text.StringBuilder(insert, insert.Length + conflict.Length + (end - start) * 32);
            var args = new DynamicParameters();
            args.Add("r", runId);
            for (var i = start; i < end; i++)
            {
                values.Clear();
                columns(rows[i], values);
                sql.Append(i == start ? "(@r" : ",(@r");
                for (var v = 0; v < values.Count; v++)
                {
                    var name = $"c{v}_{i - start}";
                    sql.Append(", @").Append(name);
                    args.Add(name, values[v]);
                }
                sql.Append(')');
            }
            sql.Append(conflict);
            await c.ExecuteAsync(new CommandDefinition(sql.ToString(), args, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Keeps latest_metrics at the point with the highest (step, timestamp, value): the one MLflow shows
    /// as a run's metric value. One upsert per key, whatever the size of the batch.
    /// </summary>
    private static Task UpsertLatestMetricsAsync(DbConnection c, DbTransaction tx, string runId, IReadOnlyList<Metric> metrics, CancellationToken cancellationToken)
    {
        var latest = new Dictionary<string, Metric>(StringComparer.Ordinal);
        foreach (var m in metrics)
        {
            if (!latest.TryGetValue(m.Key, out var best) || IsLater(m, best)) latest[m.Key] = m;
        }
        return ExecuteRowsAsync(c, tx, "INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan) VALUES ",
            """

            ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp, step = excluded.step, is_nan = excluded.is_nan
            WHERE excluded.step > latest_metrics.step
               OR (excluded.step = latest_metrics.step AND excluded.timestamp > latest_metrics.timestamp)
               OR (excluded.step = latest_metrics.step AND excluded.timestamp = latest_metrics.timestamp
                   AND (latest_metrics.is_nan = 1 OR (excluded.is_nan = 0 AND excluded.value > latest_metrics.value)))
            """,
            runId, latest.Values.ToList(), static (m, row) =>
            {
                row.Add(m.Key);
                row.Add(SqlDatabase.StoredValue(m.Value));
                row.Add(m.Timestamp);
                row.Add(m.Step);
                row.Add((short)(double.IsNaN(m.Value) ? 1 : 0));
            }, cancellationToken);

        static bool IsLater(Metric a, Metric b) =>
            a.Step != b.Step ? a.Step > b.Step
            : a.Timestamp != b.Timestamp ? a.Timestamp > b.Timestamp
            : double.IsNaN(b.Value) || (!double.IsNaN(a.Value) && a.Value > b.Value);
    }

    public async Task<(IReadOnlyList<DeletedEntity> Runs, IReadOnlyList<DeletedEntity> Experiments)> FindDeletedAsync(long deletedBefore, CancellationToken cancellationToken = default)
    {
        await using var c = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var runs = (await c.QueryAsync<(string Id, string Uri, long? Deleted)>(new CommandDefinition(
            "SELECT run_uuid, artifact_uri, deleted_time FROM runs WHERE lifecycle_stage = 'deleted' AND COALESCE(deleted_time, 0) <= @deletedBefore",
            new { deletedBefore }, cancellationToken: cancellationToken)).ConfigureAwait(false))
            .Select(r => new DeletedEntity(r.Id, r.Uri, r.Deleted)).ToList();
        var experiments = (await c.QueryAsync<(long Id, string Location, long? Deleted)>(new CommandDefinition(
            "SELECT experiment_id, artifact_location, deleted_time FROM experiments WHERE lifecycle_stage = 'deleted' AND COALESCE(deleted_time, 0) <= @deletedBefore",
            new { deletedBefore }, cancellationToken: cancellationToken)).ConfigureAwait(false))
            .Select(e => new DeletedEntity(e.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Location, e.Deleted)).ToList();
        return (runs, experiments);
    }

    public Task PurgeRunAsync(string runId, CancellationToken cancellationToken = default)
    {
        TrackingValidator.ValidateRunId(runId);
        return WriteAsync(async (c, tx) =>
        {
            var stage = await c.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT lifecycle_stage FROM runs WHERE run_uuid = @runId", new { runId }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)
                ?? throw RunNotFound(runId);
            if (stage != "deleted") throw new InvalidStateException($"Run {runId} is not deleted; only deleted runs can be purged.");
            await DeleteRunRowsAsync(c, tx, "run_uuid = @runId", new { runId }, cancellationToken).ConfigureAwait(false);
            return 0;
        }, cancellationToken);
    }

    public Task PurgeExperimentAsync(string experimentId, CancellationToken cancellationToken = default)
    {
        var id = ParseExperimentId(experimentId);
        return WriteAsync(async (c, tx) =>
        {
            var stage = await GetExperimentStageAsync(c, tx, id, experimentId, cancellationToken).ConfigureAwait(false);
            if (stage != "deleted") throw new InvalidStateException($"Experiment {experimentId} is not deleted; only deleted experiments can be purged.");
            await DeleteRunRowsAsync(c, tx, "experiment_id = @id", new { id }, cancellationToken).ConfigureAwait(false);
            foreach (var table in (string[])["experiment_tags", "datasets", "experiments"])
                await c.ExecuteAsync(new CommandDefinition($"DELETE FROM {table} WHERE experiment_id = @id", new { id }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return 0;
        }, cancellationToken);
    }

    /// <summary>Deletes runs and their children explicitly, so purge does not depend on foreign-key cascades being on.</summary>
    private static async Task DeleteRunRowsAsync(DbConnection c, DbTransaction tx, string runPredicate, object args, CancellationToken cancellationToken)
    {
        foreach (var table in (string[])["input_tags", "inputs", "latest_metrics", "metrics", "params", "tags"])
            await c.ExecuteAsync(new CommandDefinition(
                $"DELETE FROM {table} WHERE run_uuid IN (SELECT run_uuid FROM runs WHERE {runPredicate})", args, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await c.ExecuteAsync(new CommandDefinition($"DELETE FROM runs WHERE {runPredicate}", args, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
    }
}
