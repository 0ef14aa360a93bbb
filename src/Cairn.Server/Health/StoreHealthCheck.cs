using Cairn.Server.Hosting;
using Cairn.Storage.Sqlite;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Cairn.Server.Health;

/// <summary>
/// Readiness of the backend store: the SQLite writer's loop is alive and its database file still there (a removed file
/// takes commits into the void), and a cheap query (the Default experiment by primary key) answers.
/// </summary>
internal sealed class StoreHealthCheck(ServerStores stores) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            // The store under the instrumentation: probes every few seconds would skew the operation metrics.
            var inner = stores.Inner;
            if (inner.Database is SqliteDatabase { Writer.Problem: { } problem }) return HealthCheckResult.Unhealthy(problem);
            var store = inner.Tracking;
            try
            {
                await store.GetExperimentAsync("0", cancellationToken).ConfigureAwait(false);
            }
            catch (ResourceDoesNotExistException)
            {
                // Purged: the query still ran.
            }
            return HealthCheckResult.Healthy();
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("the backend store did not answer: " + e.Message, e);
        }
    }
}
