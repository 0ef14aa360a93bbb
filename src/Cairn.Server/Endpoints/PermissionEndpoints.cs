using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Cairn.Access;
using Cairn.Server.Auth;
using Cairn.Server.Hosting;
using Cairn.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static Cairn.Server.Endpoints.MlflowRequest;

namespace Cairn.Server.Endpoints;

/// <summary>
/// MLflow's permission API (its basic-auth app's routes, bodies and errors): experiments/permissions/create|get|update|delete
/// and registered-models/permissions/create|get|update|delete. Each needs MANAGE on the experiment or model, checked by
/// <see cref="CairnAuthorization"/> from the route's metadata. GET reads the query string; the others a JSON body.
/// </summary>
internal static class PermissionEndpoints
{
    public static void MapPermissionEndpoints(this IEndpointRouteBuilder api)
    {
        var json = PermissionJson.Default;

        api.MapPost("experiments/permissions/create", async (HttpRequest request, ServerStores stores) =>
        {
            var body = await BodyAsync(request);
            var grant = await Store(stores).CreateExperimentPermissionAsync(Required(body.ExperimentId, "experiment_id"), Required(body.Username, "username"),
                Permissions.Parse(Required(body.Permission, "permission")), request.HttpContext.RequestAborted);
            return Results.Json(new ExperimentPermissionResponse { ExperimentPermission = ToWire(grant) }, json.ExperimentPermissionResponse);
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Manage, from: CairnTarget.ExperimentId);

        api.MapGet("experiments/permissions/get", async (HttpRequest request, ServerStores stores) =>
        {
            var grant = await Store(stores).GetExperimentPermissionAsync(Required(Query(request, "experiment_id"), "experiment_id"),
                Required(Query(request, "username"), "username"), request.HttpContext.RequestAborted);
            return Results.Json(new ExperimentPermissionResponse { ExperimentPermission = ToWire(grant) }, json.ExperimentPermissionResponse);
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Manage, from: CairnTarget.ExperimentId);

        api.MapPatch("experiments/permissions/update", async (HttpRequest request, ServerStores stores) =>
        {
            var body = await BodyAsync(request);
            await Store(stores).UpdateExperimentPermissionAsync(Required(body.ExperimentId, "experiment_id"), Required(body.Username, "username"),
                Permissions.Parse(Required(body.Permission, "permission")), request.HttpContext.RequestAborted);
            return Empty();
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Manage, from: CairnTarget.ExperimentId);

        api.MapDelete("experiments/permissions/delete", async (HttpRequest request, ServerStores stores) =>
        {
            var body = await BodyAsync(request);
            await Store(stores).DeleteExperimentPermissionAsync(Required(body.ExperimentId, "experiment_id"), Required(body.Username, "username"),
                request.HttpContext.RequestAborted);
            return Empty();
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Manage, from: CairnTarget.ExperimentId);

        api.MapNamedPermissionEndpoints("registered-models", CairnResource.RegisteredModel, CairnTarget.ModelName,
            (store, name, user, p, ct) => store.CreateRegisteredModelPermissionAsync(name, user, p, ct),
            (store, name, user, ct) => store.GetRegisteredModelPermissionAsync(name, user, ct),
            (store, name, user, p, ct) => store.UpdateRegisteredModelPermissionAsync(name, user, p, ct),
            (store, name, user, ct) => store.DeleteRegisteredModelPermissionAsync(name, user, ct),
            grant => new RegisteredModelPermissionResponse { RegisteredModelPermission = ToWire(grant) }, json.RegisteredModelPermissionResponse);

        // Cairn's own, shaped as the registered model ones (body or query: name, username, permission).
        api.MapNamedPermissionEndpoints("deployments", CairnResource.Deployment, CairnTarget.DeploymentName,
            (store, name, user, p, ct) => store.CreateDeploymentPermissionAsync(name, user, p, ct),
            (store, name, user, ct) => store.GetDeploymentPermissionAsync(name, user, ct),
            (store, name, user, p, ct) => store.UpdateDeploymentPermissionAsync(name, user, p, ct),
            (store, name, user, ct) => store.DeleteDeploymentPermissionAsync(name, user, ct),
            grant => new DeploymentPermissionResponse { DeploymentPermission = ToWire(grant) }, json.DeploymentPermissionResponse);
    }

    /// <summary>
    /// <c>{prefix}/permissions/create|get|update|delete</c> for a resource known by name: MANAGE on it (found by
    /// <paramref name="target"/>) for each; create and get answer the grant, update and delete an empty object.
    /// </summary>
    private static void MapNamedPermissionEndpoints<TGrant, TResponse>(this IEndpointRouteBuilder api, string prefix, CairnResource resource, CairnTarget target,
        Func<SqlPermissionStore, string, string, Permission, CancellationToken, Task<TGrant>> create,
        Func<SqlPermissionStore, string, string, CancellationToken, Task<TGrant>> get,
        Func<SqlPermissionStore, string, string, Permission, CancellationToken, Task> update,
        Func<SqlPermissionStore, string, string, CancellationToken, Task> delete,
        Func<TGrant, TResponse> respond, JsonTypeInfo<TResponse> type)
    {
        api.MapPost(prefix + "/permissions/create", async (HttpRequest request, ServerStores stores) =>
        {
            var body = await BodyAsync(request);
            var grant = await create(Store(stores), Required(body.Name, "name"), Required(body.Username, "username"),
                Permissions.Parse(Required(body.Permission, "permission")), request.HttpContext.RequestAborted);
            return Results.Json(respond(grant), type);
        }).RequireCairnPermission(resource, Permission.Manage, from: target);

        api.MapGet(prefix + "/permissions/get", async (HttpRequest request, ServerStores stores) =>
        {
            var grant = await get(Store(stores), Required(Query(request, "name"), "name"), Required(Query(request, "username"), "username"),
                request.HttpContext.RequestAborted);
            return Results.Json(respond(grant), type);
        }).RequireCairnPermission(resource, Permission.Manage, from: target);

        api.MapPatch(prefix + "/permissions/update", async (HttpRequest request, ServerStores stores) =>
        {
            var body = await BodyAsync(request);
            await update(Store(stores), Required(body.Name, "name"), Required(body.Username, "username"),
                Permissions.Parse(Required(body.Permission, "permission")), request.HttpContext.RequestAborted);
            return Empty();
        }).RequireCairnPermission(resource, Permission.Manage, from: target);

        api.MapDelete(prefix + "/permissions/delete", async (HttpRequest request, ServerStores stores) =>
        {
            var body = await BodyAsync(request);
            await delete(Store(stores), Required(body.Name, "name"), Required(body.Username, "username"), request.HttpContext.RequestAborted);
            return Empty();
        }).RequireCairnPermission(resource, Permission.Manage, from: target);
    }

    public static DeploymentPermissionMessage ToWire(DeploymentPermissionGrant grant) =>
        new() { Name = grant.Name, UserId = grant.UserId, Permission = grant.Permission.Name() };

    public static ExperimentPermissionMessage ToWire(ExperimentPermissionGrant grant) =>
        new() { ExperimentId = grant.ExperimentId, UserId = grant.UserId, Permission = grant.Permission.Name() };

    public static RegisteredModelPermissionMessage ToWire(RegisteredModelPermissionGrant grant) =>
        new() { Name = grant.Name, UserId = grant.UserId, Permission = grant.Permission.Name() };

    /// <summary>
    /// A user's grants as MLflow's users/get lists them (<c>experiment_permissions</c>, <c>registered_model_permissions</c>),
    /// and Cairn's <c>deployment_permissions</c>.
    /// </summary>
    public static async Task<(List<JsonElement> Experiments, List<JsonElement> Models, List<JsonElement> Deployments)> GrantsOfAsync(ServerStores stores,
        long userId, CancellationToken cancellationToken)
    {
        var store = Store(stores);
        var experiments = await store.ListExperimentGrantsAsync(userId, cancellationToken);
        var models = await store.ListRegisteredModelGrantsAsync(userId, cancellationToken);
        var deployments = await store.ListDeploymentGrantsAsync(userId, cancellationToken);
        return (experiments.Select(g => JsonSerializer.SerializeToElement(ToWire(g), PermissionJson.Default.ExperimentPermissionMessage)).ToList(),
            models.Select(g => JsonSerializer.SerializeToElement(ToWire(g), PermissionJson.Default.RegisteredModelPermissionMessage)).ToList(),
            deployments.Select(g => JsonSerializer.SerializeToElement(ToWire(g), PermissionJson.Default.DeploymentPermissionMessage)).ToList());
    }

    private static SqlPermissionStore Store(ServerStores stores) => stores.Inner.Permissions
        ?? throw new CairnException(ErrorCode.NOT_IMPLEMENTED, "Permissions need a database backend store.");

    /// <summary>The JSON body, with fields it lacks taken from the query string (as the authorization check reads them).</summary>
    private static async Task<PermissionRequest> BodyAsync(HttpRequest request)
    {
        var body = request.ContentLength is > 0 || request.Headers.TransferEncoding.Count > 0
            ? await ReadAsync(request, PermissionJson.Default.PermissionRequest)
            : new PermissionRequest();
        body.ExperimentId ??= Query(request, "experiment_id");
        body.Name ??= Query(request, "name");
        body.Username ??= Query(request, "username");
        body.Permission ??= Query(request, "permission");
        return body;
    }

    private static IResult Empty() => Results.Json(new PermissionEmpty(), PermissionJson.Default.PermissionEmpty);
}
