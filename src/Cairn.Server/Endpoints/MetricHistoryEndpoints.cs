using System.Globalization;
using System.Text.Json;
using Cairn.Access;
using Cairn.Server.Auth;
using Cairn.Tracking;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static Cairn.Server.Endpoints.MlflowRequest;

namespace Cairn.Server.Endpoints;

/// <summary>
/// The metric-history endpoints MLflow's UI and tools call for several runs at once (<c>metrics/get-history-bulk</c>
/// and <c>metrics/get-history-bulk-interval</c>, served by MLflow under <c>/ajax-api</c>), with MLflow's limits,
/// ordering, step sampling and error messages.
/// </summary>
internal static class MetricHistoryEndpoints
{
    private const int MaxRunIdsBulk = 100;
    private const int MaxResultsBulk = 25000;
    private const int MaxRunIdsInterval = 100;
    private const int MaxResultsPerRunInterval = 2500;
    private const int MaxResultsIntervalPerRun = 25000;

    /// <summary>The most history points read for one run of a request, so a huge history cannot exhaust the server.</summary>
    internal const int MaxPointsReadPerRun = 250_000;

    public static void MapMetricHistoryEndpoints(this IEndpointRouteBuilder api)
    {
        api.MapGet("metrics/get-history-bulk", GetHistoryBulkAsync).RequireCairnPermission(CairnResource.Experiment, Permission.Read, from: CairnTarget.RunIds);
        api.MapGet("metrics/get-history-bulk-interval", GetHistoryBulkIntervalAsync).RequireCairnPermission(CairnResource.Experiment, Permission.Read, from: CairnTarget.RunIds);
    }

    private static async Task GetHistoryBulkAsync(HttpContext context, ITrackingStore store)
    {
        var request = context.Request;
        var runIds = request.Query["run_id"].OfType<string>().ToList();
        if (runIds.Count == 0)
            throw new InvalidParameterValueException("GetMetricHistoryBulk request must specify at least one run_id.");
        if (runIds.Count > MaxRunIdsBulk)
            throw new InvalidParameterValueException(
                $"GetMetricHistoryBulk request cannot specify more than {MaxRunIdsBulk} run_ids. Received {runIds.Count} run_ids.");
        var key = Query(request, "metric_key")
            ?? throw new InvalidParameterValueException("GetMetricHistoryBulk request must specify a metric_key.");
        var maxResults = Math.Min(QueryInt(request, "max_results") ?? MaxResultsBulk, MaxResultsBulk);
        if (maxResults < 0)
            throw new InvalidParameterValueException($"Invalid value {maxResults} for parameter 'max_results' supplied. It must be at least 0.");

        // MLflow's SQL store: by run id, then timestamp, step and value; at most max_results in all.
        var points = new List<(string RunId, Metric Metric)>();
        foreach (var runId in runIds.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            if (points.Count >= maxResults) break;
            var history = await ReadHistoryAsync(store, runId, key, context.RequestAborted);
            points.AddRange(history.OrderBy(m => m.Timestamp).ThenBy(m => m.Step).ThenBy(m => m.Value).Select(m => (runId, m)));
        }
        await WriteMetricsAsync(context, points.Take(maxResults), alwaysList: true);
    }

    private static async Task GetHistoryBulkIntervalAsync(HttpContext context, ITrackingStore store)
    {
        var request = context.Request;
        var runIds = request.Query["run_ids"].OfType<string>().Where(id => id.Length > 0).ToList();
        if (runIds.Count == 0) throw Missing("run_ids");
        if (runIds.Count > MaxRunIdsInterval)
            throw new InvalidParameterValueException(
                $"GetMetricHistoryBulkInterval request must specify at most {MaxRunIdsInterval} run_ids. Received {runIds.Count} run_ids. " +
                "See the API docs for more information about request parameters.");
        var key = Query(request, "metric_key");
        if (string.IsNullOrEmpty(key)) throw Missing("metric_key");
        var startStep = QueryLong(request, "start_step");
        var endStep = QueryLong(request, "end_step");
        var maxResults = QueryLong(request, "max_results") ?? MaxResultsPerRunInterval;
        if (maxResults < 1 || maxResults > MaxResultsPerRunInterval)
            throw new InvalidParameterValueException(
                $"max_results must be between 1 and {MaxResultsPerRunInterval}. See the API docs for more information about request parameters.");
        if ((startStep is null) != (endStep is null))
            throw new InvalidParameterValueException("If either start step or end step are specified, both must be specified.");
        if (startStep > endStep)
            throw new InvalidParameterValueException(
                $"end_step must be greater than start_step. Found start_step={startStep} and end_step={endStep}.");

        var histories = new List<(string RunId, IReadOnlyList<Metric> History)>(runIds.Count);
        foreach (var runId in runIds)
            histories.Add((runId, await ReadHistoryAsync(store, runId, key, context.RequestAborted)));

        HashSet<long> steps;
        if (startStep is { } start && endStep is { } end)
        {
            steps = [.. SampledSteps(start, end, (int)maxResults), end];
        }
        else
        {
            // Sampled over 0..the largest step of any run, plus each run's own last step (a run without points counts 0).
            var lastSteps = histories.Select(h => h.History.Count == 0 ? 0 : h.History.Max(m => m.Step)).ToList();
            steps = [.. SampledSteps(0, lastSteps.Max(), (int)maxResults), .. lastSteps];
        }

        var points = histories.SelectMany(h => h.History
            .Where(m => steps.Contains(m.Step))
            .OrderBy(m => m.Step).ThenBy(m => m.Timestamp).ThenBy(m => m.Value)
            .Take(MaxResultsIntervalPerRun)
            .Select(m => (h.RunId, m)));
        await WriteMetricsAsync(context, points, alwaysList: false);
    }

