using Cairn.Access;
using Cairn.Contracts;
using Cairn.Server.Auth;
using Cairn.Server.Hosting;
using Cairn.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static Cairn.Server.Endpoints.MlflowRequest;

namespace Cairn.Server.Endpoints;

/// <summary>
/// Deployments under /api/cairn/v1/deployments: create, list, get, change routes, canary, promote, rollback, history and
/// delete. Snake_case JSON and MLflow's error body. READ reads, EDIT changes the routing, MANAGE deletes; the creator gets
/// MANAGE and the list leaves out what the caller may not read. The change's user is the signed-in user, else X-Cairn-User.
/// </summary>
internal static class DeploymentEndpoints
{
    public static void MapDeploymentEndpoints(this IEndpointRouteBuilder group)
    {
        var json = DeploymentJson.Default;

        group.MapPost("", async (HttpRequest request, ServerStores stores, CairnAccess access) =>
        {
            var body = await ReadAsync(request, json.DeploymentRequest, "name");
            var spec = body.ToSpec();
            DeploymentValidator.ValidateSpec(spec);
            await RequireModelReadAsync(request.HttpContext, access, spec.Routes);
            var deployment = await Store(stores).CreateDeploymentAsync(spec, RegistryEndpoints.User(request), request.HttpContext.RequestAborted);
            await access.GrantCreatorAsync(request.HttpContext, CairnResource.Deployment, deployment.Name);
            return One(deployment);
        }).CreatesCairnResource(CairnResource.Deployment)
        .WithName("CairnDeploymentCreate")
        .WithSummary("Creates a deployment (body: name, routes [{model_uri, weight, role, canary}], sticky_header or sticky_field, description).")
        .Accepts<DeploymentRequest>("application/json").Produces<DeploymentResponse>().Produces<ErrorResponse>(StatusCodes.Status400BadRequest);

        group.MapGet("", async (HttpRequest request, ServerStores stores, CairnAccess access) =>
        {
            var canRead = await access.DeploymentReadFilterAsync(request.HttpContext.User, request.HttpContext.RequestAborted);
            var all = await Store(stores).ListDeploymentsAsync(request.HttpContext.RequestAborted);
            return Results.Json(new DeploymentsResponse { Deployments = all.Where(d => canRead(d.Name)).Select(d => d.ToWire()).ToList() }, json.DeploymentsResponse);
        }).FiltersByCairnPermission(CairnResource.Deployment)
        .WithName("CairnDeploymentList").WithSummary("The deployments the caller may read, by name.")
        .Produces<DeploymentsResponse>();

        group.MapGet("{name}", async (string name, HttpRequest request, ServerStores stores) =>
            One(await Store(stores).GetDeploymentAsync(name, request.HttpContext.RequestAborted)))
        .RequireCairnPermission(CairnResource.Deployment, Permission.Read, from: CairnTarget.DeploymentName)
        .WithName("CairnDeploymentGet").WithSummary("A deployment: its routes, sticky key and revision.")
        .Produces<DeploymentResponse>().Produces<ErrorResponse>(StatusCodes.Status404NotFound);

        group.MapPatch("{name}", async (string name, HttpRequest request, ServerStores stores, CairnAccess access) =>
        {
            var body = await ReadAsync(request, json.DeploymentRequest);
            if (body.Name is { Length: > 0 } renamed && !string.Equals(renamed, name, StringComparison.Ordinal))
                throw new InvalidParameterValueException($"Invalid value for parameter 'name': a deployment cannot be renamed ('{renamed}' in the body, '{name}' in the path).");
            var update = body.ToUpdate();
            DeploymentValidator.ValidateUpdate(update);
            await RequireModelReadAsync(request.HttpContext, access, update.Routes ?? []);
            return await AppliedAsync(request, await Store(stores).UpdateDeploymentAsync(name, update, RegistryEndpoints.User(request), request.HttpContext.RequestAborted));
        }).RequireCairnPermission(CairnResource.Deployment, Permission.Edit, from: CairnTarget.DeploymentName)
        .WithName("CairnDeploymentUpdate")
        .WithSummary("Changes what the body sets: routes, description, sticky_header or sticky_field, clear_sticky. Writes a new revision.")
        .Accepts<DeploymentRequest>("application/json").Produces<DeploymentResponse>().Produces<ErrorResponse>(StatusCodes.Status400BadRequest);

        group.MapPost("{name}/canary", async (string name, HttpRequest request, ServerStores stores, CairnAccess access) =>
        {
            var body = await ReadAsync(request, json.CanaryRequest, "model_uri", "percent");
            DeploymentValidator.ParseRouteUri(body.ModelUri, "model_uri");
            await RequireModelReadAsync(request.HttpContext, access, [DeploymentRoute.Primary(body.ModelUri!, 0)]);
            return await AppliedAsync(request, await Store(stores).CanaryAsync(name, Required(body.ModelUri, "model_uri"), Required(body.Percent, "percent"),
                RegistryEndpoints.User(request), request.HttpContext.RequestAborted));
        }).RequireCairnPermission(CairnResource.Deployment, Permission.Edit, from: CairnTarget.DeploymentName)
        .WithName("CairnDeploymentCanary")
        .WithSummary("Sends percent (1..99) of the traffic to model_uri beside the primary route, which keeps the rest (body: model_uri, percent).")
        .Accepts<CanaryRequest>("application/json").Produces<DeploymentResponse>().Produces<ErrorResponse>(StatusCodes.Status400BadRequest);

        group.MapPost("{name}/promote", async (string name, HttpRequest request, ServerStores stores) =>
            await AppliedAsync(request, await Store(stores).PromoteAsync(name, RegistryEndpoints.User(request), request.HttpContext.RequestAborted)))
        .RequireCairnPermission(CairnResource.Deployment, Permission.Edit, from: CairnTarget.DeploymentName)
        .WithName("CairnDeploymentPromote").WithSummary("Gives the running canary all the traffic and removes the route it ran beside.")
        .Produces<DeploymentResponse>().Produces<ErrorResponse>(StatusCodes.Status400BadRequest);

        group.MapPost("{name}/rollback", async (string name, HttpRequest request, ServerStores stores) =>
            await AppliedAsync(request, await Store(stores).RollbackAsync(name, RegistryEndpoints.User(request), request.HttpContext.RequestAborted)))
        .RequireCairnPermission(CairnResource.Deployment, Permission.Edit, from: CairnTarget.DeploymentName)
        .WithName("CairnDeploymentRollback").WithSummary("Restores the routing of the revision before the current one, as a new revision.")
        .Produces<DeploymentResponse>().Produces<ErrorResponse>(StatusCodes.Status400BadRequest);

        group.MapGet("{name}/history", async (string name, HttpRequest request, ServerStores stores) =>
        {
            var revisions = await Store(stores).GetHistoryAsync(name, QueryInt(request, "max_results") ?? 100, request.HttpContext.RequestAborted);
            return Results.Json(new DeploymentHistoryResponse { Revisions = revisions.Select(r => r.ToWire()).ToList() }, json.DeploymentHistoryResponse);
        }).RequireCairnPermission(CairnResource.Deployment, Permission.Read, from: CairnTarget.DeploymentName)
        .WithName("CairnDeploymentHistory").WithSummary("The revisions of a deployment, newest first: routing, action, user and time (query: max_results).")
        .Produces<DeploymentHistoryResponse>().Produces<ErrorResponse>(StatusCodes.Status404NotFound);

        group.MapDelete("{name}", async (string name, HttpRequest request, ServerStores stores) =>
        {
            await Store(stores).DeleteDeploymentAsync(name, request.HttpContext.RequestAborted);
            await AppliedAsync(request, null, name);
            return Results.Json(new DeploymentEmpty(), json.DeploymentEmpty);
        }).RequireCairnPermission(CairnResource.Deployment, Permission.Manage, from: CairnTarget.DeploymentName)
        .WithName("CairnDeploymentDelete").WithSummary("Deletes a deployment with its history and permissions.")
        .Produces<ErrorResponse>(StatusCodes.Status404NotFound);
    }

