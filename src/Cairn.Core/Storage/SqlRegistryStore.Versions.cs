using System.Data.Common;
using System.Text;
using Cairn.Registry;
using Cairn.Tracking;
using Cairn.Tracking.Search;
using Dapper;

namespace Cairn.Storage;

/// <summary>The model registry: model versions, stages and latest versions.</summary>
internal sealed partial class SqlRegistryStore
{
    private sealed record VersionRow(string Name, long Version, long CreationTime, long LastUpdatedTime, string? Description, string? UserId,
        string CurrentStage, string Source, string StorageLocation, string? RunId, string? RunLink, string Status, string? StatusMessage);

    private const string VersionColumns =
        "v.name AS Name, v.version AS Version, v.creation_time AS CreationTime, v.last_updated_time AS LastUpdatedTime, v.description AS Description, " +
        "v.user_id AS UserId, v.current_stage AS CurrentStage, v.source AS Source, v.storage_location AS StorageLocation, v.run_id AS RunId, " +
        "v.run_link AS RunLink, v.status AS Status, v.status_message AS StatusMessage";

    private static ResourceDoesNotExistException VersionNotFound(string name, string version) => new($"Model Version (name={name}, version={version}) not found");

    public async Task<ModelVersion> CreateModelVersionAsync(CreateModelVersionRequest request, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateCreateVersion(request);
        var name = request.Name;
        var runId = string.IsNullOrEmpty(request.RunId) ? null : request.RunId;
        var storageLocation = request.Source;
        if (ModelUri.IsModelReference(request.Source))
        {
            // The model must exist before the source is worth resolving (and MLflow reports the model first).
            await GetRegisteredModelAsync(name, cancellationToken).ConfigureAwait(false);
            var parsed = ModelUri.Parse(request.Source, "source");
            if (parsed is ModelUri.Run run)
            {
                // MLflow stores a runs:/ source as given, whether or not the run is known here (it may live on another
                // tracking server). A run this store has gives the version its run id (promotion gates read that run's
                // metrics) and its artifact location; any other is kept as the source string alone.
                var info = await FindRunInfoAsync(run.RunId, cancellationToken).ConfigureAwait(false);
                if (info is not null)
                {
                    runId ??= run.RunId;
                    storageLocation = run.Path.Length == 0 ? info.ArtifactUri : $"{info.ArtifactUri.TrimEnd('/')}/{run.Path}";
                }
            }
            else
            {
                // A models:/ source (MLflow's copy_model_version registers models:/NAME/N) is stored with the download URI of
                // the version it names, which must exist, as MLflow's SQL store does; that version's own runs:/ source may name
                // a run unknown here.
                var referenced = await ModelUri.FindVersionAsync(parsed, this, cancellationToken).ConfigureAwait(false);
                storageLocation = await GetModelVersionDownloadUriAsync(referenced.Name, referenced.Version, cancellationToken).ConfigureAwait(false);
            }
        }
        var tags = (request.Tags ?? []).GroupBy(t => t.Key).Select(g => g.Last()).ToList();
        return await WriteAsync(async (c, tx) =>
        {
            var now = NowMs();
            // The row lock of this UPDATE serializes concurrent creates; numbers are never reused after a delete.
            var version = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
                "UPDATE registered_models SET next_version = next_version + 1, last_updated_time = @now WHERE name = @name RETURNING next_version - 1",
                new { name, now }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)
                ?? throw ModelNotFound(name);
            await c.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, source, storage_location, run_id, run_link, status, status_message)
                VALUES (@name, @version, @now, @now, @description, @userId, 'None', @source, @storageLocation, @runId, @runLink, 'READY', NULL)
                """,
                new { name, version, now, description = request.Description, userId = request.UserId, source = request.Source, storageLocation, runId, runLink = request.RunLink },
                tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (tags.Count > 0)
                await c.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO model_version_tags (name, version, key, value) VALUES (@name, @version, @Key, @Value)",
                    tags.Select(t => new { name, version, t.Key, t.Value }), tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return new ModelVersion(name, VersionText(version), now, now, request.Description, request.UserId, ModelStage.None, request.Source,
                runId, request.RunLink, ModelVersionStatus.READY, null, tags, []);
        }, cancellationToken).ConfigureAwait(false);
    }

    private async Task<RunInfo?> FindRunInfoAsync(string runId, CancellationToken cancellationToken)
    {
        try
        {
            return (await _tracking.GetRunAsync(runId, cancellationToken).ConfigureAwait(false)).Info;
        }
        catch (ResourceDoesNotExistException)
        {
            return null;
        }
    }

    public async Task<ModelVersion> GetModelVersionAsync(string name, string version, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        var number = RegistryValidator.ParseVersion(version);
        await using var c = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await LoadVersionAsync(c, null, name, number, cancellationToken).ConfigureAwait(false);
    }

    public Task<ModelVersion> UpdateModelVersionAsync(string name, string version, string? description, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        var number = RegistryValidator.ParseVersion(version);
        RegistryValidator.ValidateDescription(description);
        return WriteAsync(async (c, tx) =>
        {
            var now = NowMs();
            var n = await c.ExecuteAsync(new CommandDefinition(
                "UPDATE model_versions SET description = @description, last_updated_time = @now WHERE name = @name AND version = @number",
                new { name, number, description, now }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (n == 0) throw await VersionOrModelNotFoundAsync(c, tx, name, version, cancellationToken).ConfigureAwait(false);
            return await LoadVersionAsync(c, tx, name, number, cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task DeleteModelVersionAsync(string name, string version, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        var number = RegistryValidator.ParseVersion(version);
        return WriteAsync(async (c, tx) =>
        {
            // Locked first like every write that moves aliases, so a promotion to this version either sees it gone or finishes first.
            await LockModelAsync(c, tx, name, cancellationToken).ConfigureAwait(false);
            // Tags and aliases of the version go with it (ON DELETE CASCADE); next_version keeps the number from coming back.
            var n = await c.ExecuteAsync(new CommandDefinition(
                "DELETE FROM model_versions WHERE name = @name AND version = @number", new { name, number }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (n == 0) throw await VersionOrModelNotFoundAsync(c, tx, name, version, cancellationToken).ConfigureAwait(false);
            await TouchModelAsync(c, tx, name, NowMs(), cancellationToken).ConfigureAwait(false);
            return 0;
        }, cancellationToken);
    }

    public Task<Page<ModelVersion>> SearchModelVersionsAsync(ModelVersionSearch search, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateMaxResults(search.MaxResults, RegistryLimits.SearchModelVersionsThreshold);
        var filter = SearchFilterParser.ParseModelVersionFilter(search.Filter);
        // Without an order_by MLflow lists the most recently updated versions first (then by name, newest version first).
        var orderBy = SearchFilterParser.ParseModelVersionOrderBy(search.OrderBy is { Count: > 0 } ? search.OrderBy : DefaultVersionOrder);
        var fingerprint = $"mv|{search.Filter}|{string.Join(",", search.OrderBy ?? [])}";
        return SearchPageAsync<VersionRow, ModelVersion>(VersionSearch, filter, orderBy, search.MaxResults, search.PageToken, fingerprint,
            (c, rows) => LoadVersionsAsync(c, null, rows, withAliases: true, cancellationToken), cancellationToken);
    }

    private static readonly string[] DefaultVersionOrder = ["last_updated_timestamp DESC"];

    // Tie-breaker: by model name, newest version first (what MLflow answers).
    private static readonly SearchShape VersionSearch = new($"SELECT {VersionColumns} FROM model_versions v", Models: false,
        key => key switch
        {
            "name" => "v.name",
            "version_number" => "v.version",
            "creation_timestamp" => "v.creation_time",
            "run_id" => "v.run_id",
            "current_stage" => "v.current_stage",
            _ => "v.last_updated_time",
        },
        "model versions can be ordered by name, version_number, creation_timestamp, last_updated_timestamp, run_id and current_stage", "v.name ASC, v.version DESC");

    public Task SetModelVersionTagAsync(string name, string version, string key, string value, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        var number = RegistryValidator.ParseVersion(version);
        RegistryValidator.ValidateTag(key, value, "model version tag");
        return WriteAsync(async (c, tx) =>
        {
            await LockModelAsync(c, tx, name, cancellationToken).ConfigureAwait(false);
            await RequireVersionAsync(c, tx, name, number, cancellationToken).ConfigureAwait(false);
            await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO model_version_tags (name, version, key, value) VALUES (@name, @number, @key, @value) ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
                new { name, number, key, value }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return 0;
        }, cancellationToken);
    }

    public Task DeleteModelVersionTagAsync(string name, string version, string key, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        var number = RegistryValidator.ParseVersion(version);
        TrackingValidator.ValidateKey(key, "model version tag");
        return WriteAsync(async (c, tx) =>
        {
            await RequireVersionAsync(c, tx, name, number, cancellationToken).ConfigureAwait(false);
            await c.ExecuteAsync(new CommandDefinition(
                "DELETE FROM model_version_tags WHERE name = @name AND version = @number AND key = @key", new { name, number, key }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return 0;
        }, cancellationToken);
    }

    public Task<ModelVersion> TransitionModelVersionStageAsync(string name, string version, string stage, bool archiveExistingVersions = false, string? user = null, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        var number = RegistryValidator.ParseVersion(version);
        var target = RegistryValidator.ParseStage(stage);
        if (archiveExistingVersions && target is not (ModelStage.Staging or ModelStage.Production))
            throw new InvalidParameterValueException($"Model version transition cannot archive existing model versions because '{target}' is not an Active stage. Valid stages are Staging, Production.");
        var who = RegistryValidator.User(user);
        var targetText = target.ToString();
        return WriteAsync(async (c, tx) =>
        {
            // The model's row lock: a concurrent transition waits, then sees (and archives) the version this one moved in.
            await LockModelAsync(c, tx, name, cancellationToken).ConfigureAwait(false);
            var row = await RequireVersionAsync(c, tx, name, number, cancellationToken).ConfigureAwait(false);
            var previousHolder = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
                "SELECT MAX(version) FROM model_versions WHERE name = @name AND current_stage = @targetText AND version <> @number",
                new { name, targetText, number }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            var now = NowMs();
            await c.ExecuteAsync(new CommandDefinition(
                "UPDATE model_versions SET current_stage = @targetText, last_updated_time = @now WHERE name = @name AND version = @number",
                new { name, number, targetText, now }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (archiveExistingVersions)
                await c.ExecuteAsync(new CommandDefinition(
                    "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = @now WHERE name = @name AND current_stage = @targetText AND version <> @number",
                    new { name, number, targetText, now }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            await TouchModelAsync(c, tx, name, now, cancellationToken).ConfigureAwait(false);
            await AuditAsync(c, tx, name, RegistryAction.StageTransitioned, null, targetText, row.CurrentStage, previousHolder, number, who, now, cancellationToken).ConfigureAwait(false);
            return await LoadVersionAsync(c, tx, name, number, cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    public async Task<IReadOnlyList<ModelVersion>> GetLatestVersionsAsync(string name, IReadOnlyList<string>? stages = null, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        var wanted = (stages ?? []).Select(s => RegistryValidator.ParseStage(s).ToString()).Distinct().ToArray();
        await using var c = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var model = await LoadModelAsync(c, null, name, cancellationToken).ConfigureAwait(false);
        return wanted.Length == 0
            ? model.LatestVersions
            : model.LatestVersions.Where(v => wanted.Contains(v.CurrentStage.ToString())).ToList();
    }

    public async Task<string> GetModelVersionDownloadUriAsync(string name, string version, CancellationToken cancellationToken = default)
    {
        // MLflow answers the stored source (a runs:/ URI stays a runs:/ URI; clients resolve it themselves), except for a copy
        // registered from models:/NAME/N, whose download URI is the one of the version it copied (kept in storage_location).
        RegistryValidator.ValidateName(name);
        var number = RegistryValidator.ParseVersion(version);
        await using var c = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var row = await RequireVersionAsync(c, null, name, number, cancellationToken).ConfigureAwait(false);
        return ModelUri.IsModelReference(row.Source) && row.Source.StartsWith("models:", StringComparison.OrdinalIgnoreCase) ? row.StorageLocation : row.Source;
    }

    private static Task TouchModelAsync(DbConnection c, DbTransaction tx, string name, long now, CancellationToken cancellationToken) =>
        c.ExecuteAsync(new CommandDefinition(
            "UPDATE registered_models SET last_updated_time = @now WHERE name = @name", new { name, now }, tx, cancellationToken: cancellationToken));

    private static async Task<VersionRow> RequireVersionAsync(DbConnection c, DbTransaction? tx, string name, long number, CancellationToken cancellationToken) =>
        await c.QuerySingleOrDefaultAsync<VersionRow>(new CommandDefinition(
            $"SELECT {VersionColumns} FROM model_versions v WHERE v.name = @name AND v.version = @number", new { name, number }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)
        ?? throw await VersionOrModelNotFoundAsync(c, tx, name, VersionText(number), cancellationToken).ConfigureAwait(false);

    /// <summary>An unknown model is reported as such, an unknown version of a known model as the version.</summary>
    private static async Task<ResourceDoesNotExistException> VersionOrModelNotFoundAsync(DbConnection c, DbTransaction? tx, string name, string version, CancellationToken cancellationToken)
    {
        var model = await c.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT name FROM registered_models WHERE name = @name", new { name }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return model is null ? ModelNotFound(name) : VersionNotFound(name, version);
    }

    private async Task<ModelVersion> LoadVersionAsync(DbConnection c, DbTransaction? tx, string name, long number, CancellationToken cancellationToken)
    {
        var row = await RequireVersionAsync(c, tx, name, number, cancellationToken).ConfigureAwait(false);
        return (await LoadVersionsAsync(c, tx, [row], withAliases: true, cancellationToken).ConfigureAwait(false))[0];
    }

    private async Task<IReadOnlyList<ModelVersion>> LoadVersionsAsync(DbConnection c, DbTransaction? tx, IReadOnlyList<VersionRow> rows, bool withAliases, CancellationToken cancellationToken)
    {
        if (rows.Count == 0) return [];
        var names = rows.Select(r => r.Name).Distinct().ToArray();
        var args = Database.ListArgs("names", names);
        ILookup<(string, long), (string Name, long Version, string Key, string Value)> tags;
        if (rows.Count == 1)
        {
            var only = rows[0];
            tags = (await c.QueryAsync<(string Name, long Version, string Key, string Value)>(new CommandDefinition(
                "SELECT name, version, key, value FROM model_version_tags WHERE name = @Name AND version = @Version ORDER BY key",
                new { only.Name, only.Version }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToLookup(t => (t.Name, t.Version));
        }
        else
        {
            tags = (await c.QueryAsync<(string Name, long Version, string Key, string Value)>(new CommandDefinition(
                $"SELECT name, version, key, value FROM model_version_tags WHERE {InSql("name", "@names", names)} ORDER BY key",
                args, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToLookup(t => (t.Name, t.Version));
        }
        var aliases = withAliases
            ? (await c.QueryAsync<(string Name, long Version, string Alias)>(new CommandDefinition(
                $"SELECT name, version, alias FROM registered_model_aliases WHERE {InSql("name", "@names", names)} ORDER BY alias",
                args, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToLookup(a => (a.Name, a.Version))
            : null;
        return rows.Select(r => new ModelVersion(
            r.Name, VersionText(r.Version), r.CreationTime, r.LastUpdatedTime, r.Description, r.UserId,
            Enum.Parse<ModelStage>(r.CurrentStage), r.Source, r.RunId, r.RunLink, Enum.Parse<ModelVersionStatus>(r.Status), r.StatusMessage,
            tags[(r.Name, r.Version)].Select(t => new ModelVersionTag(t.Key, t.Value)).ToList(),
            aliases is null ? [] : aliases[(r.Name, r.Version)].Select(a => a.Alias).ToList())).ToList();
    }
}
