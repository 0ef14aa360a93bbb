namespace Cairn.Serving;

/// <summary>
/// Where the prediction log's writer puts scored rows and how old rows go: over the tracking database
/// (<see cref="Storage.SqlPredictionStore"/>). Reads and feedback are on the store itself.
/// </summary>
internal interface IPredictionStore
{
    /// <summary>Writes the batches in one transaction, grouped into columnar blocks.</summary>
    Task AppendAsync(IReadOnlyList<PredictionBatch> batches, CancellationToken cancellationToken = default);

    /// <summary>Deletes rows older than <paramref name="olderThan"/> and the oldest beyond <paramref name="maxRows"/>; returns the rows deleted.</summary>
    Task<long> PruneAsync(DateTimeOffset? olderThan, long? maxRows, CancellationToken cancellationToken = default);
}
