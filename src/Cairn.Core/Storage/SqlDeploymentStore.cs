using System.Data.Common;
using System.Text.Json;
using Cairn.Registry;
using Cairn.Serving;
using Dapper;

namespace Cairn.Storage;

/// <summary>
/// Deployments over SQL (tables <c>deployments</c> and <c>deployment_revisions</c>, migration 8), on the same
/// <see cref="SqlDatabase"/> as tracking and the registry, so a route's registered model is checked in the transaction
/// that writes the route. Every change reads the deployment's row with <see cref="SqlDatabase.ForUpdate"/> (PostgreSQL runs
/// at READ COMMITTED; SQLite's one writer already serializes), so two concurrent changes take turns and revision numbers
/// never collide (the revision table's primary key would refuse a collision anyway). Routes are stored as JSON text: a
/// deployment has at most <see cref="DeploymentValidator.MaxRoutes"/>, always read and written whole.
/// </summary>
internal sealed class SqlDeploymentStore(SqlDatabase database) : IDeploymentStore
{
    private sealed record DeploymentRow(string Name, string? Description, string Routes, string? StickySource, string? StickyName, long Revision,
        long CreationTime, string? CreatedBy, long LastUpdatedTime, string? UpdatedBy, double? LogSampleRate);

    private sealed record RevisionRow(string Name, long Revision, string Action, string Routes, string? StickySource, string? StickyName,
        long? RestoredRevision, string UserId, long Timestamp);

    private const string Columns =
        "name AS Name, description AS Description, routes AS Routes, sticky_source AS StickySource, sticky_name AS StickyName, revision AS Revision, " +
        "creation_time AS CreationTime, created_by AS CreatedBy, last_updated_time AS LastUpdatedTime, updated_by AS UpdatedBy, " +
        "log_sample_rate AS LogSampleRate";

    private const string RevisionColumns =
        "name AS Name, revision AS Revision, action AS Action, routes AS Routes, sticky_source AS StickySource, sticky_name AS StickyName, " +
        "restored_revision AS RestoredRevision, user_id AS UserId, timestamp AS Timestamp";

    /// <summary>The most revisions one history read returns.</summary>
    public const int MaxHistoryResults = 1000;

    public SqlDatabase Database { get; } = database;

