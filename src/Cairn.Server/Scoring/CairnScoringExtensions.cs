using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Cairn.ML.Models;
using Cairn.Serving;
using Cairn.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Scoring;

/// <summary>
/// Registers and maps model scoring in any ASP.NET Core host: <c>AddCairnScoring</c> (options from <c>Cairn:Scoring</c>, the
/// served model holder, the scoring service; an <see cref="IPredictionLog"/> registered by the host is used when present)
/// and <c>MapCairnScoring</c> (MLflow's <c>/invocations</c> and <c>/ping</c>, the Open Inference Protocol's <c>/v2/...</c>).
/// </summary>
public static class CairnScoringExtensions
{
    /// <summary>Largest micro-batch, in rows.</summary>
    public const int MaxMicroBatchRows = 65_536;

    /// <summary>Longest micro-batch wait: 100 ms.</summary>
    public const int MaxMicroBatchWaitMicroseconds = 100_000;

    /// <summary>Most requests a micro-batch queue may hold.</summary>
    public const int MaxMicroBatchQueue = 1_000_000;

    public static IServiceCollection AddCairnScoring(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<ScoringOptions>()
            .Bind(configuration.GetSection(ScoringOptions.Section))
            .Validate(o => o.MaxRequestBodyBytes > 0, $"{ScoringOptions.Section}:MaxRequestBodyBytes (--max-request-size) must be a positive number of bytes.")
            .Validate(o => o.RequestTimeoutSeconds > 0 && double.IsFinite(o.RequestTimeoutSeconds), $"{ScoringOptions.Section}:RequestTimeoutSeconds (--timeout) must be a positive number of seconds.")
            .Validate(o => o.MicroBatchMaxRows is >= 0 and <= MaxMicroBatchRows, $"{ScoringOptions.Section}:MicroBatchMaxRows (--micro-batch-max) must be between 0 (off) and {MaxMicroBatchRows} rows.")
            .Validate(o => o.MicroBatchWaitMicroseconds is >= 0 and <= MaxMicroBatchWaitMicroseconds, $"{ScoringOptions.Section}:MicroBatchWaitMicroseconds (--micro-batch-wait-us) must be between 0 and {MaxMicroBatchWaitMicroseconds} microseconds.")
            .Validate(o => o.MicroBatchQueueLimit is >= 1 and <= MaxMicroBatchQueue, $"{ScoringOptions.Section}:MicroBatchQueueLimit (--micro-batch-queue) must be between 1 and {MaxMicroBatchQueue} requests.")
            .Validate(o => o.ApiKey is null || o.ApiKey.Length >= 16, $"{ScoringOptions.Section}:ApiKey (--api-key, CAIRN_SERVE_API_KEY) must be at least 16 characters.")
            .Validate(o => o.OnInvalid is "reject" or "flag", $"{ScoringOptions.Section}:OnInvalid (--on-invalid) must be reject or flag.")
            .ValidateOnStart();
        services.TryAddSingleton<ScoringModels>();
        services.TryAddSingleton(sp => new ScoringService(
            sp.GetRequiredService<ScoringModels>(), sp.GetRequiredService<IOptions<ScoringOptions>>(),
            sp.GetRequiredService<ILogger<ScoringService>>(), sp.GetService<IPredictionLog>()));
        return services;
    }

    /// <summary>Maps <c>POST /invocations</c>, <c>GET /ping</c> and the Open Inference Protocol v2 routes.</summary>
    public static IEndpointRouteBuilder MapCairnScoring(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/invocations", (HttpContext context, ScoringService scoring) => scoring.InvocationsAsync(context));
        endpoints.MapGet("/ping", (HttpContext context, ScoringService scoring) => Probe(context, scoring.Models.Current is not null, "\n"));

        endpoints.MapGet("/v2", () => Results.Json(OpenInferenceProtocol.ServerMetadata()));
        endpoints.MapGet("/v2/health/live", () => Results.Json(new Dictionary<string, bool> { ["live"] = true }));
        endpoints.MapGet("/v2/health/ready", (ScoringService scoring) =>
            Results.Json(new Dictionary<string, bool> { ["ready"] = scoring.Models.Current is not null }, statusCode: scoring.Models.Current is null ? 503 : 200));
        foreach (var prefix in new[] { "/v2/models/{name}", "/v2/models/{name}/versions/{version}" })
        {
            endpoints.MapGet(prefix, (HttpContext context, string name, string? version, ScoringService scoring) =>
                Find(context, scoring, name, version) is { } model ? Results.Json(OpenInferenceProtocol.ModelMetadata(model)) : NotFound(name, version));
            endpoints.MapGet(prefix + "/ready", (HttpContext context, string name, string? version, ScoringService scoring) =>
                Find(context, scoring, name, version) is not null ? Results.Json(new Dictionary<string, object> { ["name"] = name, ["ready"] = true }) : NotFound(name, version));
            endpoints.MapPost(prefix + "/infer", (HttpContext context, string name, string? version, ScoringService scoring) => InferAsync(context, scoring, name, version));
        }
        return endpoints;
    }