    /// <summary>
    /// A route serves a registered model to whoever may score the deployment, so the caller who sets it must be able to read
    /// that model: otherwise a deployment would hand out a model its author may not see. Checked before the store, so a
    /// refused caller learns nothing about whether the model exists.
    /// </summary>
    private static async Task RequireModelReadAsync(HttpContext context, CairnAccess access, IReadOnlyList<DeploymentRoute> routes)
    {
        if (access.IsUnrestricted(context.User)) return;
        foreach (var model in routes.Select(DeploymentValidator.ModelName).Distinct(StringComparer.Ordinal))
        {
            if (await access.RegisteredModelAsync(context.User, model, context.RequestAborted) < Permission.Read)
                throw new CairnException(ErrorCode.PERMISSION_DENIED, $"Permission denied: a route to registered model '{model}' needs READ on it.");
        }
    }

    private static IDeploymentStore Store(ServerStores stores) => stores.Inner.Deployments;

    /// <summary>
    /// The answer to a change: when this server serves the deployment, it re-reads it first, so the new routing (its models
    /// loaded and warmed) takes the next request; other replicas follow within their refresh interval.
    /// </summary>
    private static async Task<IResult> AppliedAsync(HttpRequest request, Deployment? deployment, string? deleted = null)
    {
        if (request.HttpContext.RequestServices.GetService(typeof(Scoring.DeploymentRuntime)) is Scoring.DeploymentRuntime runtime)
            await runtime.RefreshNowAsync(deployment?.Name ?? deleted!, request.HttpContext.RequestAborted);
        return deployment is null ? Results.Empty : One(deployment);
    }

    private static IResult One(Deployment deployment) =>
        Results.Json(new DeploymentResponse { Deployment = deployment.ToWire() }, DeploymentJson.Default.DeploymentResponse);
}
