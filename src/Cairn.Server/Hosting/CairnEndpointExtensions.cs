using Cairn.Server.Auth;
using Cairn.Server.Diagnostics;
using Cairn.Server.Endpoints;
using Cairn.Server.Health;
using Cairn.Server.Scoring;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Cairn.Server.Hosting;

/// <summary>Maps the Cairn server's routes; the services come from <c>AddCairnServer</c>.</summary>
public static class CairnEndpointExtensions
{
    /// <summary>The URL of the OpenAPI document for Cairn's own endpoints (<c>/api/cairn/v1/...</c>).</summary>
    public const string OpenApiPath = "/openapi/cairn.json";

    /// <summary>
    /// Adds the MLflow error format and the artifact path guard to the pipeline, then maps MLflow's REST API
    /// (<c>/api/2.0/mlflow/...</c> and the <c>/ajax-api</c> twin), the artifact proxy, Cairn's own <c>/api/cairn/v1/...</c>,
    /// <c>/health</c>, <c>/health/live</c>, <c>/health/ready</c>, <c>/version</c>, <c>/metrics</c> and <see cref="OpenApiPath"/>.
    /// </summary>
    public static WebApplication MapCairnApi(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseCairnRequestGuards();
        // Before the path guard: an anonymous caller learns nothing about paths.
        app.UseCairnAuthentication();
        app.UseArtifactPathGuard();
        app.UseCairnAuthorization();

        app.MapCairnHealth();
        app.MapGet("/version", () => Results.Text(typeof(CairnServer).Assembly.GetName().Version?.ToString() ?? "0")).WithoutCairnResource();
        app.MapCairnMetrics().WithoutCairnResource();
        app.MapCairnOpenApi(OpenApiPath).WithoutCairnResource();

        foreach (var prefix in new[] { "/api/2.0/mlflow", "/ajax-api/2.0/mlflow" })
        {
            var api = app.MapGroup(prefix);
            api.MapExperimentEndpoints();
            api.MapRunEndpoints();
            api.MapArtifactListEndpoint();
            api.MapRegistryEndpoints();
            api.MapUserEndpoints();
            api.MapPermissionEndpoints();
        }
        foreach (var prefix in new[] { "/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts" })
            app.MapGroup(prefix).MapArtifactProxyEndpoints();
        app.MapGroup("/api/cairn/v1/registry").MapCairnRegistryEndpoints();
        app.MapGroup("/api/cairn/v1/deployments").MapDeploymentEndpoints();
        app.MapGroup("/api/cairn/v1/monitoring/alerts").MapAlertEndpoints();
        app.MapGroup("/api/cairn/v1/tokens").WithoutCairnResource().MapTokenEndpoints();
        app.MapRunArtifactDownload();
        app.MapPredictionEndpoints();
        app.MapMonitoringEndpoints();
        app.MapDeploymentScoringEndpoints();

        // Unknown API paths answer in MLflow's error format rather than an empty 404.
        app.MapFallback("/api/{**path}", NotFound).WithoutCairnResource();
        app.MapFallback("/ajax-api/{**path}", NotFound).WithoutCairnResource();
        return app;
    }

    private static Task NotFound(HttpContext context) =>
        MlflowExceptionHandler.WriteErrorAsync(context, 404, nameof(ErrorCode.ENDPOINT_NOT_FOUND),
            $"No endpoint {context.Request.Method} {context.Request.Path}.", context.RequestAborted);
}
