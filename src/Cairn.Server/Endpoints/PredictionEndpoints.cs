using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Cairn.Access;
using Cairn.Serving;
using Cairn.Server.Auth;
using Cairn.Server.Hosting;
using Cairn.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static Cairn.Server.Endpoints.MlflowRequest;

namespace Cairn.Server.Endpoints;

/// <summary>
/// The prediction log of a deployment under /api/cairn/v1/deployments/{name}: ground truth recorded against a logged
/// request (<c>POST feedback</c>) and a bounded, paged read of the logged rows of a time window (<c>GET predictions</c>).
/// </summary>
internal static class PredictionEndpoints
{
    /// <summary>The longest deployment name or request id accepted.</summary>
    public const int MaxNameLength = 256;

    /// <summary>Rows in a page of <c>GET predictions</c> when <c>max_rows</c> is absent.</summary>
    public const int DefaultPageRows = 1_000;

    public static void MapPredictionEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/cairn/v1/deployments/{name}");

        // Ground truth is a change to the deployment's records (EDIT); reading its log needs READ. A name that is no deployment
        // (a model served by `cairn serve` logs under its own name) has no grant, so the default permission applies.
        group.MapPost("feedback", async (string name, HttpRequest request, ServerStores stores) =>
        {
            CheckName(name, "name");
            var body = await ReadAsync(request, PredictionJson.Default.FeedbackRequest, "request_id", "ground_truth");
            var requestId = Required(body.RequestId, "request_id");
            CheckName(requestId, "request_id");
            if (body.Row is < 0) throw new InvalidParameterValueException($"Invalid value {body.Row} for parameter 'row': it must be 0 or more.");
            var truth = body.GroundTruth;
            var store = Predictions(stores);
            IReadOnlyList<string> values;
            if (body.Row is not null) values = [truth.GetRawText()];
            else if (truth.ValueKind == JsonValueKind.Array) values = truth.EnumerateArray().Select(v => v.GetRawText()).ToList();
            else
            {
                // A single value is the truth of a one-row request.
                var logged = await store.FindRequestAsync(name, requestId, request.HttpContext.RequestAborted)
                    ?? throw NotLogged(name, requestId);
                if (logged.Rows != 1)
                    throw new InvalidParameterValueException(
                        $"ground_truth is one value; request {requestId} has {logged.Rows} rows: send a list of {logged.Rows} values or name the row.");
                values = [truth.GetRawText()];
            }
            var info = await store.RecordFeedbackAsync(name, requestId, body.Row, values, request.HttpContext.RequestAborted);
            return Results.Json(new FeedbackResponse { RequestId = requestId, Rows = values.Count, RequestRows = info.Rows }, PredictionJson.Default.FeedbackResponse);
        }).RequireCairnPermission(CairnResource.Deployment, Permission.Edit, from: CairnTarget.DeploymentName)
        .WithName("CairnRecordFeedback")
        .WithSummary("Records ground truth for a logged request (body: request_id, ground_truth as one value per row or a list, optional row).")
        .Accepts<FeedbackRequest>("application/json").Produces<FeedbackResponse>()
        .Produces<Cairn.Contracts.ErrorResponse>(StatusCodes.Status400BadRequest).Produces<Cairn.Contracts.ErrorResponse>(StatusCodes.Status404NotFound);

