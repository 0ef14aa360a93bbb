using System.Data.Common;
using System.Globalization;
using Cairn.Access;
using Dapper;

namespace Cairn.Storage;

/// <summary>A user's permission on one experiment, as granted.</summary>
internal sealed record ExperimentPermissionGrant(string ExperimentId, long UserId, Permission Permission);

/// <summary>A user's permission on one registered model, as granted.</summary>
internal sealed record RegisteredModelPermissionGrant(string Name, long UserId, Permission Permission);

/// <summary>A user's permission on one deployment, as granted.</summary>
internal sealed record DeploymentPermissionGrant(string Name, long UserId, Permission Permission);

/// <summary>
/// Who may do what with each experiment, registered model and deployment (tables <c>experiment_permissions</c>,
/// <c>registered_model_permissions</c>, <c>deployment_permissions</c>; the last two share one implementation,
/// <c>SqlPermissionStore.Named.cs</c>), on the same <see cref="SqlDatabase"/> as the other stores: on SQLite its writes go
/// through the one writer. A grant goes with its user (and with its experiment, model or deployment when that is purged); a
/// renamed model keeps its grants. Per-request reads are cached (<see cref="GrantCache"/>). What a missing grant means (the
/// configured default) is the caller's decision.
/// </summary>
internal sealed partial class SqlPermissionStore(SqlDatabase database)
{
    private sealed record ExperimentRow(long ExperimentId, long UserId, string Permission);

    /// <summary>The database this store reads and writes.</summary>
    public SqlDatabase Database { get; } = database;

    /// <summary>Grants and run experiments read recently (the per-request checks); every grant write empties it.</summary>
    private GrantCache Grants => Database.Grants;

    // ---- What authorization reads on every request ------------------------------------------

    /// <summary>The permission granted to the user on the experiment; null when none is (or the id names no experiment).</summary>
    public async Task<Permission?> GetExperimentGrantAsync(long userId, string experimentId, CancellationToken cancellationToken = default)
    {
        if (ParseExperimentId(experimentId) is not { } id) return null;
        if (Grants.TryGetExperiment(userId, id, out var cached)) return cached;
        var generation = Grants.Generation;
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var text = await c.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT permission FROM experiment_permissions WHERE experiment_id = @id AND user_id = @userId",
            new { id, userId }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        Permission? grant = text is null ? null : Stored(text);
        Grants.AddExperiment(userId, id, grant, generation);
        return grant;
    }

    /// <summary>The permission granted to the user on the registered model; null when none is.</summary>
    public Task<Permission?> GetRegisteredModelGrantAsync(long userId, string name, CancellationToken cancellationToken = default) =>
        GetNamedGrantAsync(Models, userId, name, cancellationToken);

