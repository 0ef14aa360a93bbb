namespace Cairn.Tracking;

/// <summary>Single writes, sent down the batch path as MLflow's stores do.</summary>
public static class TrackingStoreExtensions
{
    /// <summary>
    /// Logs one metric point. Without <paramref name="timestamp"/> the point is stamped with the system clock now; code with a
    /// clock of its own (a <see cref="TimeProvider"/>) passes the timestamp.
    /// </summary>
    public static Task LogMetricAsync(this ITrackingStore store, string runId, string key, double value, long? timestamp = null, long step = 0, CancellationToken cancellationToken = default) =>
        store.LogBatchAsync(runId, metrics: [new Metric(key, value, timestamp ?? TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds(), step)], cancellationToken: cancellationToken);

    public static Task LogParamAsync(this ITrackingStore store, string runId, string key, string value, CancellationToken cancellationToken = default) =>
        store.LogBatchAsync(runId, parameters: [new Param(key, value)], cancellationToken: cancellationToken);

    public static Task SetTagAsync(this ITrackingStore store, string runId, string key, string value, CancellationToken cancellationToken = default) =>
        store.LogBatchAsync(runId, tags: [new RunTag(key, value)], cancellationToken: cancellationToken);

    public static async Task<Experiment> GetExperimentByNameAsync(this ITrackingStore store, string name, CancellationToken cancellationToken = default) =>
        await store.FindExperimentByNameAsync(name, cancellationToken).ConfigureAwait(false)
        ?? throw new ResourceDoesNotExistException($"Could not find experiment with name '{name}'");

    /// <summary>Returns the id of the experiment with this name, creating it when missing.</summary>
    public static async Task<string> GetOrCreateExperimentAsync(this ITrackingStore store, string name, CancellationToken cancellationToken = default)
    {
        var existing = await store.FindExperimentByNameAsync(name, cancellationToken).ConfigureAwait(false);
        if (existing is not null) return existing.ExperimentId;
        try
        {
            return await store.CreateExperimentAsync(name, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (ResourceAlreadyExistsException)
        {
            // Another writer created it between our read and our insert.
            return (await store.GetExperimentByNameAsync(name, cancellationToken).ConfigureAwait(false)).ExperimentId;
        }
    }
}
