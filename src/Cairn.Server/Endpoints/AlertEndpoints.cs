using Cairn.Contracts;
using Cairn.Monitoring.Alerts;
using Cairn.Server.Auth;
using Cairn.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static Cairn.Server.Endpoints.MlflowRequest;

namespace Cairn.Server.Endpoints;

/// <summary>
/// Alert incidents under /api/cairn/v1/monitoring/alerts: open ones first, then the most recent resolved ones, newest first,
/// bounded by max_results (default 100, at most 1000). With access control on, only incidents of deployments the caller may
/// read are listed, as the deployment list does.
/// </summary>
internal static class AlertEndpoints
{
    public static void MapAlertEndpoints(this IEndpointRouteBuilder group)
    {
        group.MapGet("", async (HttpRequest request, ServerAlerts alerts, CairnAccess access) =>
        {
            var deployment = Query(request, "deployment");
            if (deployment is not null) Cairn.Serving.DeploymentValidator.ValidateName(deployment);
            var status = Query(request, "status") ?? "all";
            if (status is not ("all" or "open"))
                throw new InvalidParameterValueException($"Invalid value '{status}' for parameter 'status': expected 'open' or 'all'.");
            var maxResults = QueryInt(request, "max_results") ?? 100;
            if (maxResults < 1 || maxResults > SqlStoreMax)
                throw new InvalidParameterValueException($"Invalid value {maxResults} for parameter 'max_results': it must be from 1 to {SqlStoreMax}.");
            var ct = request.HttpContext.RequestAborted;
            var canRead = await access.DeploymentReadFilterAsync(request.HttpContext.User, ct);
            // A restricted caller's list is filtered after the read, so read the most there can be and cut afterwards.
            var restricted = !access.IsUnrestricted(request.HttpContext.User);
            var incidents = await alerts.Store.ListIncidentsAsync(deployment, status == "open", restricted ? SqlStoreMax : maxResults, ct);
            return Results.Json(new AlertIncidentsResponse
            {
                Incidents = incidents.Where(i => canRead(i.Deployment)).Take(maxResults).Select(i => i.ToWire()).ToList(),
            }, AlertJson.Default.AlertIncidentsResponse);
        }).FiltersByCairnPermission(CairnResource.Deployment)
        .WithName("CairnAlertList")
        .WithSummary("Alert incidents, open first then recent resolved ones, of the deployments the caller may read (query: deployment, status=open|all, max_results).")
        .Produces<AlertIncidentsResponse>().Produces<ErrorResponse>(StatusCodes.Status400BadRequest);
    }

    private const int SqlStoreMax = Cairn.Storage.SqlAlertStore.MaxResults;
}
