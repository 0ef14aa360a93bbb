using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Cairn.Client;
using Cairn.Data;
using Cairn.Tracking;

namespace Cairn.Pipelines;

/// <summary>
/// Records pipeline runs in the tracking store: the pipeline run is a parent run tagged <c>cairn.pipeline=true</c> in
/// <see cref="ExperimentName"/>; each stage is a child run (<c>mlflow.parentRunId</c>) named after the stage, with its params,
/// metrics, <c>duration_s</c>, <c>cairn.exit_code</c>, one <c>cairn.out.&lt;path&gt;</c> tag per out digest, its log as the
/// artifact <c>logs/&lt;stage&gt;.log</c>, and each dep that is a registered dataset as an input (context <c>training</c>).
/// Failures are thrown; compose it with <see cref="BestEffortRunRecorder"/> so they cannot fail a pipeline.
/// </summary>
/// <param name="open">Opens the client on first use (the recorder disposes it).</param>
/// <param name="experimentName">Experiment of the parent runs.</param>
/// <param name="datasetsFolder">Where <c>cairn data add --name</c> keeps <see cref="DatasetRecord"/>s.</param>
public sealed class TrackingRunRecorder(Func<CancellationToken, Task<CairnClient>> open, string experimentName, string? datasetsFolder)
    : IPipelineRunRecorder, IDisposable
{
    /// <summary>Tag on the parent run of a pipeline.</summary>
    public const string PipelineTag = "cairn.pipeline";
    /// <summary>Prefix of the out digest tags of a stage run.</summary>
    public const string OutTagPrefix = "cairn.out.";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ConcurrentDictionary<string, string> _stageNames = new(StringComparer.Ordinal);
    private CairnClient? _client;
    private IReadOnlyList<DatasetRecord>? _datasets;

    /// <summary>Experiment of the parent runs.</summary>
    public string ExperimentName { get; } = experimentName;

    private async Task<CairnClient> ClientAsync(CancellationToken ct)
    {
        if (_client is not null) return _client;
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return _client ??= await open(ct).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc/>
    public async Task<string> StartPipelineRunAsync(PipelineRunStart run, CancellationToken cancellationToken = default)
    {
        var client = await ClientAsync(cancellationToken).ConfigureAwait(false);
        var tags = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [PipelineTag] = "true",
            ["cairn.pipeline_run_id"] = run.RunId,
            ["cairn.root"] = run.Root,
        };
        if (run.Target is not null) tags["cairn.target"] = run.Target;
        if (run.Experiment is not null) tags["cairn.exp"] = run.Experiment;
        if (run.GitCommit is not null) tags[SystemTags.SourceGitCommit] = run.GitCommit;
        string name = run.Experiment ?? (run.Target is null ? "repro" : "repro " + run.Target);
        var active = await client.StartRunAsync(ExperimentName, name, tags, cancellationToken: cancellationToken).ConfigureAwait(false);
        _open[active.RunId] = active;
        return active.RunId;
    }

    /// <inheritdoc/>
    public async Task<string> StartStageRunAsync(string pipelineRunId, StageRunStart stage, CancellationToken cancellationToken = default)
    {
        var client = await ClientAsync(cancellationToken).ConfigureAwait(false);
        var tags = new Dictionary<string, string>(StringComparer.Ordinal) { ["cairn.stage"] = stage.Stage, ["cairn.cmd"] = Truncate(stage.Cmd, 8000) };
        var active = await client.StartRunAsync(ExperimentName, stage.Stage, tags, pipelineRunId, cancellationToken).ConfigureAwait(false);
        string id = active.RunId;
        _open[id] = active;
        _stageNames[id] = stage.Stage;
        var ps = stage.Params.Select(kv => new Param(kv.Key, Truncate(kv.Value, TrackingLimits.MaxParamValueLength))).ToList();
        foreach (var chunk in ps.Chunk(100))
            await client.Store.LogBatchAsync(id, parameters: chunk, cancellationToken: cancellationToken).ConfigureAwait(false);

        var inputs = DatasetInputs(stage.Deps ?? []);
        if (inputs.Count > 0) await client.Store.LogInputsAsync(id, inputs, cancellationToken).ConfigureAwait(false);
        return id;
    }

    /// <inheritdoc/>
    public async Task FinishStageRunAsync(string stageRunId, StageRunResult result, CancellationToken cancellationToken = default)
    {
        var client = await ClientAsync(cancellationToken).ConfigureAwait(false);
        long now = client.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var metrics = result.Metrics.Select(kv => new Metric(kv.Key, kv.Value, now, 0))
            .Append(new Metric("duration_s", result.Duration.TotalSeconds, now, 0)).ToList();
        var tags = result.OutDigests.Select(kv => new RunTag(OutTagPrefix + kv.Key, kv.Value)).ToList();
        if (result.ExitCode is int exit) tags.Add(new RunTag("cairn.exit_code", exit.ToString(CultureInfo.InvariantCulture)));
        if (result.Error is not null) tags.Add(new RunTag("cairn.error", Truncate(result.Error, 8000)));
        foreach (var chunk in metrics.Chunk(1000))
            await client.Store.LogBatchAsync(stageRunId, metrics: chunk, cancellationToken: cancellationToken).ConfigureAwait(false);
        foreach (var chunk in tags.Chunk(100))
            await client.Store.LogBatchAsync(stageRunId, tags: chunk, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (result.LogFile is not null && File.Exists(result.LogFile))
        {
            // Logged under the stage's name (foreach stages have '@' in theirs), whatever the runner called the file.
            string stage = _stageNames.GetValueOrDefault(stageRunId, result.Stage);
            string tmp = Path.Combine(Path.GetTempPath(), "cairn-log-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(tmp);
            try
            {
                string copy = Path.Combine(tmp, SafeFileName(stage) + ".log");
                File.Copy(result.LogFile, copy);
                await client.LogArtifactAsync(stageRunId, copy, "logs", cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                try { Directory.Delete(tmp, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
        await EndAsync(client, stageRunId, ParseStatus(result.Status), cancellationToken).ConfigureAwait(false);
        _stageNames.TryRemove(stageRunId, out _);
    }

    /// <inheritdoc/>
    public async Task FinishPipelineRunAsync(string pipelineRunId, string status, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        var client = await ClientAsync(cancellationToken).ConfigureAwait(false);
        await client.Store.LogMetricAsync(pipelineRunId, "duration_s", duration.TotalSeconds, cancellationToken: cancellationToken).ConfigureAwait(false);
        await EndAsync(client, pipelineRunId, ParseStatus(status), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Ends a run through its ActiveRun, so the process-exit hook lets go of it and never overwrites its status.</summary>
    private async Task EndAsync(CairnClient client, string runId, RunStatus status, CancellationToken cancellationToken)
    {
        if (_open.TryRemove(runId, out var active)) await active.EndAsync(status, cancellationToken).ConfigureAwait(false);
        else await client.Store.UpdateRunAsync(runId, status, client.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private readonly ConcurrentDictionary<string, ActiveRun> _open = new(StringComparer.Ordinal);

    /// <summary>Closes the client.</summary>
    public void Dispose()
    {
        _client?.Dispose();
        _client = null;
        _gate.Dispose();
    }

    private List<DatasetInput> DatasetInputs(IReadOnlyList<string> deps)
    {
        if (deps.Count == 0 || datasetsFolder is null) return [];
        _datasets ??= DatasetRecord.LoadAll(datasetsFolder);
        var wanted = deps.Select(d => d.Replace('\\', '/').TrimEnd('/')).ToHashSet(StringComparer.Ordinal);
        return _datasets.Where(d => wanted.Contains(d.Path.TrimEnd('/')))
            .Select(d => new DatasetInput(DatasetTracking.ToTrackingDataset(d), [new InputTag(DatasetTracking.ContextTag, "training")])).ToList();
    }

    private static RunStatus ParseStatus(string status) => Enum.TryParse<RunStatus>(status, ignoreCase: true, out var s) ? s : RunStatus.FAILED;

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];

    private static string SafeFileName(string name)
    {
        var invalid = Path.GetInvalidFileNameChars();
        return new string(name.Select(c => invalid.Contains(c) ? '_' : c).ToArray());
    }
}
