using Cairn.Access;
using Cairn.Contracts;
using Cairn.Registry;
using Cairn.Server.Auth;
using Cairn.Tracking;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static Cairn.Server.Endpoints.MlflowRequest;

namespace Cairn.Server.Endpoints;

/// <summary>
/// Cairn's registry additions under /api/cairn/v1/registry: the audit trail of alias and stage changes, alias rollback,
/// gated promotion and model URI resolution. Bodies and errors use MLflow's conventions.
/// </summary>
internal static class CairnRegistryEndpoints
{
    public static void MapCairnRegistryEndpoints(this IEndpointRouteBuilder group)
    {
        group.MapGet("audit", async (HttpRequest request, IRegistryStore store) =>
        {
            var entries = await store.GetAuditTrailAsync(Required(Query(request, "name"), "name"), QueryInt(request, "max_results") ?? 100, request.HttpContext.RequestAborted);
            return Results.Json(new RegistryAuditResponse { Entries = entries.Count == 0 ? null : entries.Select(e => e.ToWire()).ToList() },
                RegistryJson.Wire.RegistryAuditResponse);
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Read, from: CairnTarget.ModelName)
        .WithName("CairnRegistryAudit").WithSummary("Alias and stage changes of a registered model, newest first (query: name, max_results).")
        .Produces<RegistryAuditResponse>().Produces<ErrorResponse>(StatusCodes.Status400BadRequest);

        group.MapPost("rollback", async (HttpRequest request, IRegistryStore store) =>
        {
            var body = await RegistryEndpoints.BodyAsync(request);
            var version = await store.RollbackAliasAsync(Required(body.Name, "name"), Required(body.Alias, "alias"), RegistryEndpoints.User(request),
                request.HttpContext.RequestAborted);
            return RegistryEndpoints.VersionResult(version);
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Edit, from: CairnTarget.ModelName)
        .WithName("CairnRegistryRollback").WithSummary("Points an alias back at the version it named before its last change (body: name, alias).")
        .Accepts<RegistryRequest>("application/json").Produces<ModelVersionResponse>().Produces<ErrorResponse>(StatusCodes.Status404NotFound);

        group.MapPost("promote", async (HttpRequest request, IRegistryStore store) =>
        {
            var body = await RegistryEndpoints.BodyAsync(request);
            var version = await store.PromoteAsync(Required(body.Name, "name"), Required(body.Version, "version"), Required(body.Alias, "alias"),
                body.Requirements, RegistryEndpoints.User(request), request.HttpContext.RequestAborted);
            return RegistryEndpoints.VersionResult(version);
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Edit, from: CairnTarget.ModelName)
        .WithName("CairnRegistryPromote")
        .WithSummary("Moves an alias to a version when every requirement holds, e.g. 'metrics.auc >= champion' (body: name, version, alias, requirements).")
        .Accepts<RegistryRequest>("application/json").Produces<ModelVersionResponse>().Produces<ErrorResponse>(StatusCodes.Status400BadRequest);

        // Resolves runs:/ and models:/ URIs to the artifact location they stand for.
        group.MapGet("resolve", async (HttpRequest request, IRegistryStore registry, ITrackingStore tracking) =>
        {
            var uri = await ModelUri.ResolveAsync(Required(Query(request, "uri"), "uri"), registry, tracking, "uri", request.HttpContext.RequestAborted);
            return Results.Json(new DownloadUriResponse { ArtifactUri = uri }, RegistryJson.Wire.DownloadUriResponse);
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Read, from: CairnTarget.ModelUri)
        .WithName("CairnRegistryResolve").WithSummary("The artifact location a runs:/ or models:/ URI stands for (query: uri).")
        .Produces<DownloadUriResponse>().Produces<ErrorResponse>(StatusCodes.Status404NotFound);
    }
}