    public async Task<Deployment> CreateDeploymentAsync(DeploymentSpec spec, string? user = null, CancellationToken cancellationToken = default)
    {
        DeploymentValidator.ValidateSpec(spec);
        var who = RegistryValidator.User(user);
        var alreadyExists = $"Deployment '{spec.Name}' already exists.";
        return await Database.TranslateAsync(() => Database.WriteAsync(async (c, tx) =>
        {
            var existing = await c.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT name FROM deployments WHERE name = @name", new { name = spec.Name }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (existing is not null) throw new ResourceAlreadyExistsException(alreadyExists);
            await RequireModelsAsync(c, tx, spec.Routes, cancellationToken).ConfigureAwait(false);
            var now = Database.NowMs();
            var deployment = new Deployment(spec.Name, spec.Description, spec.Routes, spec.Sticky, 1, now, who, now, who) { LogSampleRate = spec.LogSampleRate };
            await c.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO deployments (name, description, routes, sticky_source, sticky_name, revision, creation_time, created_by, last_updated_time, updated_by, log_sample_rate)
                VALUES (@name, @description, @routes, @source, @sticky, 1, @now, @who, @now, @who, @rate)
                """,
                new { name = spec.Name, description = spec.Description, routes = RoutesJson(spec.Routes), source = Source(spec.Sticky), sticky = spec.Sticky?.Name, now, who, rate = spec.LogSampleRate },
                tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            await InsertRevisionAsync(c, tx, deployment, DeploymentAction.Create, null, who, now, cancellationToken).ConfigureAwait(false);
            return deployment;
        }, cancellationToken), alreadyExists).ConfigureAwait(false);
    }

    public async Task<Deployment> GetDeploymentAsync(string name, CancellationToken cancellationToken = default)
    {
        DeploymentValidator.ValidateName(name);
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var row = await c.QuerySingleOrDefaultAsync<DeploymentRow>(new CommandDefinition(
            $"SELECT {Columns} FROM deployments WHERE name = @name", new { name }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row is null ? throw NotFound(name) : ToDomain(row);
    }

    public async Task<IReadOnlyList<Deployment>> ListDeploymentsAsync(CancellationToken cancellationToken = default)
    {
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await c.QueryAsync<DeploymentRow>(new CommandDefinition(
            $"SELECT {Columns} FROM deployments ORDER BY name", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(ToDomain).ToList();
    }

    public Task<Deployment> UpdateDeploymentAsync(string name, DeploymentUpdate update, string? user = null, CancellationToken cancellationToken = default)
    {
        DeploymentValidator.ValidateName(name);
        DeploymentValidator.ValidateUpdate(update);
        return ChangeAsync(name, user, (_, _, current) => Task.FromResult(new Change(
            DeploymentAction.Update,
            update.Routes ?? current.Routes,
            update.ClearSticky ? null : update.Sticky ?? current.Sticky,
            update.Description ?? current.Description,
            null)
        {
            LogSampleRate = rate => update.ClearLogSampleRate ? null : update.LogSampleRate ?? rate,
        }), cancellationToken);
    }

    public Task<Deployment> CanaryAsync(string name, string modelUri, int percent, string? user = null, CancellationToken cancellationToken = default)
    {
        DeploymentValidator.ValidateName(name);
        DeploymentValidator.ParseRouteUri(modelUri, "model_uri");
        DeploymentValidator.ValidatePercent(percent);
        return ChangeAsync(name, user, (_, _, current) => Task.FromResult(new Change(
            DeploymentAction.Canary, CanaryPlan.Start(current.Routes, modelUri, percent), current.Sticky, current.Description, null)), cancellationToken);
    }

    public Task<Deployment> PromoteAsync(string name, string? user = null, CancellationToken cancellationToken = default)
    {
        DeploymentValidator.ValidateName(name);
        return ChangeAsync(name, user, (_, _, current) => Task.FromResult(new Change(
            DeploymentAction.Promote, CanaryPlan.Promote(current.Routes), current.Sticky, current.Description, null)), cancellationToken);
    }

    public Task<Deployment> RollbackAsync(string name, string? user = null, CancellationToken cancellationToken = default)
    {
        DeploymentValidator.ValidateName(name);
        return ChangeAsync(name, user, async (c, tx, current) =>
        {
            var latest = await LoadRevisionAsync(c, tx, name, current.Revision, cancellationToken).ConfigureAwait(false);
            // The revision whose routing is in force: a rollback's is the one it restored, so rolling back again goes further back.
            var inForce = latest is { Action: DeploymentAction.Rollback, RestoredRevision: { } restored } ? restored : current.Revision;
            var target = inForce - 1;
            if (target < 1)
                throw new InvalidStateException($"Deployment '{name}' has no earlier routing to roll back to (revision {inForce} is its first).");
            var previous = await LoadRevisionAsync(c, tx, name, target, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidStateException($"Deployment '{name}' has no revision {target} to roll back to.");
            return new Change(DeploymentAction.Rollback, previous.Routes, previous.Sticky, current.Description, target);
        }, cancellationToken);
    }

    public async Task<IReadOnlyList<DeploymentRevision>> GetHistoryAsync(string name, int maxResults = 100, CancellationToken cancellationToken = default)
    {
        DeploymentValidator.ValidateName(name);
        if (maxResults is < 1 or > MaxHistoryResults)
            throw new InvalidParameterValueException($"Invalid value for parameter 'max_results': {maxResults} is outside 1..{MaxHistoryResults}.");
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = (await c.QueryAsync<RevisionRow>(new CommandDefinition(
            $"SELECT {RevisionColumns} FROM deployment_revisions WHERE name = @name ORDER BY revision DESC LIMIT @maxResults",
            new { name, maxResults }, cancellationToken: cancellationToken)).ConfigureAwait(false)).AsList();
        return rows.Count == 0 ? throw NotFound(name) : rows.Select(ToDomain).ToList();
    }

    public async Task DeleteDeploymentAsync(string name, CancellationToken cancellationToken = default)
    {
        DeploymentValidator.ValidateName(name);
        await Database.WriteAsync(async (c, tx) =>
        {
            // The revisions and permissions go with it (ON DELETE CASCADE).
            var deleted = await c.ExecuteAsync(new CommandDefinition(
                "DELETE FROM deployments WHERE name = @name", new { name }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return deleted == 0 ? throw NotFound(name) : deleted;
        }, cancellationToken).ConfigureAwait(false);
    }

    // ---- The one write path of every change -------------------------------------------------------------------------

    /// <summary>A change's outcome; the log sample rate is the deployment's setting, not part of its routing, so only an update moves it.</summary>
    private sealed record Change(string Action, IReadOnlyList<DeploymentRoute> Routes, StickyKey? Sticky, string? Description, long? RestoredRevision)
    {
        public Func<double?, double?> LogSampleRate { get; init; } = current => current;
    }

    /// <summary>Locks the deployment's row, computes the change from what is stored, checks it and writes it as the next revision.</summary>
    private Task<Deployment> ChangeAsync(string name, string? user, Func<DbConnection, DbTransaction, Deployment, Task<Change>> plan, CancellationToken cancellationToken)
    {
        var who = RegistryValidator.User(user);
        return Database.WriteAsync(async (c, tx) =>
        {
            var row = await c.QuerySingleOrDefaultAsync<DeploymentRow>(new CommandDefinition(
                $"SELECT {Columns} FROM deployments WHERE name = @name{Database.ForUpdate}", new { name }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            var current = row is null ? throw NotFound(name) : ToDomain(row);
            var change = await plan(c, tx, current).ConfigureAwait(false);
            DeploymentValidator.ValidateRoutes(change.Routes);
            await RequireModelsAsync(c, tx, change.Routes, cancellationToken).ConfigureAwait(false);
            var now = Database.NowMs();
            var next = current with
            {
                Routes = change.Routes, Sticky = change.Sticky, Description = change.Description, Revision = current.Revision + 1,
                LastUpdatedTime = now, UpdatedBy = who, LogSampleRate = change.LogSampleRate(current.LogSampleRate),
            };
            await c.ExecuteAsync(new CommandDefinition(
                """
                UPDATE deployments SET description = @description, routes = @routes, sticky_source = @source, sticky_name = @sticky,
                    revision = @revision, last_updated_time = @now, updated_by = @who, log_sample_rate = @rate
                WHERE name = @name
                """,
                new
                {
                    name, description = next.Description, routes = RoutesJson(next.Routes), source = Source(next.Sticky), sticky = next.Sticky?.Name,
                    revision = next.Revision, now, who, rate = next.LogSampleRate,
                },
                tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            await InsertRevisionAsync(c, tx, next, change.Action, change.RestoredRevision, who, now, cancellationToken).ConfigureAwait(false);
            return next;
        }, cancellationToken);
    }

    private static Task InsertRevisionAsync(DbConnection c, DbTransaction tx, Deployment d, string action, long? restored, string who, long now, CancellationToken cancellationToken) =>
        c.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO deployment_revisions (name, revision, action, routes, sticky_source, sticky_name, restored_revision, user_id, timestamp)
            VALUES (@name, @revision, @action, @routes, @source, @sticky, @restored, @who, @now)
            """,
            new { name = d.Name, revision = d.Revision, action, routes = RoutesJson(d.Routes), source = Source(d.Sticky), sticky = d.Sticky?.Name, restored, who, now },
            tx, cancellationToken: cancellationToken));

    private static async Task<DeploymentRevision?> LoadRevisionAsync(DbConnection c, DbTransaction tx, string name, long revision, CancellationToken cancellationToken)
    {
        var row = await c.QuerySingleOrDefaultAsync<RevisionRow>(new CommandDefinition(
            $"SELECT {RevisionColumns} FROM deployment_revisions WHERE name = @name AND revision = @revision",
            new { name, revision }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row is null ? null : ToDomain(row);
    }

    /// <summary>Every route's registered model must exist, and a version a route names; the error names the route and the model.</summary>
    private static async Task RequireModelsAsync(DbConnection c, DbTransaction tx, IReadOnlyList<DeploymentRoute> routes, CancellationToken cancellationToken)
    {
        for (var i = 0; i < routes.Count; i++)
        {
            var uri = ModelUri.Parse(routes[i].ModelUri, $"routes[{i}].model_uri");
            var name = DeploymentValidator.ModelName(routes[i]);
            var model = await c.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT name FROM registered_models WHERE name = @name", new { name }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (model is null)
                throw new ResourceDoesNotExistException($"Registered model '{name}' named by routes[{i}].model_uri ('{uri.Text}') does not exist.");
            if (uri is ModelUri.Version v)
            {
                var number = RegistryValidator.ParseVersion(v.Number);
                var version = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
                    "SELECT version FROM model_versions WHERE name = @name AND version = @number", new { name, number }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
                if (version is null)
                    throw new ResourceDoesNotExistException($"Model version {number} of registered model '{name}' named by routes[{i}].model_uri ('{uri.Text}') does not exist.");
            }
        }
    }

    // ---- Rows ---------------------------------------------------------------------------------------------------

    private static string RoutesJson(IReadOnlyList<DeploymentRoute> routes) => JsonSerializer.Serialize(routes.ToWire(), DeploymentJson.Default.ListRouteMessage);

    private static List<DeploymentRoute> Routes(string json) =>
        (JsonSerializer.Deserialize(json, DeploymentJson.Default.ListRouteMessage) ?? []).ToDomain() ?? [];

    private static string? Source(StickyKey? sticky) => sticky?.Source switch
    {
        StickyKeySource.Header => "header",
        StickyKeySource.Field => "field",
        _ => null,
    };

    private static StickyKey? Sticky(string? source, string? name) => (source, name) switch
    {
        ("header", { } n) => StickyKey.Header(n),
        ("field", { } n) => StickyKey.Field(n),
        _ => null,
    };

    private static Deployment ToDomain(DeploymentRow r) => new(r.Name, r.Description, Routes(r.Routes), Sticky(r.StickySource, r.StickyName), r.Revision,
        r.CreationTime, r.CreatedBy, r.LastUpdatedTime, r.UpdatedBy) { LogSampleRate = r.LogSampleRate };

    private static DeploymentRevision ToDomain(RevisionRow r) =>
        new(r.Name, r.Revision, r.Action, Routes(r.Routes), Sticky(r.StickySource, r.StickyName), r.RestoredRevision, r.UserId, r.Timestamp);

    private static ResourceDoesNotExistException NotFound(string name) => new($"Deployment '{name}' does not exist.");
}