        group.MapGet("predictions", async (string name, HttpRequest request, ServerStores stores) =>
        {
            CheckName(name, "name");
            var start = Time(Required(Query(request, "start"), "start"), "start");
            var end = Time(Required(Query(request, "end"), "end"), "end");
            var maxRows = QueryInt(request, "max_rows") ?? DefaultPageRows;
            if (maxRows is < 1 or > SqlPredictionStore.MaxPageRows)
                throw new InvalidParameterValueException($"Invalid value {maxRows} for parameter 'max_rows': it must be between 1 and {SqlPredictionStore.MaxPageRows}.");
            var page = await Predictions(stores).ReadPageAsync(name, Query(request, "model_version"), start, end, maxRows, Query(request, "page_token"),
                request.HttpContext.RequestAborted);
            return Results.Stream(stream => WritePageAsync(stream, page, request.HttpContext.RequestAborted), "application/json");
        }).RequireCairnPermission(CairnResource.Deployment, Permission.Read, from: CairnTarget.DeploymentName)
        .WithName("CairnReadPredictions")
        .WithSummary("Logged rows of a deployment whose request arrived in [start, end) as columns, at most max_rows a page "
            + "(query: start, end as Unix milliseconds or ISO 8601, optional model_version, max_rows, page_token).")
        .Produces(StatusCodes.Status200OK, contentType: "application/json").Produces<Cairn.Contracts.ErrorResponse>(StatusCodes.Status400BadRequest);
    }

    private static SqlPredictionStore Predictions(ServerStores stores) =>
        stores.Inner.Predictions ?? throw new CairnException(ErrorCode.NOT_IMPLEMENTED, "This server's store keeps no prediction log.");

    private static ResourceDoesNotExistException NotLogged(string deployment, string requestId) =>
        new($"No logged prediction with request_id={requestId} in deployment {deployment}.");

    internal static void CheckName(string value, string field)
    {
        if (value.Length > MaxNameLength || value.Any(char.IsControl))
            throw new InvalidParameterValueException($"Invalid value for parameter '{field}': at most {MaxNameLength} characters and no control characters.");
    }

    internal static DateTimeOffset Time(string text, string field)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var ms))
        {
            try
            {
                return DateTimeOffset.FromUnixTimeMilliseconds(ms);
            }
            catch (ArgumentOutOfRangeException)
            {
                // Reported below.
            }
        }
        else if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
            return time;
        throw new InvalidParameterValueException($"Invalid value '{text}' for parameter '{field}': give Unix milliseconds or an ISO 8601 time.");
    }

    private static async Task WritePageAsync(Stream stream, PredictionPage page, CancellationToken cancellationToken)
    {
        await using var json = new Utf8JsonWriter(stream);
        json.WriteStartObject();
        json.WriteStartArray("rows");
        foreach (var part in page.Rows)
        {
            json.WriteStartObject();
            json.WriteString("model_name", part.ModelName);
            json.WriteString("model_version", part.ModelVersion);
            json.WriteBoolean("shadow", part.Shadow);
            json.WriteNumber("count", part.Count);
            WriteColumn(json, "request_ids", part.RequestIds);
            WriteColumn(json, "rows", part.RowIndexes);
            WriteColumn(json, "times_ms", part.TimesMs);
            WriteColumn(json, "latency_ms", part.LatencyMs);
            foreach (var (section, columns) in new[] { ("inputs", part.Inputs), ("outputs", part.Outputs) })
            {
                json.WriteStartObject(section);
                foreach (var (column, values) in columns) WriteColumn(json, column, values);
                json.WriteEndObject();
            }
            json.WriteEndObject();
            if (json.BytesPending > 64 * 1024) await json.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        json.WriteEndArray();
        if (page.NextPageToken is { } token) json.WriteString("next_page_token", token);
        json.WriteEndObject();
        await json.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static void WriteColumn(Utf8JsonWriter json, string name, Array values)
    {
        json.WriteStartArray(name);
        foreach (var value in values) WriteValue(json, value);
        json.WriteEndArray();
    }

    private static void WriteValue(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null: json.WriteNullValue(); break;
            case string s: json.WriteStringValue(s); break;
            case bool b: json.WriteBooleanValue(b); break;
            case int i: json.WriteNumberValue(i); break;
            case long l: json.WriteNumberValue(l); break;
            // JSON has no NaN or infinity: they are written as MLflow's Python JSON writes them, as strings.
            case double d when !double.IsFinite(d): json.WriteStringValue(d.ToString(CultureInfo.InvariantCulture)); break;
            case double d: json.WriteNumberValue(d); break;
            case float f when !float.IsFinite(f): json.WriteStringValue(f.ToString(CultureInfo.InvariantCulture)); break;
            case float f: json.WriteNumberValue(f); break;
            case Array tensor:
                json.WriteStartArray();
                foreach (var element in tensor) WriteValue(json, element);
                json.WriteEndArray();
                break;
            default: json.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture)); break;
        }
    }
}

/// <summary>The body of <c>POST /api/cairn/v1/deployments/{name}/feedback</c>.</summary>
internal sealed class FeedbackRequest
{
    public string? RequestId { get; set; }

    /// <summary>One value per row of the request (a list), one value for a one-row request, or the value of <see cref="Row"/>.</summary>
    public JsonElement GroundTruth { get; set; }

    /// <summary>The one row the ground truth is for; absent for the whole request.</summary>
    public int? Row { get; set; }
}

/// <summary>What feedback recorded.</summary>
internal sealed class FeedbackResponse
{
    public string? RequestId { get; set; }

    /// <summary>Rows whose ground truth was recorded.</summary>
    public int Rows { get; set; }

    /// <summary>Rows of the logged request.</summary>
    public int RequestRows { get; set; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowTrailingCommas = true,
    ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(FeedbackRequest))]
[JsonSerializable(typeof(FeedbackResponse))]
internal sealed partial class PredictionJson : JsonSerializerContext;
