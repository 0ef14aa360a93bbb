namespace Cairn.Serving;

/// <summary>
/// Named deployments and their revision history: over a database (<c>SqlDeploymentStore</c>) or a server's REST API
/// (<see cref="HttpDeploymentStore"/>), with the same rules and the same exceptions. Every change checks its input with
/// <see cref="DeploymentValidator"/>, checks that each route's registered model exists (RESOURCE_DOES_NOT_EXIST naming it),
/// and writes a new revision recording <c>user</c> and the time. Unknown deployments are RESOURCE_DOES_NOT_EXIST.
/// </summary>
public interface IDeploymentStore
{
    /// <summary>Creates a deployment at revision 1; a taken name is RESOURCE_ALREADY_EXISTS.</summary>
    Task<Deployment> CreateDeploymentAsync(DeploymentSpec spec, string? user = null, CancellationToken cancellationToken = default);

    Task<Deployment> GetDeploymentAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Every deployment, by name.</summary>
    Task<IReadOnlyList<Deployment>> ListDeploymentsAsync(CancellationToken cancellationToken = default);

    /// <summary>Replaces what <paramref name="update"/> sets (routes, description, sticky key).</summary>
    Task<Deployment> UpdateDeploymentAsync(string name, DeploymentUpdate update, string? user = null, CancellationToken cancellationToken = default);

    /// <summary>Puts <paramref name="modelUri"/> beside the primary route at <paramref name="percent"/> (see <see cref="CanaryPlan.Start"/>).</summary>
    Task<Deployment> CanaryAsync(string name, string modelUri, int percent, string? user = null, CancellationToken cancellationToken = default);

    /// <summary>Gives the running canary all the traffic (see <see cref="CanaryPlan.Promote"/>); INVALID_STATE when none runs.</summary>
    Task<Deployment> PromoteAsync(string name, string? user = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Restores the routing (routes and sticky key) of the revision before the current one, as a new revision. A rollback
    /// after a rollback goes one revision further back; INVALID_STATE when there is nothing before.
    /// </summary>
    Task<Deployment> RollbackAsync(string name, string? user = null, CancellationToken cancellationToken = default);

    /// <summary>The revisions of a deployment, newest first.</summary>
    Task<IReadOnlyList<DeploymentRevision>> GetHistoryAsync(string name, int maxResults = 100, CancellationToken cancellationToken = default);

    /// <summary>Deletes a deployment with its history and permissions.</summary>
    Task DeleteDeploymentAsync(string name, CancellationToken cancellationToken = default);
}
