using Cairn.Access;
using Cairn.Contracts;
using Cairn.Server.Auth;
using Cairn.Tracking;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static Cairn.Server.Endpoints.MlflowRequest;

namespace Cairn.Server.Endpoints;

/// <summary>MLflow's experiments/* endpoints.</summary>
internal static class ExperimentEndpoints
{
    public static void MapExperimentEndpoints(this IEndpointRouteBuilder api)
    {
        var json = MlflowJson.Wire;

        api.MapPost("experiments/create", async (HttpRequest request, ITrackingStore store, CairnAccess access) =>
        {
            var body = await ReadAsync(request, json.CreateExperiment);
            var id = await store.CreateExperimentAsync(Required(body.Name, "name"), NullIfEmpty(body.ArtifactLocation),
                body.Tags?.Select(t => new ExperimentTag(Required(t.Key, "tags.key"), t.Value ?? "")).ToList(), request.HttpContext.RequestAborted);
            await access.GrantCreatorAsync(request.HttpContext, CairnResource.Experiment, id);
            return Results.Json(new CreateExperimentResponse { ExperimentId = id }, json.CreateExperimentResponse);
        }).CreatesCairnResource(CairnResource.Experiment);

        api.MapGet("experiments/get", async (HttpRequest request, ITrackingStore store) =>
        {
            var experiment = await store.GetExperimentAsync(Required(Query(request, "experiment_id"), "experiment_id"), request.HttpContext.RequestAborted);
            return Results.Json(new ExperimentResponse { Experiment = experiment.ToWire() }, json.ExperimentResponse);
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Read, from: CairnTarget.ExperimentId);

        api.MapGet("experiments/get-by-name", async (HttpRequest request, ITrackingStore store, CairnAccess access) =>
        {
            var name = Required(Query(request, "experiment_name"), "experiment_name");
            var experiment = await store.GetExperimentByNameAsync(name, request.HttpContext.RequestAborted);
            // A lookup by name answers like a search: an experiment the caller may not read is not found.
            if (await access.ExperimentAsync(request.HttpContext.User, experiment.ExperimentId, request.HttpContext.RequestAborted) < Permission.Read)
                throw new ResourceDoesNotExistException($"Could not find experiment with name '{name}'");
            return Results.Json(new ExperimentResponse { Experiment = experiment.ToWire() }, json.ExperimentResponse);
        }).FiltersByCairnPermission(CairnResource.Experiment);

        api.MapPost("experiments/search", async (HttpRequest request, ITrackingStore store, CairnAccess access) =>
            await SearchAsync(store, access, request.HttpContext, await ReadAsync(request, json.SearchExperiments))).FiltersByCairnPermission(CairnResource.Experiment);

        api.MapGet("experiments/search", async (HttpRequest request, ITrackingStore store, CairnAccess access) =>
            await SearchAsync(store, access, request.HttpContext, new SearchExperiments
            {
                MaxResults = QueryInt(request, "max_results"),
                PageToken = Query(request, "page_token"),
                Filter = Query(request, "filter"),
                OrderBy = request.Query["order_by"].OfType<string>().ToList(),
                ViewType = Query(request, "view_type") is { } v ? System.Text.Json.JsonSerializer.SerializeToElement(v, json.String) : null,
            })).FiltersByCairnPermission(CairnResource.Experiment);

        // MLflow 1.x's experiments/list, still used by older clients (the npm `mlflow` package among them).
        api.MapGet("experiments/list", async (HttpRequest request, ITrackingStore store, CairnAccess access) =>
        {
            var viewType = WireMapping.ParseViewType(Query(request, "view_type"), "view_type");
            var canRead = await access.ExperimentReadFilterAsync(request.HttpContext.User, request.HttpContext.RequestAborted);
            var all = new List<ExperimentMessage>();
            string? token = null;
            do
            {
                var page = await store.SearchExperimentsAsync(new ExperimentSearch(ViewType: viewType, MaxResults: TrackingLimits.SearchMaxResultsThreshold, PageToken: token), request.HttpContext.RequestAborted);
                all.AddRange(page.Items.Where(e => canRead(e.ExperimentId)).Select(e => e.ToWire()));
                token = page.NextPageToken;
            } while (token is not null);
            return Results.Json(new ExperimentsPage { Experiments = all }, json.ExperimentsPage);
        }).FiltersByCairnPermission(CairnResource.Experiment);

        api.MapPost("experiments/update", async (HttpRequest request, ITrackingStore store) =>
        {
            var body = await ReadAsync(request, json.UpdateExperiment);
            var id = Required(body.ExperimentId, "experiment_id");
            if (!string.IsNullOrEmpty(body.NewName)) await store.RenameExperimentAsync(id, body.NewName, request.HttpContext.RequestAborted);
            else await store.GetExperimentAsync(id, request.HttpContext.RequestAborted);
            return EmptyResult();
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Edit, from: CairnTarget.ExperimentId);

        api.MapPost("experiments/delete", async (HttpRequest request, ITrackingStore store) =>
        {
            var body = await ReadAsync(request, json.ExperimentIdRequest);
            await store.DeleteExperimentAsync(Required(body.ExperimentId, "experiment_id"), request.HttpContext.RequestAborted);
            return EmptyResult();
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Manage, from: CairnTarget.ExperimentId);

        api.MapPost("experiments/restore", async (HttpRequest request, ITrackingStore store) =>
        {
            var body = await ReadAsync(request, json.ExperimentIdRequest);
            await store.RestoreExperimentAsync(Required(body.ExperimentId, "experiment_id"), request.HttpContext.RequestAborted);
            return EmptyResult();
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Manage, from: CairnTarget.ExperimentId);

        api.MapPost("experiments/set-experiment-tag", async (HttpRequest request, ITrackingStore store) =>
        {
            var body = await ReadAsync(request, json.SetExperimentTag);
            await store.SetExperimentTagAsync(Required(body.ExperimentId, "experiment_id"), Required(body.Key, "key"),
                body.Value ?? throw new InvalidParameterValueException("Missing value for required parameter 'value'."), request.HttpContext.RequestAborted);
            return EmptyResult();
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Edit, from: CairnTarget.ExperimentId);

        api.MapPost("experiments/delete-experiment-tag", async (HttpRequest request, ITrackingStore store) =>
        {
            var body = await ReadAsync(request, json.SetExperimentTag);
            await store.DeleteExperimentTagAsync(Required(body.ExperimentId, "experiment_id"), Required(body.Key, "key"), request.HttpContext.RequestAborted);
            return EmptyResult();
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Edit, from: CairnTarget.ExperimentId);
    }

    /// <summary>One page of experiments/search, without the experiments the caller may not read (the page may come out short).</summary>
    private static async Task<IResult> SearchAsync(ITrackingStore store, CairnAccess access, HttpContext context, SearchExperiments body)
    {
        var cancellationToken = context.RequestAborted;
        var canRead = await access.ExperimentReadFilterAsync(context.User, cancellationToken);
        var page = await store.SearchExperimentsAsync(new ExperimentSearch(
            body.Filter,
            WireMapping.ParseViewType(body.ViewType, "view_type"),
            MaxResults(body.MaxResults, TrackingLimits.SearchMaxResultsDefault),
            body.OrderBy,
            NullIfEmpty(body.PageToken)), cancellationToken);
        return Results.Json(new ExperimentsPage { Experiments = page.Items.Where(e => canRead(e.ExperimentId)).Select(e => e.ToWire()).ToList(), NextPageToken = page.NextPageToken },
            MlflowJson.Wire.ExperimentsPage);
    }

    internal static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    internal static IResult EmptyResult() => Results.Json(new Empty(), MlflowJson.Wire.Empty);
}
