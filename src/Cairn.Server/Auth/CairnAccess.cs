using System.Globalization;
using System.Security.Claims;
using Cairn.Access;
using Cairn.Server.Hosting;
using Cairn.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Auth;

/// <summary>
/// A caller's permission on an experiment or registered model: everything with access control off or for an admin;
/// otherwise what was granted, or the configured default where nothing was. A target that does not exist has no grant,
/// so it gets the default: a caller learns that it is missing only when the default would have let them act on it.
/// </summary>
internal sealed class CairnAccess(IOptions<CairnAuthOptions> options, ServerStores stores)
{
    /// <summary>Whether access control is on.</summary>
    public bool Enabled => options.Value.Enabled;

    /// <summary>The permission of a user on what nobody granted them anything on.</summary>
    public Permission Default => Permissions.Parse(options.Value.DefaultPermission, CairnAuthOptions.Section + ":DefaultPermission");

    private SqlPermissionStore Store => stores.Inner.Permissions
        ?? throw new InvalidOperationException("Access control needs a database backend store, not an HTTP one.");

    /// <summary>Whether <paramref name="user"/> may do anything (access control off, or an admin).</summary>
    public bool IsUnrestricted(ClaimsPrincipal user) => !Enabled || user.IsAdmin();

    public async Task<Permission> ExperimentAsync(ClaimsPrincipal user, string? experimentId, CancellationToken cancellationToken)
    {
        if (IsUnrestricted(user)) return Permission.Manage;
        if (user.UserId() is not { } userId || string.IsNullOrEmpty(experimentId)) return Default;
        return await Store.GetExperimentGrantAsync(userId, experimentId, cancellationToken).ConfigureAwait(false) ?? Default;
    }

    /// <summary>The permission on the run's experiment (the default when there is no such run).</summary>
    public async Task<Permission> RunAsync(ClaimsPrincipal user, string? runId, CancellationToken cancellationToken)
    {
        if (IsUnrestricted(user)) return Permission.Manage;
        if (string.IsNullOrEmpty(runId)) return Default;
        var experimentId = await Store.GetExperimentOfRunAsync(runId, cancellationToken).ConfigureAwait(false);
        return await ExperimentAsync(user, experimentId, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Permission> RegisteredModelAsync(ClaimsPrincipal user, string? name, CancellationToken cancellationToken)
    {
        if (IsUnrestricted(user)) return Permission.Manage;
        if (user.UserId() is not { } userId || string.IsNullOrEmpty(name)) return Default;
        return await Store.GetRegisteredModelGrantAsync(userId, name, cancellationToken).ConfigureAwait(false) ?? Default;
    }

    public async Task<Permission> DeploymentAsync(ClaimsPrincipal user, string? name, CancellationToken cancellationToken)
    {
        if (IsUnrestricted(user)) return Permission.Manage;
        if (user.UserId() is not { } userId || string.IsNullOrEmpty(name)) return Default;
        return await Store.GetDeploymentGrantAsync(userId, name, cancellationToken).ConfigureAwait(false) ?? Default;
    }

    /// <summary>Which deployment names <paramref name="user"/> may read (one query for the whole list).</summary>
    public async Task<Func<string, bool>> DeploymentReadFilterAsync(ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (IsUnrestricted(user)) return static _ => true;
        var grants = user.UserId() is { } userId
            ? await Store.GetDeploymentGrantsAsync(userId, cancellationToken).ConfigureAwait(false)
            : new Dictionary<string, Permission>();
        return Readable(grants, Default);
    }

    /// <summary>Which experiment ids <paramref name="user"/> may read (one query for the whole search).</summary>
    public async Task<Func<string, bool>> ExperimentReadFilterAsync(ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (IsUnrestricted(user)) return static _ => true;
        var grants = user.UserId() is { } userId
            ? await Store.GetExperimentGrantsAsync(userId, cancellationToken).ConfigureAwait(false)
            : new Dictionary<string, Permission>();
        var readable = Readable(grants, Default);
        // "007" names experiment 7 to the store, so it must to the filter as well.
        return id => readable(long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n.ToString(CultureInfo.InvariantCulture) : id);
    }

    /// <summary>Which registered model names <paramref name="user"/> may read (one query for the whole search).</summary>
    public async Task<Func<string, bool>> RegisteredModelReadFilterAsync(ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (IsUnrestricted(user)) return static _ => true;
        var grants = user.UserId() is { } userId
            ? await Store.GetRegisteredModelGrantsAsync(userId, cancellationToken).ConfigureAwait(false)
            : new Dictionary<string, Permission>();
        return Readable(grants, Default);
    }

    /// <summary>Gives the signed-in creator of an experiment or model MANAGE on it; nothing with access control off.</summary>
    public Task GrantCreatorAsync(HttpContext context, CairnResource resource, string id)
    {
        if (!Enabled || context.User.UserId() is not { } userId) return Task.CompletedTask;
        return resource switch
        {
            CairnResource.Experiment => Store.GrantExperimentAsync(id, userId, Permission.Manage, CancellationToken.None),
            CairnResource.RegisteredModel => Store.GrantRegisteredModelAsync(id, userId, Permission.Manage, CancellationToken.None),
            CairnResource.Deployment => Store.GrantDeploymentAsync(id, userId, Permission.Manage, CancellationToken.None),
            _ => throw new ArgumentOutOfRangeException(nameof(resource), resource, "Only experiments, registered models and deployments have creators."),
        };
    }

    private static Func<string, bool> Readable(IReadOnlyDictionary<string, Permission> grants, Permission fallback) =>
        id => (grants.TryGetValue(id, out var p) ? p : fallback) >= Permission.Read;
}
