using System.Globalization;
using System.Text.Json;
using Cairn.Access;
using Cairn.Monitoring;
using Cairn.Server.Auth;
using Cairn.Server.Hosting;
using Cairn.Server.Monitoring;
using Cairn.Serving;
using Cairn.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static Cairn.Server.Endpoints.MlflowRequest;

namespace Cairn.Server.Endpoints;

/// <summary>
/// Monitoring windows under <c>/api/cairn/v1/monitoring/deployments/{name}/windows</c>: list (a time range, newest first, paged),
/// get one, and run one now (POST <c>run</c>, with <c>start</c>/<c>end</c> or <c>rows</c>). Behind the deployment's access
/// control as the deployment endpoints are: READ on the deployment reads its windows, EDIT runs one.
/// </summary>
internal static class MonitoringEndpoints
{
    /// <summary>Windows in a list page when <c>max_results</c> is absent.</summary>
    public const int DefaultPageSize = 100;

    /// <summary>The longest window a run may ask for.</summary>
    public static readonly TimeSpan MaxWindow = TimeSpan.FromDays(31);

    public static void MapMonitoringEndpoints(this IEndpointRouteBuilder app)
    {
        var json = MonitorJson.Default;
        var group = app.MapGroup("/api/cairn/v1/monitoring/deployments/{name}");

        group.MapGet("windows", async (string name, HttpRequest request, ServerStores stores) =>
        {
            PredictionEndpoints.CheckName(name, "name");
            var start = Query(request, "start") is { Length: > 0 } s ? PredictionEndpoints.Time(s, "start") : (DateTimeOffset?)null;
            var end = Query(request, "end") is { Length: > 0 } e ? PredictionEndpoints.Time(e, "end") : (DateTimeOffset?)null;
            if (start is { } a && end is { } b && b <= a) throw new InvalidParameterValueException("Invalid value for parameter 'end': it must be after 'start'.");
            var maxResults = QueryInt(request, "max_results") ?? DefaultPageSize;
            if (maxResults is < 1 or > SqlMonitorStore.MaxPageSize)
                throw new InvalidParameterValueException($"Invalid value {maxResults} for parameter 'max_results': it must be between 1 and {SqlMonitorStore.MaxPageSize}.");
            var version = Query(request, "model_version");
            if (version is { Length: > 64 }) throw new InvalidParameterValueException("Invalid value for parameter 'model_version': at most 64 characters.");
            var (windows, token) = await Store(stores).ListAsync(name, start, end, version == "all" ? "" : version, maxResults, Query(request, "page_token"),
                request.HttpContext.RequestAborted);
            return Results.Json(new MonitorWindowsResponse { Windows = windows.Select(w => w.ToWire()).ToList(), NextPageToken = token }, json.MonitorWindowsResponse);
        }).RequireCairnPermission(CairnResource.Deployment, Permission.Read, from: CairnTarget.DeploymentName)
        .WithName("CairnMonitorWindows")
        .WithSummary("The deployment's stored monitoring windows, newest first (query: start, end bound the window start as Unix milliseconds or ISO 8601; "
            + "model_version, or 'all' for the deployment-wide windows; max_results up to 1000; page_token).")
        .Produces<MonitorWindowsResponse>().Produces<Cairn.Contracts.ErrorResponse>(StatusCodes.Status400BadRequest);

        group.MapGet("windows/{id}", async (string name, string id, HttpRequest request, ServerStores stores) =>
        {
            PredictionEndpoints.CheckName(name, "name");
            if (!long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var windowId))
                throw new InvalidParameterValueException($"Invalid value '{(id.Length <= 40 ? id : id[..40] + "...")}' for parameter 'id': a window id is a whole number.");
            var window = await Store(stores).GetAsync(name, windowId, request.HttpContext.RequestAborted);
            return Results.Json(new MonitorWindowResponse { Window = window.ToWire() }, json.MonitorWindowResponse);
        }).RequireCairnPermission(CairnResource.Deployment, Permission.Read, from: CairnTarget.DeploymentName)
        .WithName("CairnMonitorWindowGet").WithSummary("One stored monitoring window with its drift per feature and performance.")
        .Produces<MonitorWindowResponse>().Produces<Cairn.Contracts.ErrorResponse>(StatusCodes.Status404NotFound);

