using System.Text.Json;
using System.Text.Json.Nodes;
using Cairn.Access;
using Cairn.Contracts;
using Cairn.Server.Auth;
using Cairn.Tracking;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static Cairn.Server.Endpoints.MlflowRequest;

namespace Cairn.Server.Endpoints;

/// <summary>MLflow's runs/* and metrics/* endpoints.</summary>
internal static class RunEndpoints
{
    public static void MapRunEndpoints(this IEndpointRouteBuilder api)
    {
        var json = MlflowJson.Wire;

        api.MapPost("runs/create", async (HttpRequest request, ITrackingStore store) =>
        {
            var body = await ReadAsync(request, json.CreateRun);
            var run = await store.CreateRunAsync(new CreateRunRequest(
                Required(body.ExperimentId, "experiment_id"),
                ExperimentEndpoints.NullIfEmpty(body.RunName),
                body.StartTime,
                ExperimentEndpoints.NullIfEmpty(body.UserId),
                Tags(body.Tags)), request.HttpContext.RequestAborted);
            return Results.Json(new RunResponse { Run = run.ToWire() }, json.RunResponse);
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Edit, from: CairnTarget.ExperimentId);

        api.MapGet("runs/get", async (HttpRequest request, ITrackingStore store) =>
        {
            var run = await store.GetRunAsync(RunId(Query(request, "run_id"), Query(request, "run_uuid")), request.HttpContext.RequestAborted);
            return Results.Json(new RunResponse { Run = run.ToWire() }, json.RunResponse);
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Read, from: CairnTarget.RunId);

        api.MapPost("runs/update", async (HttpRequest request, ITrackingStore store) =>
        {
            var body = await ReadAsync(request, json.UpdateRun);
            var info = await store.UpdateRunAsync(RunId(body.RunId, body.RunUuid), WireMapping.ParseStatus(body.Status), body.EndTime,
                ExperimentEndpoints.NullIfEmpty(body.RunName), request.HttpContext.RequestAborted);
            return Results.Json(new RunInfoResponse { RunInfo = info.ToWire() }, json.RunInfoResponse);
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Edit, from: CairnTarget.RunId);

        api.MapPost("runs/delete", async (HttpRequest request, ITrackingStore store) =>
        {
            var body = await ReadAsync(request, json.RunIdRequest);
            await store.DeleteRunAsync(RunId(body.RunId, body.RunUuid), request.HttpContext.RequestAborted);
            return ExperimentEndpoints.EmptyResult();
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Manage, from: CairnTarget.RunId);

        api.MapPost("runs/restore", async (HttpRequest request, ITrackingStore store) =>
        {
            var body = await ReadAsync(request, json.RunIdRequest);
            await store.RestoreRunAsync(RunId(body.RunId, body.RunUuid), request.HttpContext.RequestAborted);
            return ExperimentEndpoints.EmptyResult();
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Manage, from: CairnTarget.RunId);

        api.MapPost("runs/log-metric", async (HttpRequest request, ITrackingStore store) =>
        {
            var body = await ReadAsync(request, json.LogMetric);
            var metric = new Metric(Required(body.Key, "key"), Required(body.Value, "value"), Required(body.Timestamp, "timestamp"), body.Step ?? 0);
            await store.LogBatchAsync(RunId(body.RunId, body.RunUuid), metrics: [metric], cancellationToken: request.HttpContext.RequestAborted);
            return ExperimentEndpoints.EmptyResult();
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Edit, from: CairnTarget.RunId);

        api.MapPost("runs/log-parameter", async (HttpRequest request, ITrackingStore store) =>
        {
            var body = await ReadAsync(request, json.RunKeyValue);
            var param = new Param(Required(body.Key, "key"), body.Value ?? throw new InvalidParameterValueException("Missing value for required parameter 'value'."));
            await store.LogBatchAsync(RunId(body.RunId, body.RunUuid), parameters: [param], cancellationToken: request.HttpContext.RequestAborted);
            return ExperimentEndpoints.EmptyResult();
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Edit, from: CairnTarget.RunId);

        api.MapPost("runs/set-tag", async (HttpRequest request, ITrackingStore store) =>
        {
            var body = await ReadAsync(request, json.RunKeyValue);
            var tag = new RunTag(Required(body.Key, "key"), body.Value ?? throw new InvalidParameterValueException("Missing value for required parameter 'value'."));
            await store.LogBatchAsync(RunId(body.RunId, body.RunUuid), tags: [tag], cancellationToken: request.HttpContext.RequestAborted);
            return ExperimentEndpoints.EmptyResult();
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Edit, from: CairnTarget.RunId);

        api.MapPost("runs/delete-tag", async (HttpRequest request, ITrackingStore store) =>
        {
            var body = await ReadAsync(request, json.RunKeyValue);
            await store.DeleteTagAsync(RunId(body.RunId, body.RunUuid), Required(body.Key, "key"), request.HttpContext.RequestAborted);
            return ExperimentEndpoints.EmptyResult();
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Edit, from: CairnTarget.RunId);

        api.MapPost("runs/log-batch", async (HttpRequest request, ITrackingStore store) =>
        {
            var body = await ReadAsync(request, json.LogBatch);
            var metrics = body.Metrics is null ? [] : new List<Metric>(body.Metrics.Count);
            if (body.Metrics is not null)
            {
                for (var i = 0; i < body.Metrics.Count; i++)
                {
                    var m = body.Metrics[i];
                    // MLflow reports a metric without its key, value or timestamp as an invalid value of the whole list.
                    if (string.IsNullOrEmpty(m.Key) || m.Value is null || m.Timestamp is null)
                        throw InvalidValue(request, "metrics", $"Missing value for required parameter 'metrics[{i}].{(string.IsNullOrEmpty(m.Key) ? "key" : m.Value is null ? "value" : "timestamp")}'.");
                    metrics.Add(new Metric(m.Key, m.Value.Value, m.Timestamp.Value, m.Step ?? 0));
                }
            }
            var parameters = (body.Params ?? []).Select((p, i) => new Param(
                string.IsNullOrEmpty(p.Key) ? throw InvalidValue(request, "params", $"Missing value for required parameter 'params[{i}].key'.") : p.Key,
                p.Value ?? throw new InvalidParameterValueException($"Missing value for required parameter 'params[{i}].value'."))).ToList();
            var tags = (body.Tags ?? []).Select((t, i) => string.IsNullOrEmpty(t.Key)
                ? throw InvalidValue(request, "tags", $"Missing value for required parameter 'tags[{i}].key'.")
                : t).ToList();
            await store.LogBatchAsync(Required(body.RunId, "run_id"), metrics, parameters, Tags(tags), request.HttpContext.RequestAborted);
            return ExperimentEndpoints.EmptyResult();
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Edit, from: CairnTarget.RunId);

        api.MapPost("runs/log-inputs", async (HttpRequest request, ITrackingStore store) =>
        {
            var body = await ReadAsync(request, json.LogInputs, "run_id", "datasets");
            await store.LogInputsAsync(Required(body.RunId, "run_id"), (body.Datasets ?? []).Select(d => d.ToDomain()).ToList(), request.HttpContext.RequestAborted);
            return ExperimentEndpoints.EmptyResult();
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Edit, from: CairnTarget.RunId);

        // mlflow.<flavor>.log_model records the model's MLmodel as JSON in the run's mlflow.log-model.history tag.
        api.MapPost("runs/log-model", async (HttpRequest request, ITrackingStore store) =>
        {
            var body = await ReadAsync(request, json.LogModel);
            await store.RecordLoggedModelAsync(Required(body.RunId, "run_id"), Required(body.ModelJson, "model_json"), request.HttpContext.RequestAborted);
            return ExperimentEndpoints.EmptyResult();
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Edit, from: CairnTarget.RunId);

        api.MapPost("runs/search", async (HttpRequest request, ITrackingStore store, CairnAccess access) =>
        {
            var body = await ReadAsync(request, json.SearchRuns);
            // Only the experiments the caller may read are searched; asking only for others finds nothing.
            var canRead = await access.ExperimentReadFilterAsync(request.HttpContext.User, request.HttpContext.RequestAborted);
            var experimentIds = (body.ExperimentIds ?? []).Where(canRead).ToList();
            if (experimentIds.Count == 0 && body.ExperimentIds is { Count: > 0 }) return Results.Json(new RunsPage(), json.RunsPage);
            var page = await store.SearchRunsAsync(new RunSearch(
                experimentIds,
                body.Filter,
                WireMapping.ParseViewType(body.RunViewType, "run_view_type"),
                MaxResults(body.MaxResults, TrackingLimits.SearchMaxResultsDefault),
                body.OrderBy,
                ExperimentEndpoints.NullIfEmpty(body.PageToken)), request.HttpContext.RequestAborted);
            return Results.Json(new RunsPage
            {
                Runs = page.Items.Count == 0 ? null : page.Items.Select(r => r.ToWire()).ToList(),
                NextPageToken = page.NextPageToken,
            }, json.RunsPage);
        }).FiltersByCairnPermission(CairnResource.Experiment);

        api.MapGet("metrics/get-history", async (HttpRequest request, ITrackingStore store) =>
        {
            var runId = RunId(Query(request, "run_id"), Query(request, "run_uuid"));
            var page = await store.GetMetricHistoryAsync(runId, Required(Query(request, "metric_key"), "metric_key"),
                QueryInt(request, "max_results"), ExperimentEndpoints.NullIfEmpty(Query(request, "page_token")), request.HttpContext.RequestAborted);
            return Results.Json(new MetricsPage
            {
                Metrics = page.Items.Select(m => m.ToWire()).ToList(),
                NextPageToken = page.NextPageToken,
            }, json.MetricsPage);
        }).RequireCairnPermission(CairnResource.Experiment, Permission.Read, from: CairnTarget.RunId);

        api.MapMetricHistoryEndpoints();
    }

    private static List<RunTag> Tags(List<KeyValue>? tags) =>
        (tags ?? []).Select((t, i) => new RunTag(Required(t.Key, $"tags[{i}].key"),
            t.Value ?? throw new InvalidParameterValueException($"Missing value for required parameter 'tags[{i}].value'."))).ToList();
}
