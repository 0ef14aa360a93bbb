using Cairn.Server.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Cairn.Server.Health;

/// <summary>Readiness of the prediction log: its writer loop is alive and its last write went through.</summary>
internal sealed class PredictionLogHealthCheck(ServerPredictionLog log) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(log.Problem is { } problem ? HealthCheckResult.Unhealthy(problem) : HealthCheckResult.Healthy());
}
