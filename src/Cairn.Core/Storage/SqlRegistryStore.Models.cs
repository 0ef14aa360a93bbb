using System.Data.Common;
using System.Globalization;
using System.Text;
using Cairn.Registry;
using Cairn.Tracking;
using Cairn.Tracking.Search;
using Dapper;

namespace Cairn.Storage;

/// <summary>The model registry: registered models, their tags, and the search filters of the registry.</summary>
internal sealed partial class SqlRegistryStore
{
    private sealed record ModelRow(string Name, long CreationTime, long LastUpdatedTime, string? Description);

    private const string ModelColumns =
        "m.name AS Name, m.creation_time AS CreationTime, m.last_updated_time AS LastUpdatedTime, m.description AS Description";

    private static ResourceDoesNotExistException ModelNotFound(string name) => new($"Registered Model with name={name} not found");

    public async Task<RegisteredModel> CreateRegisteredModelAsync(string name, IReadOnlyList<RegisteredModelTag>? tags = null, string? description = null, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        RegistryValidator.ValidateDescription(description);
        tags ??= [];
        foreach (var tag in tags) RegistryValidator.ValidateTag(tag.Key, tag.Value, "registered model tag");
        var stored = tags.GroupBy(t => t.Key).Select(g => g.Last()).ToList();
        var alreadyExists = $"Registered Model (name={name}) already exists.";
        return await TranslateAsync(() => WriteAsync(async (c, tx) =>
        {
            var existing = await c.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT name FROM registered_models WHERE name = @name", new { name }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (existing is not null) throw new ResourceAlreadyExistsException(alreadyExists);
            var now = NowMs();
            await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO registered_models (name, creation_time, last_updated_time, description, next_version) VALUES (@name, @now, @now, @description, 1)",
                new { name, now, description }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (stored.Count > 0)
                await c.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO registered_model_tags (name, key, value) VALUES (@name, @Key, @Value)",
                    stored.Select(t => new { name, t.Key, t.Value }), tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return new RegisteredModel(name, now, now, description, [], stored, []);
        }, cancellationToken), alreadyExists).ConfigureAwait(false);
    }

    public async Task<RegisteredModel> GetRegisteredModelAsync(string name, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        await using var c = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await LoadModelAsync(c, null, name, cancellationToken).ConfigureAwait(false);
    }

