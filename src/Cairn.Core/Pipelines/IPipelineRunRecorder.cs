using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cairn.Pipelines;

/// <summary>A pipeline run about to start (the parent run in tracking).</summary>
/// <param name="RunId">Id chosen by the runner (also the log folder name under <c>.cairn/runs/</c>).</param>
/// <param name="Root">Repository root.</param>
/// <param name="Target">The stage asked for, or null for the whole pipeline.</param>
/// <param name="Experiment">Experiment name when run by <c>cairn exp run</c>.</param>
/// <param name="GitCommit">HEAD commit when the repository is a git work tree.</param>
/// <param name="StartedUtc">Start time.</param>
public sealed record PipelineRunStart(string RunId, string Root, string? Target, string? Experiment, string? GitCommit, DateTimeOffset StartedUtc);

/// <summary>A stage run about to start (a child run in tracking).</summary>
/// <param name="Stage">Stage name.</param>
/// <param name="Cmd">Command.</param>
/// <param name="Params">The params it reads (dotted key → value).</param>
/// <param name="Reasons">Why it runs.</param>
/// <param name="StartedUtc">Start time.</param>
/// <param name="Deps">Its deps (repository-relative paths), to log the registered datasets among them as inputs.</param>
public sealed record StageRunStart(string Stage, string Cmd, IReadOnlyDictionary<string, string> Params, IReadOnlyList<string> Reasons, DateTimeOffset StartedUtc,
    IReadOnlyList<string>? Deps = null);

/// <summary>How a stage run ended.</summary>
/// <param name="Stage">Stage name.</param>
/// <param name="Status">FINISHED, FAILED or KILLED (MLflow run statuses).</param>
/// <param name="ExitCode">Process exit code; null when it never ran.</param>
/// <param name="Duration">Wall time.</param>
/// <param name="Metrics">Numeric values read from its metrics files (flattened keys).</param>
/// <param name="OutDigests">Path → SHA-256 of its outs, metrics and plots.</param>
/// <param name="LogFile">Captured stdout and stderr (to log as an artifact).</param>
/// <param name="Error">Failure message, if any.</param>
public sealed record StageRunResult(string Stage, string Status, int? ExitCode, TimeSpan Duration, IReadOnlyDictionary<string, double> Metrics,
    IReadOnlyDictionary<string, string> OutDigests, string? LogFile, string? Error);

/// <summary>
/// Records pipeline runs into experiment tracking: one parent run per <c>cairn repro</c>, one child run
/// per stage that ran. The tracking store implements it; <see cref="JsonLinesRunRecorder"/> is the default.
/// </summary>
public interface IPipelineRunRecorder
{
    /// <summary>Starts the parent run; returns the tracking run id.</summary>
    Task<string> StartPipelineRunAsync(PipelineRunStart run, CancellationToken cancellationToken = default);

    /// <summary>Starts a stage's child run under <paramref name="pipelineRunId"/>; returns its run id.</summary>
    Task<string> StartStageRunAsync(string pipelineRunId, StageRunStart stage, CancellationToken cancellationToken = default);

    /// <summary>Ends a stage's child run.</summary>
    Task FinishStageRunAsync(string stageRunId, StageRunResult result, CancellationToken cancellationToken = default);

    /// <summary>Ends the parent run with FINISHED, FAILED or KILLED.</summary>
    Task FinishPipelineRunAsync(string pipelineRunId, string status, TimeSpan duration, CancellationToken cancellationToken = default);
}

/// <summary>Records nothing.</summary>
public sealed class NullRunRecorder : IPipelineRunRecorder
{
    /// <summary>The shared instance.</summary>
    public static readonly NullRunRecorder Instance = new();

    /// <inheritdoc/>
    public Task<string> StartPipelineRunAsync(PipelineRunStart run, CancellationToken cancellationToken = default) => Task.FromResult(run.RunId);
    /// <inheritdoc/>
    public Task<string> StartStageRunAsync(string pipelineRunId, StageRunStart stage, CancellationToken cancellationToken = default)
        => Task.FromResult(pipelineRunId + "/" + stage.Stage);
    /// <inheritdoc/>
    public Task FinishStageRunAsync(string stageRunId, StageRunResult result, CancellationToken cancellationToken = default) => Task.CompletedTask;
    /// <inheritdoc/>
    public Task FinishPipelineRunAsync(string pipelineRunId, string status, TimeSpan duration, CancellationToken cancellationToken = default) => Task.CompletedTask;
}

/// <summary>
/// Appends run events as JSON lines to <c>.cairn/runs/runs.jsonl</c> until the tracking store records them.
/// Each line has an <c>event</c> field: pipeline_start, stage_start, stage_end, pipeline_end.
/// </summary>
public sealed class JsonLinesRunRecorder(string file) : IPipelineRunRecorder
{
    private static readonly JsonSerializerOptions s_json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>The file events are appended to.</summary>
    public string File { get; } = file;

    /// <inheritdoc/>
    public async Task<string> StartPipelineRunAsync(PipelineRunStart run, CancellationToken cancellationToken = default)
    {
        await AppendAsync(new { @event = "pipeline_start", run_id = run.RunId, run.Root, run.Target, run.Experiment, run.GitCommit, run.StartedUtc }, cancellationToken).ConfigureAwait(false);
        return run.RunId;
    }

    /// <inheritdoc/>
    public async Task<string> StartStageRunAsync(string pipelineRunId, StageRunStart stage, CancellationToken cancellationToken = default)
    {
        string id = pipelineRunId + "/" + stage.Stage;
        await AppendAsync(new { @event = "stage_start", run_id = id, parent_run_id = pipelineRunId, stage.Stage, stage.Cmd, stage.Params, stage.Reasons, stage.StartedUtc }, cancellationToken).ConfigureAwait(false);
        return id;
    }

    /// <inheritdoc/>
    public Task FinishStageRunAsync(string stageRunId, StageRunResult result, CancellationToken cancellationToken = default)
        => AppendAsync(new
        {
            @event = "stage_end", run_id = stageRunId, result.Stage, result.Status, result.ExitCode,
            duration_ms = (long)result.Duration.TotalMilliseconds, result.Metrics, result.OutDigests, result.LogFile, result.Error,
        }, cancellationToken);

    /// <inheritdoc/>
    public Task FinishPipelineRunAsync(string pipelineRunId, string status, TimeSpan duration, CancellationToken cancellationToken = default)
        => AppendAsync(new { @event = "pipeline_end", run_id = pipelineRunId, status, duration_ms = (long)duration.TotalMilliseconds }, cancellationToken);

    /// <summary>Reads every event back (for tests and <c>cairn exp show</c>).</summary>
    public IReadOnlyList<JsonElement> ReadAll()
        => !System.IO.File.Exists(File) ? []
           : System.IO.File.ReadAllLines(File).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    private async Task AppendAsync(object evt, CancellationToken ct)
    {
        string line = JsonSerializer.Serialize(evt, s_json) + "\n";
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(File)!);
            await System.IO.File.AppendAllTextAsync(File, line, ct).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }
}
