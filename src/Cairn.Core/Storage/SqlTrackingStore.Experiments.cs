using System.Data.Common;
using System.Text;
using Cairn.Tracking;
using Cairn.Tracking.Search;
using Dapper;

namespace Cairn.Storage;

internal sealed partial class SqlTrackingStore
{
    private sealed record ExperimentRow(long ExperimentId, string Name, string ArtifactLocation, string LifecycleStage, long? CreationTime, long? LastUpdateTime);

    private const string ExperimentColumns =
        "experiment_id AS ExperimentId, name AS Name, artifact_location AS ArtifactLocation, lifecycle_stage AS LifecycleStage, creation_time AS CreationTime, last_update_time AS LastUpdateTime";

    public async Task<string> CreateExperimentAsync(string name, string? artifactLocation = null, IReadOnlyList<ExperimentTag>? tags = null, CancellationToken cancellationToken = default)
    {
        TrackingValidator.ValidateExperimentName(name);
        tags ??= [];
        foreach (var tag in tags) TrackingValidator.ValidateExperimentTag(tag.Key, tag.Value);
        if (artifactLocation is not null && artifactLocation.Length > 2000)
            throw new InvalidParameterValueException("Invalid value for parameter 'artifact_location': it exceeds 2000 characters.");

        return await TranslateAsync(() => WriteAsync(async (c, tx) =>
        {
            var existing = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
                "SELECT experiment_id FROM experiments WHERE name = @name", new { name }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (existing is not null)
                throw new ResourceAlreadyExistsException($"Experiment '{name}' already exists.");
            var now = NowMs();
            var id = await c.ExecuteScalarAsync<long>(new CommandDefinition(
                "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (@name, @loc, 'active', @now, @now) RETURNING experiment_id",
                new { name, loc = artifactLocation ?? "", now }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            var idText = id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (string.IsNullOrEmpty(artifactLocation))
            {
                await c.ExecuteAsync(new CommandDefinition(
                    "UPDATE experiments SET artifact_location = @loc WHERE experiment_id = @id",
                    new { loc = ExperimentArtifactLocation(idText), id }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            }
            if (tags.Count > 0)
            {
                await c.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (@id, @Key, @Value)",
                    tags.DistinctBy(t => t.Key).Select(t => new { id, t.Key, t.Value }), tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            }
            return idText;
        }, cancellationToken), $"Experiment '{name}' already exists.").ConfigureAwait(false);
    }

    public async Task<Experiment> GetExperimentAsync(string experimentId, CancellationToken cancellationToken = default)
    {
        var id = ParseExperimentId(experimentId);
        await using var c = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var row = await c.QuerySingleOrDefaultAsync<ExperimentRow>(new CommandDefinition(
            $"SELECT {ExperimentColumns} FROM experiments WHERE experiment_id = @id", new { id }, cancellationToken: cancellationToken)).ConfigureAwait(false)
            ?? throw new ResourceDoesNotExistException($"No Experiment with id={experimentId} exists");
        return (await LoadExperimentsAsync(c, [row], cancellationToken).ConfigureAwait(false))[0];
    }

    public async Task<Experiment?> FindExperimentByNameAsync(string name, CancellationToken cancellationToken = default)
    {
        TrackingValidator.ValidateExperimentName(name);
        await using var c = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var row = await c.QuerySingleOrDefaultAsync<ExperimentRow>(new CommandDefinition(
            $"SELECT {ExperimentColumns} FROM experiments WHERE name = @name", new { name }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row is null ? null : (await LoadExperimentsAsync(c, [row], cancellationToken).ConfigureAwait(false))[0];
    }

    public async Task<Page<Experiment>> SearchExperimentsAsync(ExperimentSearch search, CancellationToken cancellationToken = default)
    {
        TrackingValidator.ValidateMaxResults(search.MaxResults);
        var filter = SearchFilterParser.ParseExperimentFilter(search.Filter);
        var orderBy = SearchFilterParser.ParseExperimentOrderBy(search.OrderBy);
        var fingerprint = $"exp|{search.Filter}|{string.Join(",", search.OrderBy ?? [])}|{search.ViewType}";
        var offset = PageToken.Decode(search.PageToken, fingerprint);

        var sql = new StringBuilder($"SELECT {ExperimentColumns} FROM experiments e WHERE {InSql("e.lifecycle_stage", "@stages", StagesFor(search.ViewType))}");
        var parameters = new DynamicParameters();
        parameters.Add("stages", Database.ListParameter(StagesFor(search.ViewType)));
        if (filter is not null)
        {
            sql.Append(" AND ");
            new ExperimentFilterSql(Database, parameters).Append(sql, filter);
        }
        sql.Append(" ORDER BY ");
        foreach (var key in orderBy)
        {
            var column = key.Entity switch
            {
                EntityKind.Attribute => key.Key switch
                {
                    "name" => "e.name",
                    "experiment_id" => "e.experiment_id",
                    "creation_time" => "e.creation_time",
                    _ => "e.last_update_time",
                },
                _ => throw new InvalidParameterValueException($"Invalid order_by key '{key.Key}': experiments can be ordered by name, experiment_id, creation_time and last_update_time."),
            };
            sql.Append(column).Append(key.Ascending ? " ASC, " : " DESC, ");
        }
        // MLflow's default: newest first, then by id for a stable order across pages.
        sql.Append("e.creation_time DESC, e.experiment_id ASC LIMIT @limit OFFSET @offset");
        parameters.Add("limit", search.MaxResults + 1);
        parameters.Add("offset", offset);

        await using var c = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = (await c.QueryAsync<ExperimentRow>(new CommandDefinition(sql.ToString(), parameters, cancellationToken: cancellationToken)).ConfigureAwait(false)).AsList();
        var next = PageToken.TrimToPage(rows, search.MaxResults, offset, fingerprint);
        return new Page<Experiment>(await LoadExperimentsAsync(c, rows, cancellationToken).ConfigureAwait(false), next);
    }

    public Task RenameExperimentAsync(string experimentId, string newName, CancellationToken cancellationToken = default)
    {
        var id = ParseExperimentId(experimentId);
        TrackingValidator.ValidateExperimentName(newName);
        return TranslateAsync(() => WriteAsync(async (c, tx) =>
        {
            var stage = await GetExperimentStageAsync(c, tx, id, experimentId, cancellationToken).ConfigureAwait(false);
            // MLflow answers INVALID_STATE here, not INVALID_PARAMETER_VALUE.
            if (stage != "active")
                throw new InvalidStateException($"Cannot rename a non-active experiment: experiment {experimentId} is deleted. Restore it first.");
            var clash = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
                "SELECT experiment_id FROM experiments WHERE name = @newName AND experiment_id <> @id", new { newName, id }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (clash is not null) throw new ResourceAlreadyExistsException($"Experiment '{newName}' already exists.");
            await c.ExecuteAsync(new CommandDefinition(
                "UPDATE experiments SET name = @newName, last_update_time = @now WHERE experiment_id = @id",
                new { newName, id, now = NowMs() }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return 0;
        }, cancellationToken), $"Experiment '{newName}' already exists.");
    }

    public Task DeleteExperimentAsync(string experimentId, CancellationToken cancellationToken = default)
    {
        var id = ParseExperimentId(experimentId);
        if (experimentId == DefaultExperimentId)
            throw new InvalidParameterValueException("Cannot delete the default experiment '0'. This is an internally reserved experiment.");
        return SetExperimentStageAsync(id, experimentId, "deleted", cancellationToken);
    }

    public Task RestoreExperimentAsync(string experimentId, CancellationToken cancellationToken = default) =>
        SetExperimentStageAsync(ParseExperimentId(experimentId), experimentId, "active", cancellationToken);

    private Task SetExperimentStageAsync(long id, string experimentId, string stage, CancellationToken cancellationToken) =>
        WriteAsync(async (c, tx) =>
        {
            var current = await GetExperimentStageAsync(c, tx, id, experimentId, cancellationToken).ConfigureAwait(false);
            if (current == stage)
                throw new InvalidParameterValueException(stage == "deleted"
                    ? $"Cannot delete experiment {experimentId}: it is already deleted."
                    : $"Cannot restore experiment {experimentId}: it is not deleted.");
            var now = NowMs();
            long? deletedTime = stage == "deleted" ? now : null;
            await c.ExecuteAsync(new CommandDefinition(
                "UPDATE experiments SET lifecycle_stage = @stage, last_update_time = @now, deleted_time = @deletedTime WHERE experiment_id = @id",
                new { stage, now, deletedTime, id }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            // MLflow moves an experiment's runs with it, so they leave (and come back to) searches together.
            await c.ExecuteAsync(new CommandDefinition(
                "UPDATE runs SET lifecycle_stage = @stage, deleted_time = @deletedTime WHERE experiment_id = @id AND lifecycle_stage <> @stage",
                new { stage, deletedTime, id }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return 0;
        }, cancellationToken);

    public Task SetExperimentTagAsync(string experimentId, string key, string value, CancellationToken cancellationToken = default)
    {
        var id = ParseExperimentId(experimentId);
        TrackingValidator.ValidateExperimentTag(key, value);
        return WriteAsync(async (c, tx) =>
        {
            await RequireActiveExperimentAsync(c, tx, id, experimentId, cancellationToken).ConfigureAwait(false);
            await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (@id, @key, @value) ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
                new { id, key, value }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return 0;
        }, cancellationToken);
    }

    public Task DeleteExperimentTagAsync(string experimentId, string key, CancellationToken cancellationToken = default)
    {
        var id = ParseExperimentId(experimentId);
        TrackingValidator.ValidateKey(key, "tag");
        return WriteAsync(async (c, tx) =>
        {
            await RequireActiveExperimentAsync(c, tx, id, experimentId, cancellationToken).ConfigureAwait(false);
            var n = await c.ExecuteAsync(new CommandDefinition(
                "DELETE FROM experiment_tags WHERE experiment_id = @id AND key = @key", new { id, key }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (n == 0) throw new ResourceDoesNotExistException($"No tag with name: {key} in experiment with id {experimentId}");
            return 0;
        }, cancellationToken);
    }

    private static async Task<string> GetExperimentStageAsync(DbConnection c, DbTransaction tx, long id, string experimentId, CancellationToken cancellationToken) =>
        await c.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT lifecycle_stage FROM experiments WHERE experiment_id = @id", new { id }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)
        ?? throw new ResourceDoesNotExistException($"No Experiment with id={experimentId} exists");

    private static async Task<ExperimentRow> RequireActiveExperimentAsync(DbConnection c, DbTransaction tx, long id, string experimentId, CancellationToken cancellationToken)
    {
        var row = await c.QuerySingleOrDefaultAsync<ExperimentRow>(new CommandDefinition(
            $"SELECT {ExperimentColumns} FROM experiments WHERE experiment_id = @id", new { id }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)
            ?? throw new ResourceDoesNotExistException($"No Experiment with id={experimentId} exists");
        if (row.LifecycleStage != "active")
            throw new InvalidParameterValueException($"The experiment {experimentId} must be in the 'active' state. Current state is {row.LifecycleStage}.");
        return row;
    }

    private async Task<IReadOnlyList<Experiment>> LoadExperimentsAsync(DbConnection c, IReadOnlyList<ExperimentRow> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0) return [];
        var ids = rows.Select(r => r.ExperimentId).ToArray();
        var tags = (await c.QueryAsync<(long ExperimentId, string Key, string Value)>(new CommandDefinition(
            $"SELECT experiment_id, key, value FROM experiment_tags WHERE {InSql("experiment_id", "@ids", ids)} ORDER BY key", Database.ListArgs("ids", ids), cancellationToken: cancellationToken)).ConfigureAwait(false))
            .ToLookup(t => t.ExperimentId);
        return rows.Select(r => new Experiment(
            r.ExperimentId.ToString(System.Globalization.CultureInfo.InvariantCulture), r.Name, r.ArtifactLocation, ParseStage(r.LifecycleStage),
            r.CreationTime, r.LastUpdateTime,
            tags[r.ExperimentId].Select(t => new ExperimentTag(t.Key, t.Value)).ToList())).ToList();
    }
}
