using Cairn.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Cairn.Server.Diagnostics;

/// <summary>OpenTelemetry for the server: Cairn's meter and ASP.NET Core's request meters to /metrics, and OTLP when asked.</summary>
public static class CairnTelemetryExtensions
{
    /// <summary>The path of the Prometheus scrape endpoint.</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>
    /// Registers metrics (the <c>Cairn</c> meter, ASP.NET Core's <c>http.server.request.duration</c> and Kestrel's) for the
    /// Prometheus endpoint. When <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (environment or configuration) metrics and traces
    /// (the <c>Cairn</c> activity source and ASP.NET Core's request spans) are also sent there; without it no spans are made.
    /// </summary>
    public static IServiceCollection AddCairnTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        var otlp = !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("cairn", serviceVersion: typeof(CairnTelemetryExtensions).Assembly.GetName().Version?.ToString()))
            .WithMetrics(metrics => metrics
                .AddMeter(CairnTelemetry.Name)
                .AddAspNetCoreInstrumentation()
                .AddPrometheusExporter());
        if (otlp)
        {
            telemetry.WithTracing(tracing => tracing
                .AddSource(CairnTelemetry.Name)
                // Probes and scrapes every few seconds would drown the spans worth reading.
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !IsProbe(context.Request.Path)));
            telemetry.UseOtlpExporter();
        }
        return services;
    }

    /// <summary>Maps the Prometheus scrape endpoint at <see cref="MetricsPath"/>.</summary>
    public static IEndpointConventionBuilder MapCairnMetrics(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapPrometheusScrapingEndpoint(MetricsPath);

    private static bool IsProbe(PathString path) => path.StartsWithSegments("/health") || path.StartsWithSegments(MetricsPath);
}