    /// <summary>
    /// MLflow's <c>_get_sampled_steps_from_steps</c>: the steps start..end split into <paramref name="maxResults"/> equal
    /// intervals (as floating point, with Python's floor division), the first step of each. Computed per interval
    /// rather than per step, so a wide range costs no more than a narrow one.
    /// </summary>
    internal static List<long> SampledSteps(long start, long end, int maxResults)
    {
        var count = (double)(end - start) + 1;
        var interval = count / maxResults;
        var result = new List<long>();
        if (interval <= 1)
        {
            for (var step = start; step <= end; step++) result.Add(step);
            return result;
        }
        var lastOffset = end - start;
        for (var index = 0; index <= maxResults; index++)
        {
            // The first offset whose interval index is `index`: start from the exact quotient, then settle it by the same arithmetic.
            var offset = (long)Math.Ceiling(index * interval);
            while (offset > 0 && FloorDiv(offset - 1, interval) >= index) offset--;
            while (offset <= lastOffset && FloorDiv(offset, interval) < index) offset++;
            if (offset > lastOffset) break;
            if (FloorDiv(offset, interval) == index) result.Add(start + offset);
        }
        return result;
    }

    /// <summary>Python's float floor division <c>a // b</c> for non-negative operands.</summary>
    private static double FloorDiv(double a, double b)
    {
        var mod = a % b;
        var div = (a - mod) / b;
        if (div == 0) return 0;
        var floor = Math.Floor(div);
        return div - floor > 0.5 ? floor + 1 : floor;
    }

    /// <summary>The whole history of a metric in a run (by step, then timestamp); a run that does not exist has none, as in MLflow.</summary>
    private static async Task<IReadOnlyList<Metric>> ReadHistoryAsync(ITrackingStore store, string runId, string key, CancellationToken cancellationToken)
    {
        var all = new List<Metric>();
        string? token = null;
        try
        {
            do
            {
                var page = await store.GetMetricHistoryAsync(runId, key, TrackingLimits.GetMetricHistoryMaxResults, token, cancellationToken);
                all.AddRange(page.Items);
                token = page.NextPageToken;
                if (all.Count > MaxPointsReadPerRun)
                    throw new CairnException(ErrorCode.REQUEST_LIMIT_EXCEEDED,
                        $"Metric '{key}' of run {runId} has more than {MaxPointsReadPerRun} points; read it with metrics/get-history page by page.");
            } while (token is not null);
        }
        catch (ResourceDoesNotExistException)
        {
            return [];
        }
        return all;
    }

    private static InvalidParameterValueException Missing(string field) =>
        new($"Missing value for required parameter '{field}'. See the API docs for more information about request parameters.");

    private static long? QueryLong(HttpRequest request, string name)
    {
        var text = Query(request, name);
        if (string.IsNullOrEmpty(text)) return null;
        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new InvalidParameterValueException(
                $"Invalid value {text} for parameter '{name}' supplied. Hint: Value was of type 'str'. See the API docs for more information about request parameters.");
    }

    /// <summary>Writes <c>{"metrics": [{key, value, timestamp, step, run_id}, ...]}</c>; NaN and infinities as MLflow's JSON strings.</summary>
    private static async Task WriteMetricsAsync(HttpContext context, IEnumerable<(string RunId, Metric Metric)> points, bool alwaysList)
    {
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        var any = false;
        foreach (var (runId, m) in points)
        {
            if (!any)
            {
                writer.WriteStartArray("metrics");
                any = true;
            }
            writer.WriteStartObject();
            writer.WriteString("key", m.Key);
            if (double.IsFinite(m.Value)) writer.WriteNumber("value", m.Value);
            else writer.WriteString("value", double.IsNaN(m.Value) ? "NaN" : m.Value > 0 ? "Infinity" : "-Infinity");
            writer.WriteNumber("timestamp", m.Timestamp);
            writer.WriteNumber("step", m.Step);
            writer.WriteString("run_id", runId);
            writer.WriteEndObject();
        }
        if (any) writer.WriteEndArray();
        else if (alwaysList)
        {
            writer.WriteStartArray("metrics");
            writer.WriteEndArray();
        }
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);
    }
}