    /// <summary>
    /// <c>/health</c> and <c>/health/ready</c> (200 once the model is loaded, 503 before) and <c>/health/live</c> (200 while
    /// the process answers), as the tracking server has them; for a host that serves only scoring.
    /// </summary>
    public static IEndpointRouteBuilder MapCairnScoringHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/health", (HttpContext context, ScoringService scoring) => Probe(context, scoring.Models.Current is not null, "OK"));
        endpoints.MapGet("/health/live", () => Results.Text("OK"));
        endpoints.MapGet("/health/ready", (HttpContext context, ScoringService scoring) => Probe(context, scoring.Models.Current is not null, "OK"));
        endpoints.MapGet("/version", () => Results.Text(typeof(CairnScoringExtensions).Assembly.GetName().Version?.ToString() ?? "0"));
        return endpoints;
    }

    /// <summary>
    /// With <see cref="ScoringOptions.ApiKey"/> set, every request but the health probes must carry
    /// <c>Authorization: Bearer &lt;key&gt;</c> (compared in constant time); others get 401 UNAUTHENTICATED in MLflow's body.
    /// </summary>
    public static IApplicationBuilder UseCairnScoringApiKey(this IApplicationBuilder app)
    {
        var key = app.ApplicationServices.GetRequiredService<IOptions<ScoringOptions>>().Value.ApiKey;
        if (string.IsNullOrEmpty(key)) return app;
        var expected = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        return app.Use(async (context, next) =>
        {
            var path = context.Request.Path;
            if (path == "/ping" || path.StartsWithSegments("/health") || path.StartsWithSegments("/v2/health"))
            {
                await next(context);
                return;
            }
            var header = context.Request.Headers.Authorization.ToString();
            var given = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : "";
            // Hashes have one length, so the comparison takes the same time whatever the caller sent.
            if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), expected))
            {
                context.Response.Headers.WWWAuthenticate = "Bearer realm=\"cairn\"";
                await MlflowExceptionHandler.WriteErrorAsync(context, 401, nameof(ErrorCode.UNAUTHENTICATED),
                    given.Length == 0 ? "Scoring needs an API key: send 'Authorization: Bearer <key>'." : "The API key in 'Authorization: Bearer' is not valid.",
                    context.RequestAborted);
                return;
            }
            await next(context);
        });
    }

    private static IResult Probe(HttpContext context, bool ready, string text) =>
        ready ? Results.Text(text) : Results.Text("The model is still loading.", statusCode: 503);

    private static ServedModel? Find(HttpContext context, ScoringService scoring, string name, string? version)
    {
        if (scoring.Models.Current is not { } model || model.Name != name || version is not null && version != model.VersionLabel) return null;
        ScoringService.NameModel(context, model);
        return model;
    }

    private static IResult NotFound(string name, string? version) =>
        Results.Json(new Dictionary<string, string> { ["error"] = version is null ? $"Model '{name}' is not served here." : $"Model '{name}' version '{version}' is not served here." }, statusCode: 404);

    private static async Task InferAsync(HttpContext context, ScoringService scoring, string name, string? version)
    {
        var requestId = ScoringService.AssignRequestId(context);
        if (Find(context, scoring, name, version) is not { } model)
        {
            await NotFound(name, version).ExecuteAsync(context);
            return;
        }
        using var timeout = scoring.NewTimeout(context);
        await InferAsync(context, scoring, requestId, model, model.Name, null, timeout);
    }

    /// <summary>
    /// Answers one Open Inference Protocol infer request with <paramref name="model"/>; the body is read from the request when
    /// <paramref name="body"/> is null. The rows are logged under <paramref name="deployment"/> at <paramref name="logSampleRate"/>
    /// (null: the log's own rate). True when the model answered 200.
    /// </summary>
    internal static async Task<bool> InferAsync(HttpContext context, ScoringService scoring, string requestId, ServedModel model, string deployment,
        byte[]? body, CancellationTokenSource timeout, double? logSampleRate = null)
    {
        ScoringService.NameModel(context, model);
        var time = DateTimeOffset.UtcNow;
        var start = Stopwatch.GetTimestamp();
        var status = 200;
        try
        {
            ColumnBatch input;
            string? id;
            HashSet<string>? wanted;
            if (body is null)
            {
                scoring.LimitBody(context);
                using var document = await JsonBody.ReadAsync(context.Request, timeout.Token);
                (input, id, wanted) = OpenInferenceProtocol.Parse(document.Root, model);
            }
            else
            {
                using var document = JsonDocument.Parse(body);
                (input, id, wanted) = OpenInferenceProtocol.Parse(document.RootElement, model);
            }
            if (scoring.CheckInput(context, requestId, model, deployment, input) is { } rejected)
            {
                status = 400;
                ScoringMetrics.Errors.Add(1, ScoringMetrics.Tags(model, deployment, "v2", status));
                await OpenInferenceProtocol.WriteErrorAsync(context, 400, rejected);
                return false;
            }
            timeout.Token.ThrowIfCancellationRequested();
            var output = await scoring.ScoreAsync(model, input, timeout.Token);
            context.Response.ContentType = "application/json";
            OpenInferenceProtocol.WriteResponse(context.Response.BodyWriter, model, id, output, wanted);
            await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
            ScoringMetrics.RecordBatch(model, deployment, output, output.RowCount);
            scoring.Log(requestId, model, deployment, time, Stopwatch.GetElapsedTime(start), input, output, sampleRate: logSampleRate);
            return true;
        }
        catch (Exception e) when (!context.Response.HasStarted && scoring.Classify(e, context, timeout) is { } error)
        {
            status = error.Status;
            ScoringMetrics.Errors.Add(1, ScoringMetrics.Tags(model, deployment, "v2", status));
            await OpenInferenceProtocol.WriteErrorAsync(context, error.Status, error.Message);
            return false;
        }
        finally
        {
            ScoringMetrics.Requests.Add(1, ScoringMetrics.Tags(model, deployment, "v2", status));
            ScoringMetrics.Duration.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, ScoringMetrics.Tags(model, deployment, "v2", status));
        }
    }
}
