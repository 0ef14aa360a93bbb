using System.Text.Json;
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

        api.MapPost("registered-models/permissions/create", async (HttpRequest request, ServerStores stores) =>
        {
            var body = await BodyAsync(request);
            var grant = await Store(stores).CreateRegisteredModelPermissionAsync(Required(body.Name, "name"), Required(body.Username, "username"),
                Permissions.Parse(Required(body.Permission, "permission")), request.HttpContext.RequestAborted);
            return Results.Json(new RegisteredModelPermissionResponse { RegisteredModelPermission = ToWire(grant) }, json.RegisteredModelPermissionResponse);
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Manage, from: CairnTarget.ModelName);

        api.MapGet("registered-models/permissions/get", async (HttpRequest request, ServerStores stores) =>
        {
            var grant = await Store(stores).GetRegisteredModelPermissionAsync(Required(Query(request, "name"), "name"),
                Required(Query(request, "username"), "username"), request.HttpContext.RequestAborted);
            return Results.Json(new RegisteredModelPermissionResponse { RegisteredModelPermission = ToWire(grant) }, json.RegisteredModelPermissionResponse);
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Manage, from: CairnTarget.ModelName);

        api.MapPatch("registered-models/permissions/update", async (HttpRequest request, ServerStores stores) =>
        {
            var body = await BodyAsync(request);
            await Store(stores).UpdateRegisteredModelPermissionAsync(Required(body.Name, "name"), Required(body.Username, "username"),
                Permissions.Parse(Required(body.Permission, "permission")), request.HttpContext.RequestAborted);
            return Empty();
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Manage, from: CairnTarget.ModelName);

        api.MapDelete("registered-models/permissions/delete", async (HttpRequest request, ServerStores stores) =>
        {
            var body = await BodyAsync(request);
            await Store(stores).DeleteRegisteredModelPermissionAsync(Required(body.Name, "name"), Required(body.Username, "username"),
                request.HttpContext.RequestAborted);
            return Empty();
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Manage, from: CairnTarget.ModelName);

        api.MapDeploymentPermissionEndpoints();
    }

    /// <summary>Cairn's deployments/permissions/create|get|update|delete, shaped as the registered model ones (body or query: name, username, permission).</summary>
    private static void MapDeploymentPermissionEndpoints(this IEndpointRouteBuilder api)
    {
        var json = PermissionJson.Default;

        api.MapPost("deployments/permissions/create", async (HttpRequest request, ServerStores stores) =>
        {
            var body = await BodyAsync(request);
            var grant = await Store(stores).CreateDeploymentPermissionAsync(Required(body.Name, "name"), Required(body.Username, "username"),
                Permissions.Parse(Required(body.Permission, "permission")), request.HttpContext.RequestAborted);
            return Results.Json(new DeploymentPermissionResponse { DeploymentPermission = ToWire(grant) }, json.DeploymentPermissionResponse);
        }).RequireCairnPermission(CairnResource.Deployment, Permission.Manage, from: CairnTarget.DeploymentName);

        api.MapGet("deployments/permissions/get", async (HttpRequest request, ServerStores stores) =>
        {
            var grant = await Store(stores).GetDeploymentPermissionAsync(Required(Query(request, "name"), "name"),
                Required(Query(request, "username"), "username"), request.HttpContext.RequestAborted);
            return Results.Json(new DeploymentPermissionResponse { DeploymentPermission = ToWire(grant) }, json.DeploymentPermissionResponse);
        }).RequireCairnPermission(CairnResource.Deployment, Permission.Manage, from: CairnTarget.DeploymentName);

        api.MapPatch("deployments/permissions/update", async (HttpRequest request, ServerStores stores) =>
        {
            var body = await BodyAsync(request);
            await Store(stores).UpdateDeploymentPermissionAsync(Required(body.Name, "name"), Required(body.Username, "username"),
                Permissions.Parse(Required(body.Permission, "permission")), request.HttpContext.RequestAborted);
            return Empty();
        }).RequireCairnPermission(CairnResource.Deployment, Permission.Manage, from: CairnTarget.DeploymentName);

        api.MapDelete("deployments/permissions/delete", async (HttpRequest request, ServerStores stores) =>
        {
            var body = await BodyAsync(request);
            await Store(stores).DeleteDeploymentPermissionAsync(Required(body.Name, "name"), Required(body.Username, "username"),
                request.HttpContext.RequestAborted);
            return Empty();
        }).RequireCairnPermission(CairnResource.Deployment, Permission.Manage, from: CairnTarget.DeploymentName);
    }

    public static DeploymentPermissionMessage ToWire(DeploymentPermissionGrant grant) =>
        new() { Name = grant.Name, UserId = grant.UserId, Permission = grant.Permission.Name() };

    public static ExperimentPermissionMessage ToWire(ExperimentPermissionGrant grant) =>
        new() { ExperimentId = grant.ExperimentId, UserId = grant.UserId, Permission = grant.Permission.Name() };

    public static RegisteredModelPermissionMessage ToWire(RegisteredModelPermissionGrant grant) =>
        new() { Name = grant.Name, UserId = grant.UserId, Permission = grant.Permission.Name() };

    /// <summary>A user's grants as MLflow's users/get lists them (<c>experiment_permissions</c>, <c>registered_model_permissions</c>).</summary>
    public static async Task<(List<JsonElement> Experiments, List<JsonElement> Models)> GrantsOfAsync(ServerStores stores, long userId, CancellationToken cancellationToken)
    {
        var store = Store(stores);
        var experiments = await store.ListExperimentGrantsAsync(userId, cancellationToken);
        var models = await store.ListRegisteredModelGrantsAsync(userId, cancellationToken);
        return (experiments.Select(g => JsonSerializer.SerializeToElement(ToWire(g), PermissionJson.Default.ExperimentPermissionMessage)).ToList(),
            models.Select(g => JsonSerializer.SerializeToElement(ToWire(g), PermissionJson.Default.RegisteredModelPermissionMessage)).ToList());
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
