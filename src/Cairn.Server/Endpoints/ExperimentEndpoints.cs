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
            var id = await store.CreateExperimentAsync(Required(body.Name, "name"), ResolveIfRelative(NullIfEmpty(body.ArtifactLocation)),
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

        api.MapPost("experiments/search-datasets", SearchDatasetsAsync).FiltersByCairnPermission(CairnResource.Experiment);

        api.MapPost("experiments/delete-experiment-tag", async (HttpRequest request, ITrackingStore store) =>
        {
            var body = await ReadAsync(request, json.SetExperimentTag);
            await store.DeleteExperimentTagAsync(Required(body.ExperimentId, "experiment_id"), Required(body.Key, "key"), request.HttpContext.RequestAborted);
            return EmptyResult();
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Edit, from: CairnTarget.ExperimentId);
    }

    private const int MaxExperimentIdsSearchDatasets = 20;
    private const int MaxDatasetSummaries = 1000;

    /// <summary>
    /// The UI's <c>experiments/search-datasets</c>: the distinct (experiment, dataset name, digest, context) of the runs
    /// of the given experiments, deleted runs included, at most 1000, as MLflow's SQL store answers.
    /// </summary>
    private static async Task SearchDatasetsAsync(HttpContext context, ITrackingStore store, CairnAccess access)
    {
        // The request message has a single field, experiment_ids, which SearchRuns reads the same way.
        var body = await ReadAsync(context.Request, MlflowJson.Wire.SearchRuns);
        var ids = body.ExperimentIds ?? [];
        // With access control on, the experiments the caller may not read are left out, as searches do.
        var canRead = await access.ExperimentReadFilterAsync(context.User, context.RequestAborted);
        ids = ids.Where(canRead).ToList();
        if (ids.Count == 0) throw new InvalidParameterValueException("SearchDatasets request must specify at least one experiment_id.");
        if (ids.Count > MaxExperimentIdsSearchDatasets)
            throw new InvalidParameterValueException(
                $"SearchDatasets request cannot specify more than {MaxExperimentIdsSearchDatasets} experiment_ids. Received {ids.Count} experiment_ids.");
        var seen = new HashSet<(string, string, string, string?)>();
        var summaries = new List<(string ExperimentId, string Name, string Digest, string? Context)>();
        string? token = null;
        do
        {
            var page = await store.SearchRunsAsync(new RunSearch(ids, ViewType: ViewType.ALL, MaxResults: TrackingLimits.SearchMaxResultsDefault, PageToken: token),
                context.RequestAborted);
            foreach (var run in page.Items)
                foreach (var input in run.Inputs)
                {
                    var summary = (run.Info.ExperimentId, input.Dataset.Name, input.Dataset.Digest,
                        input.Tags.FirstOrDefault(t => t.Key == Cairn.Pipelines.DatasetTracking.ContextTag)?.Value);
                    if (summaries.Count < MaxDatasetSummaries && seen.Add(summary)) summaries.Add(summary);
                }
            token = page.NextPageToken;
        } while (token is not null && summaries.Count < MaxDatasetSummaries);

        context.Response.ContentType = "application/json";
        await using var writer = new System.Text.Json.Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        writer.WriteStartArray("dataset_summaries");
        foreach (var (experimentId, name, digest, datasetContext) in summaries)
        {
            writer.WriteStartObject();
            writer.WriteString("experiment_id", experimentId);
            writer.WriteString("name", name);
            writer.WriteString("digest", digest);
            if (datasetContext is not null) writer.WriteString("context", datasetContext);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);
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

    /// <summary>
    /// A relative folder path is taken relative to the server's working directory and stored absolute, as MLflow's
    /// stores do (<c>resolve_uri_if_local</c>: a plain path on POSIX, a file: URI on Windows), so the experiment's
    /// location does not depend on where a later process starts. URIs and absolute paths are kept as sent.
    /// </summary>
    internal static string? ResolveIfRelative(string? location)
    {
        if (location is null || HasScheme(location) || Path.IsPathRooted(location)) return location;
        var full = Path.GetFullPath(location);
        return OperatingSystem.IsWindows() ? new Uri(full).AbsoluteUri : full;
    }

    private static bool HasScheme(string location)
    {
        var colon = location.IndexOf(':');
        if (colon < 1 || !char.IsAsciiLetter(location[0])) return false;
        // A drive letter (C:) is a path, not a scheme.
        if (colon == 1 && OperatingSystem.IsWindows()) return false;
        for (var i = 1; i < colon; i++)
            if (!char.IsAsciiLetterOrDigit(location[i]) && location[i] is not ('+' or '-' or '.')) return false;
        return true;
    }

    internal static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    internal static IResult EmptyResult() => Results.Json(new Empty(), MlflowJson.Wire.Empty);
}
