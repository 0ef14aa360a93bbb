using System.Data.Common;
using Cairn.Access;
using Dapper;

namespace Cairn.Storage;

/// <summary>
/// The grants of resources known by name, registered models and deployments: one implementation over two tables of the
/// same shape (<c>name, user_id, permission</c>), each naming its resource the way its errors do.
/// </summary>
internal sealed partial class SqlPermissionStore
{
    /// <summary>A table of grants on a named resource. The table names are constants, the only text written into SQL.</summary>
    private sealed record NamedResource(string Kind, string GrantTable, string ResourceTable, string Label, Func<string, string> Missing);

    private static readonly NamedResource Models = new("registered_model", "registered_model_permissions", "registered_models", "Registered model",
        name => $"Registered Model with name={name} not found");

    private static readonly NamedResource Deployments = new("deployment", "deployment_permissions", "deployments", "Deployment",
        name => $"Deployment '{name}' does not exist.");

    private sealed record NamedRow(string Name, long UserId, string Permission);

    /// <summary>The permission granted to the user on the named resource, or null; cached like every per-request read.</summary>
    private async Task<Permission?> GetNamedGrantAsync(NamedResource resource, long userId, string name, CancellationToken cancellationToken)
    {
        if (Grants.TryGetNamed(resource.Kind, userId, name, out var cached)) return cached;
        var generation = Grants.Generation;
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var text = await c.ExecuteScalarAsync<string?>(new CommandDefinition(
            $"SELECT permission FROM {resource.GrantTable} WHERE name = @name AND user_id = @userId",
            new { name, userId }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        Permission? grant = text is null ? null : Stored(text);
        Grants.AddNamed(resource.Kind, userId, name, grant, generation);
        return grant;
    }

    private async Task<IReadOnlyList<(string Name, long UserId, Permission Permission)>> ListNamedGrantsAsync(NamedResource resource, long userId, CancellationToken cancellationToken)
    {
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await c.QueryAsync<NamedRow>(new CommandDefinition(
            $"SELECT name AS Name, user_id AS UserId, permission AS Permission FROM {resource.GrantTable} WHERE user_id = @userId ORDER BY name",
            new { userId }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => (r.Name, r.UserId, Stored(r.Permission))).ToList();
    }

    private Task GrantNamedAsync(NamedResource resource, string name, long userId, Permission permission, CancellationToken cancellationToken) =>
        WriteGrantsAsync((c, tx) => c.ExecuteAsync(new CommandDefinition(
            $"""
            INSERT INTO {resource.GrantTable} (name, user_id, permission) VALUES (@name, @userId, @p)
            ON CONFLICT (name, user_id) DO UPDATE SET permission = excluded.permission
            """, new { name, userId, p = permission.Name() }, tx, cancellationToken: cancellationToken)), cancellationToken);

    /// <summary>MLflow's permissions/create for a named resource; answers the user's id.</summary>
    private async Task<long> CreateNamedPermissionAsync(NamedResource resource, string name, string username, Permission permission, CancellationToken cancellationToken)
    {
        var alreadyExists = $"{resource.Label} permission (name={name}, username={username}) already exists.";
        return await Database.TranslateAsync(() => WriteGrantsAsync(async (c, tx) =>
        {
            var userId = await UserIdAsync(c, tx, username, cancellationToken).ConfigureAwait(false);
            var found = await c.ExecuteScalarAsync<string?>(new CommandDefinition(
                $"SELECT name FROM {resource.ResourceTable} WHERE name = @name", new { name }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (found is null) throw new ResourceDoesNotExistException(resource.Missing(name));
            var existing = await c.ExecuteScalarAsync<string?>(new CommandDefinition(
                $"SELECT permission FROM {resource.GrantTable} WHERE name = @name AND user_id = @userId",
                new { name, userId }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (existing is not null) throw new ResourceAlreadyExistsException(alreadyExists);
            await c.ExecuteAsync(new CommandDefinition(
                $"INSERT INTO {resource.GrantTable} (name, user_id, permission) VALUES (@name, @userId, @p)",
                new { name, userId, p = permission.Name() }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return userId;
        }, cancellationToken), alreadyExists).ConfigureAwait(false);
    }

    private async Task<(long UserId, Permission Permission)> GetNamedPermissionAsync(NamedResource resource, string name, string username, CancellationToken cancellationToken)
    {
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var userId = await UserIdAsync(c, null, username, cancellationToken).ConfigureAwait(false);
        var text = await c.ExecuteScalarAsync<string?>(new CommandDefinition(
            $"SELECT permission FROM {resource.GrantTable} WHERE name = @name AND user_id = @userId",
            new { name, userId }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return text is null ? throw NamedPermissionNotFound(resource, name, username) : (userId, Stored(text));
    }

    private Task UpdateNamedPermissionAsync(NamedResource resource, string name, string username, Permission permission, CancellationToken cancellationToken) =>
        WriteGrantsAsync(async (c, tx) =>
        {
            var userId = await UserIdAsync(c, tx, username, cancellationToken).ConfigureAwait(false);
            var changed = await c.ExecuteAsync(new CommandDefinition(
                $"UPDATE {resource.GrantTable} SET permission = @p WHERE name = @name AND user_id = @userId",
                new { name, userId, p = permission.Name() }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return changed == 0 ? throw NamedPermissionNotFound(resource, name, username) : changed;
        }, cancellationToken);

    private Task DeleteNamedPermissionAsync(NamedResource resource, string name, string username, CancellationToken cancellationToken) =>
        WriteGrantsAsync(async (c, tx) =>
        {
            var userId = await UserIdAsync(c, tx, username, cancellationToken).ConfigureAwait(false);
            var changed = await c.ExecuteAsync(new CommandDefinition(
                $"DELETE FROM {resource.GrantTable} WHERE name = @name AND user_id = @userId",
                new { name, userId }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return changed == 0 ? throw NamedPermissionNotFound(resource, name, username) : changed;
        }, cancellationToken);

    private static ResourceDoesNotExistException NamedPermissionNotFound(NamedResource resource, string name, string username) =>
        new($"{resource.Label} permission with name={name} and username={username} not found");
}
