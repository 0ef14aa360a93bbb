using Cairn.Server.Health;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Monitoring;

/// <summary>Registers the monitor: its options and file, the window service, the schedule, the gauges and the readiness check.</summary>
internal static class MonitoringExtensions
{
    public static IServiceCollection AddCairnMonitoring(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<MonitoringOptions>().Bind(configuration.GetSection(MonitoringOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<MonitoringOptions>, MonitoringOptionsValidation>();
        services.AddSingleton<MonitoringConfigSource>();
        services.AddSingleton<MonitorModels>();
        services.AddSingleton<MonitorGauges>();
        services.AddSingleton<MonitorService>();
        services.AddSingleton<MonitorScheduler>();
        services.AddHostedService(sp => sp.GetRequiredService<MonitorScheduler>());
        services.AddHealthChecks().AddCheck<MonitorHealthCheck>("monitor", tags: [HealthEndpoints.ReadyTag]);
        return services;
    }
}