    public Task<RegisteredModel> RenameRegisteredModelAsync(string name, string newName, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        RegistryValidator.ValidateName(newName, "new_name");
        var alreadyExists = $"Registered Model (name={newName}) already exists.";
        // The model's grants follow it (ON UPDATE CASCADE): what the permission check cached under either name is stale.
        return InvalidatingGrantsAsync(() => TranslateAsync(() => WriteAsync(async (c, tx) =>
        {
            await LockModelAsync(c, tx, name, cancellationToken).ConfigureAwait(false);
            if (newName != name)
            {
                var clash = await c.ExecuteScalarAsync<string?>(new CommandDefinition(
                    "SELECT name FROM registered_models WHERE name = @newName", new { newName }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
                if (clash is not null) throw new ResourceAlreadyExistsException(alreadyExists);
                var now = NowMs();
                // Versions, tags and aliases follow through ON UPDATE CASCADE; the audit trail has no foreign key (it outlives deletes).
                await c.ExecuteAsync(new CommandDefinition(
                    "UPDATE registered_models SET name = @newName, last_updated_time = @now WHERE name = @name",
                    new { name, newName, now }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
                await c.ExecuteAsync(new CommandDefinition(
                    "UPDATE model_versions SET last_updated_time = @now WHERE name = @newName", new { newName, now }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
                await c.ExecuteAsync(new CommandDefinition(
                    "UPDATE registry_audit SET name = @newName WHERE name = @name", new { name, newName }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            }
            return await LoadModelAsync(c, tx, newName, cancellationToken).ConfigureAwait(false);
        }, cancellationToken), alreadyExists));
    }

    public Task<RegisteredModel> UpdateRegisteredModelAsync(string name, string? description, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        RegistryValidator.ValidateDescription(description);
        return WriteAsync(async (c, tx) =>
        {
            var n = await c.ExecuteAsync(new CommandDefinition(
                "UPDATE registered_models SET description = @description, last_updated_time = @now WHERE name = @name",
                new { name, description, now = NowMs() }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (n == 0) throw ModelNotFound(name);
            return await LoadModelAsync(c, tx, name, cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task DeleteRegisteredModelAsync(string name, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        // Versions, their tags, aliases and grants go with the model (ON DELETE CASCADE).
        return InvalidatingGrantsAsync(() => WriteAsync(async (c, tx) =>
        {
            var n = await c.ExecuteAsync(new CommandDefinition(
                "DELETE FROM registered_models WHERE name = @name", new { name }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (n == 0) throw ModelNotFound(name);
            return 0;
        }, cancellationToken));
    }

    /// <summary>Runs a write that changes grants through a cascade, then empties the permission check's cache (also on failure).</summary>
    private async Task<T> InvalidatingGrantsAsync<T>(Func<Task<T>> write)
    {
        try
        {
            return await write().ConfigureAwait(false);
        }
        finally
        {
            Database.Grants.Invalidate();
        }
    }

    public Task<Page<RegisteredModel>> SearchRegisteredModelsAsync(RegisteredModelSearch search, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateMaxResults(search.MaxResults, RegistryLimits.SearchRegisteredModelsThreshold);
        var filter = SearchFilterParser.ParseRegisteredModelFilter(search.Filter);
        var orderBy = SearchFilterParser.ParseRegisteredModelOrderBy(search.OrderBy);
        var fingerprint = $"rm|{search.Filter}|{string.Join(",", search.OrderBy ?? [])}";
        return SearchPageAsync<ModelRow, RegisteredModel>(ModelSearch, filter, orderBy, search.MaxResults, search.PageToken, fingerprint,
            (c, rows) => LoadModelsAsync(c, null, rows, cancellationToken), cancellationToken);
    }

    // MLflow's default and tie-breaker: name ascending.
    private static readonly SearchShape ModelSearch = new($"SELECT {ModelColumns} FROM registered_models m", Models: true,
        key => key switch
        {
            "name" => "m.name",
            "creation_timestamp" => "m.creation_time",
            _ => "m.last_updated_time",
        },
        "registered models can be ordered by name, creation_timestamp and last_updated_timestamp", "m.name ASC");

    public Task SetRegisteredModelTagAsync(string name, string key, string value, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        RegistryValidator.ValidateTag(key, value, "registered model tag");
        return WriteAsync(async (c, tx) =>
        {
            await LockModelAsync(c, tx, name, cancellationToken).ConfigureAwait(false);
            await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO registered_model_tags (name, key, value) VALUES (@name, @key, @value) ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
                new { name, key, value }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return 0;
        }, cancellationToken);
    }

    public Task DeleteRegisteredModelTagAsync(string name, string key, CancellationToken cancellationToken = default)
    {
        RegistryValidator.ValidateName(name);
        TrackingValidator.ValidateKey(key, "registered model tag");
        return WriteAsync(async (c, tx) =>
        {
            await LockModelAsync(c, tx, name, cancellationToken).ConfigureAwait(false);
            // MLflow ignores a missing key here.
            await c.ExecuteAsync(new CommandDefinition(
                "DELETE FROM registered_model_tags WHERE name = @name AND key = @key", new { name, key }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return 0;
        }, cancellationToken);
    }

    private static async Task<ModelRow> RequireModelAsync(DbConnection c, DbTransaction? tx, string name, CancellationToken cancellationToken) =>
        await c.QuerySingleOrDefaultAsync<ModelRow>(new CommandDefinition(
            $"SELECT {ModelColumns} FROM registered_models m WHERE m.name = @name", new { name }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)
        ?? throw ModelNotFound(name);

    /// <summary>
    /// Reads the model inside a write transaction and holds its row lock until the transaction ends: every registry write
    /// that reads before it writes (alias holder, stage holders, the audit's previous version) takes it first, so such
    /// writes on one model run one after another and each reads what the one before it committed.
    /// </summary>
    private async Task<ModelRow> LockModelAsync(DbConnection c, DbTransaction tx, string name, CancellationToken cancellationToken) =>
        await c.QuerySingleOrDefaultAsync<ModelRow>(new CommandDefinition(
            $"SELECT {ModelColumns} FROM registered_models m WHERE m.name = @name{Database.ForUpdate}", new { name }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)
        ?? throw ModelNotFound(name);

    private async Task<RegisteredModel> LoadModelAsync(DbConnection c, DbTransaction? tx, string name, CancellationToken cancellationToken)
    {
        var row = await RequireModelAsync(c, tx, name, cancellationToken).ConfigureAwait(false);
        return (await LoadModelsAsync(c, tx, [row], cancellationToken).ConfigureAwait(false))[0];
    }

    /// <summary>Turns rows into models with tags, aliases and latest versions, in three queries for the whole page.</summary>
    private async Task<IReadOnlyList<RegisteredModel>> LoadModelsAsync(DbConnection c, DbTransaction? tx, IReadOnlyList<ModelRow> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0) return [];
        var names = rows.Select(r => r.Name).ToArray();
        var args = Database.ListArgs("names", names);
        var tags = (await c.QueryAsync<(string Name, string Key, string Value)>(new CommandDefinition(
            $"SELECT name, key, value FROM registered_model_tags WHERE {InSql("name", "@names", names)} ORDER BY key", args, tx, cancellationToken: cancellationToken)).ConfigureAwait(false))
            .ToLookup(t => t.Name);
        var aliases = (await c.QueryAsync<(string Name, string Alias, long Version)>(new CommandDefinition(
            $"SELECT name, alias, version FROM registered_model_aliases WHERE {InSql("name", "@names", names)} ORDER BY alias", args, tx, cancellationToken: cancellationToken)).ConfigureAwait(false))
            .ToLookup(a => a.Name);
        // The newest version of each stage, found through (name, current_stage, version).
        var latestRows = (await c.QueryAsync<VersionRow>(new CommandDefinition(
            $"SELECT {VersionColumns} FROM model_versions v WHERE {InSql("v.name", "@names", names)} AND v.version = (SELECT MAX(v2.version) FROM model_versions v2 WHERE v2.name = v.name AND v2.current_stage = v.current_stage) ORDER BY v.name, v.version",
            args, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)).AsList();
        var latest = (await LoadVersionsAsync(c, tx, latestRows, withAliases: false, cancellationToken).ConfigureAwait(false)).ToLookup(v => v.Name);
        return rows.Select(r => new RegisteredModel(
            r.Name, r.CreationTime, r.LastUpdatedTime, r.Description,
            latest[r.Name].ToList(),
            tags[r.Name].Select(t => new RegisteredModelTag(t.Key, t.Value)).ToList(),
            aliases[r.Name].Select(a => new RegisteredModelAlias(a.Alias, VersionText(a.Version))).ToList())).ToList();
    }

    private static string VersionText(long version) => version.ToString(CultureInfo.InvariantCulture);

    /// <summary>Registry search filters: every value and key is a parameter; columns come from a closed set.</summary>
    private sealed class RegistryFilterSql(SqlDatabase database, DynamicParameters parameters, bool models) : FilterSql(database, parameters)
    {
        protected override void AppendComparison(StringBuilder sql, Comparison comparison)
        {
            if (comparison.Op is Comparator.In or Comparator.NotIn && !(comparison.Entity == EntityKind.Attribute && comparison.Key == "run_id"))
                throw new InvalidParameterValueException($"Invalid filter at position {comparison.Position}: only 'run_id' supports comparison with a list of values (IN, NOT IN).");
            if (comparison.Entity == EntityKind.Tag)
            {
                sql.Append(models
                    ? "EXISTS (SELECT 1 FROM registered_model_tags t WHERE t.name = m.name AND t.key = "
                    : "EXISTS (SELECT 1 FROM model_version_tags t WHERE t.name = v.name AND t.version = v.version AND t.key = ");
                sql.Append(Param(comparison.Key)).Append(" AND ");
                AppendPredicate(sql, "t.value", comparison);
                sql.Append(Database.ExistsEnd);
                return;
            }
            var column = (models, comparison.Key) switch
            {
                (true, "name") => "m.name",
                (false, "name") => "v.name",
                (false, "run_id") => "v.run_id",
                (false, "source_path") => "v.source",
                (false, "version_number") => "v.version",
                (false, "current_stage") => "v.current_stage",
                _ => throw new InvalidParameterValueException($"Invalid filter key '{comparison.Key}'."),
            };
            AppendPredicate(sql, column, comparison);
        }

        protected override object NumericParameter(Comparison comparison, double value) => (long)value;
    }
}
