using Cairn.Artifacts;
using Cairn.Data.Remotes;
using Cairn.Registry;
using Cairn.Server.Auth;
using Cairn.Server.Diagnostics;
using Cairn.Server.Health;
using Cairn.Server.Monitoring;
using Cairn.Server.Scoring;
using Cairn.Tracking;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Hosting;

/// <summary>Registers the Cairn server in any ASP.NET Core host; <c>app.MapCairnApi()</c> then maps its routes.</summary>
public static class CairnServiceCollectionExtensions
{
    /// <summary>
    /// Adds Cairn's options (bound from <paramref name="configuration"/>: sections <c>Cairn:Store</c> and <c>Cairn:Limits</c>,
    /// checked when the host starts), its stores (opened as the host starts, disposed after it stops), the MLflow error
    /// format, the readiness check, telemetry and the OpenAPI document. Unset store locations fall back to
    /// <c>CAIRN_HOME</c> (default <c>.cairn</c>) and its <c>artifacts</c> folder.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configuration">The host's configuration (appsettings.json, environment, command line).</param>
    /// <param name="s3">How to reach S3 when the artifacts destination is <c>s3://</c>; null for AWS and the SDK's credential chain.</param>
    public static IServiceCollection AddCairnServer(this IServiceCollection services, IConfiguration configuration, S3ConnectionOptions? s3 = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ServerStoreOptions>, CairnOptionsValidation>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CairnLimitsOptions>, CairnOptionsValidation>());
        services.AddOptions<ServerStoreOptions>()
            .Bind(configuration.GetSection(ServerStoreOptions.Section))
            .PostConfigure(o =>
            {
                var home = Path.GetFullPath(configuration["CAIRN_HOME"] is { Length: > 0 } h ? h : ".cairn");
                if (string.IsNullOrEmpty(o.BackendStoreUri)) o.BackendStoreUri = home;
                if (string.IsNullOrEmpty(o.ArtifactsDestination)) o.ArtifactsDestination = Path.Combine(home, "artifacts");
            })
            .ValidateOnStart();
        services.AddOptions<CairnLimitsOptions>().Bind(configuration.GetSection(CairnLimitsOptions.Section)).ValidateOnStart();

        if (s3 is not null) services.AddSingleton(s3);
        services.AddSingleton<ServerStores>();
        services.AddHostedService(sp => sp.GetRequiredService<ServerStores>());
        services.AddSingleton<ITrackingStore>(sp => sp.GetRequiredService<ServerStores>().Tracking);
        services.AddSingleton<IRegistryStore>(sp => sp.GetRequiredService<ServerStores>().Registry);
        services.AddSingleton<IArtifactStore>(sp => sp.GetRequiredService<ServerStores>().Artifacts);
        services.AddSingleton(sp => sp.GetRequiredService<ServerStores>().Resolver);
        services.AddCairnAuth(configuration);
        services.AddCairnPermissions();
        services.AddCairnPredictionLog(configuration);
        services.AddCairnAlerts();
        services.AddCairnDeploymentScoring(configuration);
        services.AddCairnMonitoring(configuration);

        services.AddCairnRequestGuards(configuration);
        services.AddExceptionHandler<MlflowExceptionHandler>();
        services.AddProblemDetails();
        services.AddHealthChecks().AddCheck<StoreHealthCheck>("store", tags: [HealthEndpoints.ReadyTag], timeout: TimeSpan.FromSeconds(5));
        services.AddCairnTelemetry(configuration);
        services.AddCairnOpenApi();
        return services;
    }
}
