namespace Cairn.Tracking;

/// <summary>Whether an entity is live or soft-deleted (MLflow's lifecycle_stage).</summary>
public enum LifecycleStage { Active, Deleted }

/// <summary>A run's status, named as on MLflow's wire.</summary>
public enum RunStatus { RUNNING, SCHEDULED, FINISHED, FAILED, KILLED }

/// <summary>Which lifecycle stages a search returns.</summary>
public enum ViewType { ACTIVE_ONLY, DELETED_ONLY, ALL }

public sealed record ExperimentTag(string Key, string Value);

public sealed record Experiment(
    string ExperimentId,
    string Name,
    string ArtifactLocation,
    LifecycleStage LifecycleStage,
    long? CreationTime,
    long? LastUpdateTime,
    IReadOnlyList<ExperimentTag> Tags);

public sealed record RunInfo(
    string RunId,
    string ExperimentId,
    string RunName,
    string? UserId,
    RunStatus Status,
    long StartTime,
    long? EndTime,
    string ArtifactUri,
    LifecycleStage LifecycleStage);

/// <summary>One metric point. Value may be NaN or ±Infinity.</summary>
public sealed record Metric(string Key, double Value, long Timestamp, long Step);

public sealed record Param(string Key, string Value);

public sealed record RunTag(string Key, string Value);

public sealed record RunData(IReadOnlyList<Metric> Metrics, IReadOnlyList<Param> Params, IReadOnlyList<RunTag> Tags)
{
    public static readonly RunData Empty = new([], [], []);
}

/// <summary>A dataset as MLflow describes it: name and digest identify it, source says where it lives.</summary>
public sealed record Dataset(string Name, string Digest, string SourceType, string Source, string? Schema = null, string? Profile = null);

public sealed record InputTag(string Key, string Value);

public sealed record DatasetInput(Dataset Dataset, IReadOnlyList<InputTag> Tags);

public sealed record Run(RunInfo Info, RunData Data, IReadOnlyList<DatasetInput> Inputs);

/// <summary>One page of a search; <see cref="NextPageToken"/> is null on the last page.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? NextPageToken);

/// <summary>Arguments of runs/create.</summary>
public sealed record CreateRunRequest(
    string ExperimentId,
    string? RunName = null,
    long? StartTime = null,
    string? UserId = null,
    IReadOnlyList<RunTag>? Tags = null);

/// <summary>Arguments of runs/search.</summary>
public sealed record RunSearch(
    IReadOnlyList<string> ExperimentIds,
    string? Filter = null,
    ViewType ViewType = ViewType.ACTIVE_ONLY,
    int MaxResults = TrackingLimits.SearchMaxResultsDefault,
    IReadOnlyList<string>? OrderBy = null,
    string? PageToken = null);

/// <summary>Arguments of experiments/search.</summary>
public sealed record ExperimentSearch(
    string? Filter = null,
    ViewType ViewType = ViewType.ACTIVE_ONLY,
    int MaxResults = TrackingLimits.SearchMaxResultsDefault,
    IReadOnlyList<string>? OrderBy = null,
    string? PageToken = null);

/// <summary>A run or experiment deleted long enough ago to be purged by <c>cairn gc</c>.</summary>
public sealed record DeletedEntity(string Id, string ArtifactLocation, long? DeletedTime);
