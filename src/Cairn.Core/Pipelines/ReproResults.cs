namespace Cairn.Pipelines;

/// <summary>Whether a stage must run.</summary>
public enum StageState
{
    /// <summary>Deps, params, cmd and outs match the lock file.</summary>
    UpToDate,
    /// <summary>Inputs match but some outs are missing or modified; the cache can restore them.</summary>
    Restorable,
    /// <summary>The stage must run.</summary>
    Stale,
}

/// <summary>A stage's state and the reasons for it.</summary>
/// <param name="Stage">Stage name.</param>
/// <param name="State">Up to date, restorable or stale.</param>
/// <param name="Reasons">What changed, e.g. "dep 'data/raw' changed", "param 'train.lr' changed: 0.1 -> 0.2".</param>
public sealed record StageStatus(string Stage, StageState State, IReadOnlyList<string> Reasons);

/// <summary>What happened to a stage during repro.</summary>
public enum StageOutcomeKind
{
    /// <summary>Nothing to do.</summary>
    Unchanged,
    /// <summary>Outs restored from the cache without running.</summary>
    Restored,
    /// <summary>Ran and succeeded; the lock file was updated.</summary>
    Ran,
    /// <summary>Ran and failed; its lock entry was left as it was.</summary>
    Failed,
    /// <summary>Not run because a stage it depends on failed or was cancelled.</summary>
    Skipped,
    /// <summary>Stopped by Ctrl-C; partial outs were removed.</summary>
    Cancelled,
}

/// <summary>A stage's result.</summary>
/// <param name="Stage">Stage name.</param>
/// <param name="Kind">What happened.</param>
/// <param name="Reasons">Why it ran (or restored).</param>
/// <param name="ExitCode">Command exit code when it ran.</param>
/// <param name="Duration">Wall time.</param>
/// <param name="LogFile">Captured output.</param>
/// <param name="Error">Failure message.</param>
public sealed record StageOutcome(string Stage, StageOutcomeKind Kind, IReadOnlyList<string> Reasons, int? ExitCode, TimeSpan Duration,
    string? LogFile, string? Error);

/// <summary>The result of a repro.</summary>
/// <param name="RunId">The pipeline run id (log folder under <c>.cairn/runs/</c>).</param>
/// <param name="Stages">Per-stage results in topological order.</param>
public sealed record ReproResult(string RunId, IReadOnlyList<StageOutcome> Stages)
{
    /// <summary>True when no stage failed, was skipped or cancelled.</summary>
    public bool Succeeded => Stages.All(s => s.Kind is StageOutcomeKind.Unchanged or StageOutcomeKind.Restored or StageOutcomeKind.Ran);
}

/// <summary>Options of <see cref="PipelineRunner.ReproAsync"/>.</summary>
public sealed class ReproOptions
{
    /// <summary>Run this stage (or foreach group) and what it depends on; null for all.</summary>
    public string? Target { get; init; }
    /// <summary>Stages run in parallel at most.</summary>
    public int Jobs { get; init; } = 1;
    /// <summary>Run the selected stages even when up to date.</summary>
    public bool Force { get; init; }
    /// <summary>Where stage runs are recorded.</summary>
    public IPipelineRunRecorder Recorder { get; init; } = NullRunRecorder.Instance;
    /// <summary>Receives progress lines and stage output (from several threads).</summary>
    public Action<string>? Output { get; init; }
    /// <summary>Experiment name, recorded with the pipeline run.</summary>
    public string? Experiment { get; init; }
}
