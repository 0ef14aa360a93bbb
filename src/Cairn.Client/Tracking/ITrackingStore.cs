namespace Cairn.Tracking;

/// <summary>
/// The tracking contract, with MLflow 2.x semantics. Implemented over SQLite, PostgreSQL and HTTP,
/// so the same calls behave the same in-process and against a server.
/// Get* methods throw <see cref="ResourceDoesNotExistException"/>; Find* methods return null.
/// </summary>
public interface ITrackingStore : IDisposable
{
    Task<string> CreateExperimentAsync(string name, string? artifactLocation = null, IReadOnlyList<ExperimentTag>? tags = null, CancellationToken cancellationToken = default);
    Task<Experiment> GetExperimentAsync(string experimentId, CancellationToken cancellationToken = default);
    Task<Experiment?> FindExperimentByNameAsync(string name, CancellationToken cancellationToken = default);
    Task<Page<Experiment>> SearchExperimentsAsync(ExperimentSearch search, CancellationToken cancellationToken = default);
    Task RenameExperimentAsync(string experimentId, string newName, CancellationToken cancellationToken = default);
    Task DeleteExperimentAsync(string experimentId, CancellationToken cancellationToken = default);
    Task RestoreExperimentAsync(string experimentId, CancellationToken cancellationToken = default);
    Task SetExperimentTagAsync(string experimentId, string key, string value, CancellationToken cancellationToken = default);
    Task DeleteExperimentTagAsync(string experimentId, string key, CancellationToken cancellationToken = default);

    Task<Run> CreateRunAsync(CreateRunRequest request, CancellationToken cancellationToken = default);
    Task<Run> GetRunAsync(string runId, CancellationToken cancellationToken = default);
    Task<RunInfo> UpdateRunAsync(string runId, RunStatus? status = null, long? endTime = null, string? runName = null, CancellationToken cancellationToken = default);
    Task DeleteRunAsync(string runId, CancellationToken cancellationToken = default);
    Task RestoreRunAsync(string runId, CancellationToken cancellationToken = default);
    Task<Page<Run>> SearchRunsAsync(RunSearch search, CancellationToken cancellationToken = default);

    /// <summary>Logs metrics, params and tags in one transaction; single writes go through here too.</summary>
    Task LogBatchAsync(string runId, IReadOnlyList<Metric>? metrics = null, IReadOnlyList<Param>? parameters = null, IReadOnlyList<RunTag>? tags = null, CancellationToken cancellationToken = default);
    Task DeleteTagAsync(string runId, string key, CancellationToken cancellationToken = default);
    Task LogInputsAsync(string runId, IReadOnlyList<DatasetInput> inputs, CancellationToken cancellationToken = default);
    /// <summary>
    /// Appends a logged model (its MLmodel as a JSON object) to the run's <c>mlflow.log-model.history</c> tag, read and
    /// written in one transaction so concurrent calls lose no entry (MLflow's <c>record_logged_model</c>, <c>runs/log-model</c>).
    /// </summary>
    Task RecordLoggedModelAsync(string runId, string modelJson, CancellationToken cancellationToken = default);
    Task<Page<Metric>> GetMetricHistoryAsync(string runId, string key, int? maxResults = null, string? pageToken = null, CancellationToken cancellationToken = default);

    /// <summary>Runs and experiments soft-deleted before <paramref name="deletedBefore"/> (ms since epoch).</summary>
    Task<(IReadOnlyList<DeletedEntity> Runs, IReadOnlyList<DeletedEntity> Experiments)> FindDeletedAsync(long deletedBefore, CancellationToken cancellationToken = default);
    /// <summary>Removes a deleted run's rows for good. Refuses a run that is not deleted.</summary>
    Task PurgeRunAsync(string runId, CancellationToken cancellationToken = default);
    /// <summary>Removes a deleted experiment and all its runs for good. Refuses an experiment that is not deleted.</summary>
    Task PurgeExperimentAsync(string experimentId, CancellationToken cancellationToken = default);
}
