using System.Text;
using System.Text.Json;
using Cairn.Access;
using Cairn.ML.Models;
using Cairn.Server.Auth;
using Cairn.Server.Health;
using Cairn.Server.Hosting;
using Cairn.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Cairn.Server.Scoring;

/// <summary>
/// Scoring through deployments in <c>cairn server</c>: MLflow's protocol at <c>POST /api/cairn/v1/deployments/{name}/invocations</c>
/// and the Open Inference Protocol at <c>/v2/models/{name}</c> (metadata), <c>/ready</c> and <c>/infer</c>, where the model name
/// is the deployment's. The route of each request is picked by the deployment's sticky key (header or top-level JSON field)
/// when the request carries one, else at random by weight; each shadow route then scores a copy off the request path. Every
/// answer names the deployment, model and version and the request id. READ on the deployment is needed to score.
/// </summary>
internal static class DeploymentScoringEndpoints
{
    public const string DeploymentHeader = "X-Cairn-Deployment";

    /// <summary>Registers the runtime (options from <c>Cairn:Deployments</c>), the scoring service and the readiness check.</summary>
    public static IServiceCollection AddCairnDeploymentScoring(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddCairnScoring(configuration);
        services.AddOptions<DeploymentRuntimeOptions>().Bind(configuration.GetSection(DeploymentRuntimeOptions.Section))
            .Validate(o => o.RefreshSeconds is >= 0.05 and <= 3600, $"{DeploymentRuntimeOptions.Section}:RefreshSeconds must be between 0.05 and 3600 seconds.")
            .Validate(o => o.MaxShadowsInFlight is >= 1 and <= 10_000, $"{DeploymentRuntimeOptions.Section}:MaxShadowsInFlight must be between 1 and 10000.")
            .ValidateOnStart();
        services.AddSingleton<DeploymentRuntime>();
        services.AddHostedService(sp => sp.GetRequiredService<DeploymentRuntime>());
        services.AddHealthChecks().AddCheck<DeploymentRuntimeHealthCheck>("deployments", tags: [HealthEndpoints.ReadyTag]);
        return services;
    }