    /// <summary>The experiment a run belongs to; null when there is no such run.</summary>
    public async Task<string?> GetExperimentOfRunAsync(string runId, CancellationToken cancellationToken = default)
    {
        if (Grants.TryGetRun(runId, out var cached)) return cached.ToString(CultureInfo.InvariantCulture);
        var generation = Grants.Generation;
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var id = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT experiment_id FROM runs WHERE run_uuid = @runId", new { runId }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        // Only a run that exists is remembered: one created a moment later must be found.
        if (id is { } experimentId) Grants.AddRun(runId, experimentId, generation);
        return id?.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Every experiment permission granted to the user, by experiment id (searches filter with it).</summary>
    public async Task<IReadOnlyDictionary<string, Permission>> GetExperimentGrantsAsync(long userId, CancellationToken cancellationToken = default) =>
        (await ListExperimentGrantsAsync(userId, cancellationToken).ConfigureAwait(false)).ToDictionary(g => g.ExperimentId, g => g.Permission, StringComparer.Ordinal);

    /// <summary>Every registered model permission granted to the user, by model name (searches filter with it).</summary>
    public async Task<IReadOnlyDictionary<string, Permission>> GetRegisteredModelGrantsAsync(long userId, CancellationToken cancellationToken = default) =>
        (await ListRegisteredModelGrantsAsync(userId, cancellationToken).ConfigureAwait(false)).ToDictionary(g => g.Name, g => g.Permission, StringComparer.Ordinal);

    public async Task<IReadOnlyList<ExperimentPermissionGrant>> ListExperimentGrantsAsync(long userId, CancellationToken cancellationToken = default)
    {
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await c.QueryAsync<ExperimentRow>(new CommandDefinition(
            "SELECT experiment_id AS ExperimentId, user_id AS UserId, permission AS Permission FROM experiment_permissions WHERE user_id = @userId ORDER BY experiment_id",
            new { userId }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(ToGrant).ToList();
    }

    public async Task<IReadOnlyList<RegisteredModelPermissionGrant>> ListRegisteredModelGrantsAsync(long userId, CancellationToken cancellationToken = default) =>
        (await ListNamedGrantsAsync(Models, userId, cancellationToken).ConfigureAwait(false)).Select(g => new RegisteredModelPermissionGrant(g.Name, g.UserId, g.Permission)).ToList();

    // ---- Grants by user id (the creator of an experiment or model gets MANAGE) -----------------

    /// <summary>Grants (or changes) the user's permission on the experiment.</summary>
    public Task GrantExperimentAsync(string experimentId, long userId, Permission permission, CancellationToken cancellationToken = default)
    {
        var id = ParseExperimentId(experimentId) ?? throw ExperimentNotFound(experimentId);
        return WriteGrantsAsync((c, tx) => c.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO experiment_permissions (experiment_id, user_id, permission) VALUES (@id, @userId, @p)
            ON CONFLICT (experiment_id, user_id) DO UPDATE SET permission = excluded.permission
            """, new { id, userId, p = permission.Name() }, tx, cancellationToken: cancellationToken)), cancellationToken);
    }

    /// <summary>Grants (or changes) the user's permission on the registered model.</summary>
    public Task GrantRegisteredModelAsync(string name, long userId, Permission permission, CancellationToken cancellationToken = default) =>
        GrantNamedAsync(Models, name, userId, permission, cancellationToken);

    // ---- MLflow's permission API (by user name) ------------------------------------------------

    public async Task<ExperimentPermissionGrant> CreateExperimentPermissionAsync(string experimentId, string username, Permission permission, CancellationToken cancellationToken = default)
    {
        var alreadyExists = $"Experiment permission (experiment_id={experimentId}, username={username}) already exists.";
        return await Database.TranslateAsync(() => WriteGrantsAsync(async (c, tx) =>
        {
            var userId = await UserIdAsync(c, tx, username, cancellationToken).ConfigureAwait(false);
            var id = await RequireExperimentAsync(c, tx, experimentId, cancellationToken).ConfigureAwait(false);
            var existing = await c.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT permission FROM experiment_permissions WHERE experiment_id = @id AND user_id = @userId",
                new { id, userId }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (existing is not null) throw new ResourceAlreadyExistsException(alreadyExists);
            await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO experiment_permissions (experiment_id, user_id, permission) VALUES (@id, @userId, @p)",
                new { id, userId, p = permission.Name() }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return new ExperimentPermissionGrant(id.ToString(CultureInfo.InvariantCulture), userId, permission);
        }, cancellationToken), alreadyExists).ConfigureAwait(false);
    }

    public async Task<ExperimentPermissionGrant> GetExperimentPermissionAsync(string experimentId, string username, CancellationToken cancellationToken = default)
    {
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var userId = await UserIdAsync(c, null, username, cancellationToken).ConfigureAwait(false);
        var text = ParseExperimentId(experimentId) is { } id
            ? await c.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT permission FROM experiment_permissions WHERE experiment_id = @id AND user_id = @userId",
                new { id, userId }, cancellationToken: cancellationToken)).ConfigureAwait(false)
            : null;
        return text is null
            ? throw ExperimentPermissionNotFound(experimentId, username)
            : new ExperimentPermissionGrant(experimentId, userId, Stored(text));
    }

    public Task UpdateExperimentPermissionAsync(string experimentId, string username, Permission permission, CancellationToken cancellationToken = default) =>
        WriteGrantsAsync(async (c, tx) =>
        {
            var userId = await UserIdAsync(c, tx, username, cancellationToken).ConfigureAwait(false);
            var changed = ParseExperimentId(experimentId) is { } id
                ? await c.ExecuteAsync(new CommandDefinition(
                    "UPDATE experiment_permissions SET permission = @p WHERE experiment_id = @id AND user_id = @userId",
                    new { id, userId, p = permission.Name() }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)
                : 0;
            return changed == 0 ? throw ExperimentPermissionNotFound(experimentId, username) : changed;
        }, cancellationToken);

    public Task DeleteExperimentPermissionAsync(string experimentId, string username, CancellationToken cancellationToken = default) =>
        WriteGrantsAsync(async (c, tx) =>
        {
            var userId = await UserIdAsync(c, tx, username, cancellationToken).ConfigureAwait(false);
            var changed = ParseExperimentId(experimentId) is { } id
                ? await c.ExecuteAsync(new CommandDefinition(
                    "DELETE FROM experiment_permissions WHERE experiment_id = @id AND user_id = @userId",
                    new { id, userId }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)
                : 0;
            return changed == 0 ? throw ExperimentPermissionNotFound(experimentId, username) : changed;
        }, cancellationToken);

    public async Task<RegisteredModelPermissionGrant> CreateRegisteredModelPermissionAsync(string name, string username, Permission permission, CancellationToken cancellationToken = default) =>
        new(name, await CreateNamedPermissionAsync(Models, name, username, permission, cancellationToken).ConfigureAwait(false), permission);

    public async Task<RegisteredModelPermissionGrant> GetRegisteredModelPermissionAsync(string name, string username, CancellationToken cancellationToken = default)
    {
        var (userId, permission) = await GetNamedPermissionAsync(Models, name, username, cancellationToken).ConfigureAwait(false);
        return new RegisteredModelPermissionGrant(name, userId, permission);
    }

    public Task UpdateRegisteredModelPermissionAsync(string name, string username, Permission permission, CancellationToken cancellationToken = default) =>
        UpdateNamedPermissionAsync(Models, name, username, permission, cancellationToken);

    public Task DeleteRegisteredModelPermissionAsync(string name, string username, CancellationToken cancellationToken = default) =>
        DeleteNamedPermissionAsync(Models, name, username, cancellationToken);

    // ---- Deployments (table deployment_permissions, migration 8): the same API, by deployment name ----------

    /// <summary>The permission granted to the user on the deployment; null when none is.</summary>
    public Task<Permission?> GetDeploymentGrantAsync(long userId, string name, CancellationToken cancellationToken = default) =>
        GetNamedGrantAsync(Deployments, userId, name, cancellationToken);

    /// <summary>Every deployment permission granted to the user, by deployment name (the list filters with it).</summary>
    public async Task<IReadOnlyDictionary<string, Permission>> GetDeploymentGrantsAsync(long userId, CancellationToken cancellationToken = default) =>
        (await ListDeploymentGrantsAsync(userId, cancellationToken).ConfigureAwait(false)).ToDictionary(g => g.Name, g => g.Permission, StringComparer.Ordinal);

    public async Task<IReadOnlyList<DeploymentPermissionGrant>> ListDeploymentGrantsAsync(long userId, CancellationToken cancellationToken = default) =>
        (await ListNamedGrantsAsync(Deployments, userId, cancellationToken).ConfigureAwait(false)).Select(g => new DeploymentPermissionGrant(g.Name, g.UserId, g.Permission)).ToList();

    /// <summary>Grants (or changes) the user's permission on the deployment (its creator gets MANAGE).</summary>
    public Task GrantDeploymentAsync(string name, long userId, Permission permission, CancellationToken cancellationToken = default) =>
        GrantNamedAsync(Deployments, name, userId, permission, cancellationToken);

    public async Task<DeploymentPermissionGrant> CreateDeploymentPermissionAsync(string name, string username, Permission permission, CancellationToken cancellationToken = default) =>
        new(name, await CreateNamedPermissionAsync(Deployments, name, username, permission, cancellationToken).ConfigureAwait(false), permission);

    public async Task<DeploymentPermissionGrant> GetDeploymentPermissionAsync(string name, string username, CancellationToken cancellationToken = default)
    {
        var (userId, permission) = await GetNamedPermissionAsync(Deployments, name, username, cancellationToken).ConfigureAwait(false);
        return new DeploymentPermissionGrant(name, userId, permission);
    }

    public Task UpdateDeploymentPermissionAsync(string name, string username, Permission permission, CancellationToken cancellationToken = default) =>
        UpdateNamedPermissionAsync(Deployments, name, username, permission, cancellationToken);

    public Task DeleteDeploymentPermissionAsync(string name, string username, CancellationToken cancellationToken = default) =>
        DeleteNamedPermissionAsync(Deployments, name, username, cancellationToken);

    // ---- Helpers -----------------------------------------------------------------------------

    /// <summary>A write to the grant tables; the cache is emptied once it has committed (or failed), never before.</summary>
    private async Task<T> WriteGrantsAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        try
        {
            return await Database.WriteAsync(work, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Database.Grants.Invalidate();
        }
    }

    /// <summary>Experiment ids are decimal integers; anything else names no experiment.</summary>
    private static long? ParseExperimentId(string? experimentId) =>
        long.TryParse(experimentId, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : null;

    /// <summary>A stored name this version does not know (written by a newer Cairn) grants nothing.</summary>
    private static Permission Stored(string text) => Permissions.TryParse(text, out var p) ? p : Permission.NoPermissions;

    private static ExperimentPermissionGrant ToGrant(ExperimentRow r) =>
        new(r.ExperimentId.ToString(CultureInfo.InvariantCulture), r.UserId, Stored(r.Permission));

    private static async Task<long> UserIdAsync(DbConnection c, DbTransaction? tx, string username, CancellationToken cancellationToken) =>
        await c.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT id FROM users WHERE username = @username", new { username }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)
        ?? throw new ResourceDoesNotExistException($"User with username={username} not found");

    private static async Task<long> RequireExperimentAsync(DbConnection c, DbTransaction tx, string experimentId, CancellationToken cancellationToken)
    {
        var id = ParseExperimentId(experimentId) ?? throw ExperimentNotFound(experimentId);
        var found = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT experiment_id FROM experiments WHERE experiment_id = @id", new { id }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return found ?? throw ExperimentNotFound(experimentId);
    }

    private static ResourceDoesNotExistException ExperimentNotFound(string experimentId) => new($"No Experiment with id={experimentId} exists");

    private static ResourceDoesNotExistException ExperimentPermissionNotFound(string experimentId, string username) =>
        new($"Experiment permission with experiment_id={experimentId} and username={username} not found");
}