        group.MapGet("windows/{id}/report", async (string name, string id, HttpRequest request, ServerStores stores, IEnumerable<IMonitorReportRenderer> renderers) =>
        {
            PredictionEndpoints.CheckName(name, "name");
            if (!long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var windowId))
                throw new InvalidParameterValueException($"Invalid value '{(id.Length <= 40 ? id : id[..40] + "...")}' for parameter 'id': a window id is a whole number.");
            var renderer = renderers.LastOrDefault()
                ?? throw new CairnException(ErrorCode.NOT_IMPLEMENTED, "This host draws no monitoring reports (cairn server does).");
            var ct = request.HttpContext.RequestAborted;
            var window = await Store(stores).GetAsync(name, windowId, ct);
            // The over-time plots: the newest stored windows of the same model version and route, a bounded number.
            var history = new List<MonitorWindow>();
            string? token = null;
            do
            {
                var (page, next) = await Store(stores).ListAsync(name, null, null, window.ModelVersion ?? "all", SqlMonitorStore.MaxPageSize, token, ct);
                history.AddRange(page.Where(w => w.Shadow == window.Shadow && w.ModelName == window.ModelName));
                token = next;
            } while (token is not null && history.Count < ReportHistory);
            return Results.Content(renderer.Render(window, history), "text/html; charset=utf-8");
        }).RequireCairnPermission(CairnResource.Deployment, Permission.Read, from: CairnTarget.DeploymentName)
        .WithName("CairnMonitorWindowReport")
        .WithSummary("One stored window as a self-contained HTML page: drift per feature (reference vs current), drift and performance over time.")
        .Produces<string>(StatusCodes.Status200OK, "text/html").Produces<Cairn.Contracts.ErrorResponse>(StatusCodes.Status404NotFound);

        group.MapPost("windows/run", async (string name, HttpRequest request, ServerStores stores, MonitorService monitor) =>
        {
            PredictionEndpoints.CheckName(name, "name");
            var body = await ReadAsync(request, json.RunWindowRequest);
            var hasRange = body.Start is not null || body.End is not null;
            if (hasRange == (body.Rows is not null))
                throw new InvalidParameterValueException("Invalid request: give either 'start' and 'end' or 'rows'.");
            // The deployment must exist (404 naming it), as its other endpoints answer.
            await stores.Inner.Deployments.GetDeploymentAsync(name, request.HttpContext.RequestAborted);
            IReadOnlyList<MonitorWindow> windows;
            if (body.Rows is { } rows)
            {
                if (rows is < 1 or > MonitorSettings.MaxWindowRows)
                    throw new InvalidParameterValueException($"Invalid value {rows} for parameter 'rows': it must be between 1 and {MonitorSettings.MaxWindowRows}.");
                windows = await monitor.RunRowsAsync(name, rows, request.HttpContext.RequestAborted);
            }
            else
            {
                var start = Time(body.Start, "start");
                var end = Time(body.End, "end");
                if (end <= start) throw new InvalidParameterValueException("Invalid value for parameter 'end': it must be after 'start'.");
                if (end - start > MaxWindow) throw new InvalidParameterValueException("Invalid value for parameter 'end': a window is at most 31 days long.");
                windows = await monitor.RunAsync(name, start, end, request.HttpContext.RequestAborted);
            }
            return Results.Json(new MonitorWindowsResponse { Windows = windows.Select(w => w.ToWire()).ToList() }, json.MonitorWindowsResponse);
        }).RequireCairnPermission(CairnResource.Deployment, Permission.Edit, from: CairnTarget.DeploymentName)
        .WithName("CairnMonitorWindowRun")
        .WithSummary("Evaluates and stores a window now (body: start and end as Unix milliseconds or ISO 8601, or rows: the next N rows after the newest window).")
        .Accepts<RunWindowRequest>("application/json").Produces<MonitorWindowsResponse>().Produces<Cairn.Contracts.ErrorResponse>(StatusCodes.Status400BadRequest);
    }

    /// <summary>The most stored windows a report's over-time plots draw.</summary>
    private const int ReportHistory = 1000;

    private static SqlMonitorStore Store(ServerStores stores) =>
        stores.Inner.Monitoring ?? throw new CairnException(ErrorCode.NOT_IMPLEMENTED, "This server's store keeps no monitoring windows.");

    private static DateTimeOffset Time(JsonElement? value, string field) => value switch
    {
        null or { ValueKind: JsonValueKind.Null } => throw new InvalidParameterValueException($"Missing value for required parameter '{field}'."),
        { ValueKind: JsonValueKind.Number } n when n.TryGetInt64(out var ms) => PredictionEndpoints.Time(ms.ToString(CultureInfo.InvariantCulture), field),
        { ValueKind: JsonValueKind.String } s => PredictionEndpoints.Time(s.GetString()!, field),
        { } other => throw new InvalidParameterValueException($"Invalid value for parameter '{field}': give Unix milliseconds or an ISO 8601 time, not {other.ValueKind.ToString().ToLowerInvariant()}."),
    };
}