    public static IEndpointRouteBuilder MapDeploymentScoringEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/api/cairn/v1/deployments/{name}/invocations", (HttpContext context, string name, DeploymentRuntime runtime, ScoringService scoring) =>
                ScoreAsync(context, name, runtime, scoring, oip: false))
            .RequireCairnPermission(CairnResource.Deployment, Permission.Read, from: CairnTarget.DeploymentName)
            .WithName("CairnDeploymentInvocations")
            .WithSummary("Scores through the deployment (MLflow's /invocations protocol: dataframe_split, dataframe_records, instances, inputs or CSV).");
        endpoints.MapPost("/v2/models/{name}/infer", (HttpContext context, string name, DeploymentRuntime runtime, ScoringService scoring) =>
                ScoreAsync(context, name, runtime, scoring, oip: true))
            .RequireCairnPermission(CairnResource.Deployment, Permission.Read, from: CairnTarget.DeploymentName)
            .WithName("CairnDeploymentInfer").WithSummary("Scores through the deployment named as the model (Open Inference Protocol v2).");
        endpoints.MapGet("/v2/models/{name}", async (HttpContext context, string name, DeploymentRuntime runtime) =>
            {
                var snapshot = await runtime.AcquireAsync(name, context.RequestAborted);
                try
                {
                    var metadata = (Dictionary<string, object>)OpenInferenceProtocol.ModelMetadata(snapshot.Primaries[0].Model);
                    metadata["name"] = name;
                    metadata["versions"] = snapshot.Primaries.Select(p => p.Model.VersionLabel).Distinct().ToArray();
                    context.Response.Headers[DeploymentHeader] = name;
                    return Results.Json(metadata);
                }
                finally
                {
                    snapshot.Release();
                }
            })
            .RequireCairnPermission(CairnResource.Deployment, Permission.Read, from: CairnTarget.DeploymentName)
            .WithName("CairnDeploymentModelMetadata").WithSummary("The deployment as an Open Inference Protocol model: inputs and outputs of its first primary route, its versions.");
        endpoints.MapGet("/v2/models/{name}/ready", async (HttpContext context, string name, DeploymentRuntime runtime) =>
            {
                (await runtime.AcquireAsync(name, context.RequestAborted)).Release();
                return Results.Json(new Dictionary<string, object> { ["name"] = name, ["ready"] = true });
            })
            .RequireCairnPermission(CairnResource.Deployment, Permission.Read, from: CairnTarget.DeploymentName)
            .WithName("CairnDeploymentModelReady").WithSummary("Loads the deployment's models when they are not yet, and says it is ready.");
        return endpoints;
    }

    private static async Task ScoreAsync(HttpContext context, string name, DeploymentRuntime runtime, ScoringService scoring, bool oip)
    {
        var requestId = ScoringService.AssignRequestId(context);
        context.Response.Headers[DeploymentHeader] = name;
        var snapshot = await runtime.AcquireAsync(name, context.RequestAborted);
        try
        {
            using var timeout = scoring.NewTimeout(context);
            byte[] body;
            try
            {
                body = await scoring.ReadBodyAsync(context, timeout.Token);
            }
            catch (Exception e) when (!context.Response.HasStarted && scoring.Classify(e, context, timeout) is { } error)
            {
                if (oip) await OpenInferenceProtocol.WriteErrorAsync(context, error.Status, error.Message);
                else await MlflowExceptionHandler.WriteErrorAsync(context, error.Status, error.Code, error.Message, context.RequestAborted);
                return;
            }
            var model = snapshot.Primaries[Pick(context, snapshot, body)].Model;
            var mediaType = ScoringService.MediaTypeOf(context.Request.ContentType);
            var stickyField = snapshot.Deployment.Sticky is { Source: StickyKeySource.Field } sticky ? sticky.Name : null;
            var rate = snapshot.Deployment.LogSampleRate;
            var answered = oip
                ? await CairnScoringExtensions.InferAsync(context, scoring, requestId, model, name, body, timeout, rate)
                : await scoring.InvocationsAsync(context, requestId, model, name, body, timeout, stickyField, rate);
            if (answered && snapshot.Shadows.Length > 0) runtime.RunShadows(snapshot, requestId, shadow => Parse(shadow, body, mediaType, oip, stickyField));
        }
        finally
        {
            snapshot.Release();
        }
    }

    /// <summary>The index of the primary route: by the sticky key when the request carries it, else at random by weight.</summary>
    private static int Pick(HttpContext context, DeploymentSnapshot snapshot, byte[] body)
    {
        var router = snapshot.Router;
        switch (snapshot.Deployment.Sticky)
        {
            case { Source: StickyKeySource.Header } sticky:
                return router.PickIndex(context.Request.Headers[sticky.Name].ToString());
            case { Source: StickyKeySource.Field } sticky:
                return router.PickIndexUtf8(FieldValue(body, sticky.Name));
            default:
                return router.PickIndex(default);
        }
    }

    /// <summary>
    /// The raw value of the top-level field <paramref name="field"/> of a JSON body (a string's text, a number's digits), or
    /// empty when the body is not JSON or has no such field (the request is then routed at random).
    /// </summary>
    internal static ReadOnlySpan<byte> FieldValue(byte[] body, string field)
    {
        var name = Encoding.UTF8.GetBytes(field);
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return default;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var match = reader.ValueTextEquals(name);
                if (!reader.Read()) return default;
                if (match)
                {
                    return reader.TokenType switch
                    {
                        JsonTokenType.String => reader.ValueIsEscaped ? Encoding.UTF8.GetBytes(reader.GetString()!) : reader.ValueSpan.ToArray(),
                        JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False => reader.ValueSpan.ToArray(),
                        _ => default,
                    };
                }
                reader.Skip();
            }
        }
        catch (JsonException)
        {
            // A body that is not JSON gets its 400 from the parser.
        }
        return default;
    }

    /// <summary>The request's copy parsed for a shadow model, in the request's protocol.</summary>
    private static ColumnBatch Parse(ServedModel model, byte[] body, string? mediaType, bool oip, string? stickyField)
    {
        if (string.Equals(mediaType, "text/csv", StringComparison.OrdinalIgnoreCase))
            return ScoringRequestParser.ParseCsv(Encoding.UTF8.GetString(body), model);
        using var document = JsonDocument.Parse(body);
        return oip ? OpenInferenceProtocol.Parse(document.RootElement, model).Batch : ScoringRequestParser.ParseJson(document.RootElement, model, stickyField).Batch;
    }
}
