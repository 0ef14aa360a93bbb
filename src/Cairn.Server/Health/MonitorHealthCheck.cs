using Cairn.Server.Monitoring;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Cairn.Server.Health;

/// <summary>Readiness of the monitor: unhealthy when its loop died, degraded while a monitor's last evaluation failed.</summary>
internal sealed class MonitorHealthCheck(MonitorScheduler scheduler) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (scheduler.Problem is { } problem) return Task.FromResult(HealthCheckResult.Unhealthy(problem));
        var failures = scheduler.Failures;
        if (failures.Count > 0)
            return Task.FromResult(HealthCheckResult.Degraded(string.Join("; ", failures.Take(5).Select(f => $"monitor of {f.Key}: {f.Value}"))));
        return Task.FromResult(HealthCheckResult.Healthy());
    }
}
