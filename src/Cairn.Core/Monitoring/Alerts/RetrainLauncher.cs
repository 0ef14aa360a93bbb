using System.Collections.Concurrent;
using Cairn.Data;
using Cairn.Pipelines;
using Cairn.Storage;
using Microsoft.Extensions.Logging;

namespace Cairn.Monitoring.Alerts;

/// <summary>
/// The retrain action: runs a pipeline stage (and what it depends on) from the <c>cairn.yaml</c> in the action's folder with
/// <see cref="PipelineRunner"/>, as <c>cairn repro STAGE</c> does, recording the stage runs in the folder's
/// <c>.cairn/runs/runs.jsonl</c>. The stage's command trains and registers the new model version; promotion is left to the
/// registry's gate rules. One retrain at a time per rule: an incident that opens while its rule's retrain runs records
/// "skipped". The incident records the status (running, succeeded, failed, skipped, cancelled), the pipeline run id and a message.
/// </summary>
/// <remarks>
/// The server does not reference the training assembly (it serves with the model runtime only), so a <c>cairn train</c>
/// recipe runs as a pipeline stage whose command is <c>cairn train --recipe ... --register NAME</c>.
/// </remarks>
internal sealed class RetrainLauncher(SqlAlertStore store, ILogger logger) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Task> _running = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>The retrain of <paramref name="rule"/> running now, if any (tests wait on it).</summary>
    public Task? Running(string rule) => _running.TryGetValue(rule, out var task) ? task : null;

    /// <summary>Starts the retrain in the background, unless one of the same rule is running.</summary>
    public void Start(AlertRule rule, RetrainAlertAction action, AlertIncident incident)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_running.TryAdd(rule.Name, gate.Task))
        {
            AlertLog.RetrainSkipped(logger, rule.Name, incident.Id);
            _ = RecordAsync(incident.Id, "skipped", null, "a retrain of this rule was still running");
            return;
        }
        _ = Task.Run(async () =>
        {
            try
            {
                await RunAsync(rule, action, incident, _stopping.Token).ConfigureAwait(false);
            }
            finally
            {
                _running.TryRemove(rule.Name, out _);
                gate.TrySetResult();
            }
        });
    }

    private async Task RunAsync(AlertRule rule, RetrainAlertAction action, AlertIncident incident, CancellationToken cancellationToken)
    {
        AlertLog.RetrainStarted(logger, rule.Name, incident.Id, action.Stage, action.Folder);
        await RecordAsync(incident.Id, "running", null, $"stage {action.Stage} in {action.Folder}").ConfigureAwait(false);
        string status, message;
        string? runId = null;
        try
        {
            var repo = DataRepository.Open(action.Folder);
            if (!string.Equals(Path.GetFullPath(repo.Root).TrimEnd(Path.DirectorySeparatorChar), action.Folder.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
                throw new InvalidParameterValueException($"retrain folder '{action.Folder}' lies inside the repository at '{repo.Root}'; name that folder instead.");
            var pipeline = Pipeline.Load(repo.Root);
            var result = await new PipelineRunner(repo, pipeline).ReproAsync(new ReproOptions
            {
                Target = action.Stage,
                Force = action.Force,
                Recorder = new JsonLinesRunRecorder(Path.Combine(repo.CairnDir, "runs", "runs.jsonl")),
            }, cancellationToken).ConfigureAwait(false);
            runId = result.RunId;
            if (!result.Succeeded && cancellationToken.IsCancellationRequested) throw new OperationCanceledException(cancellationToken);
            var bad = result.Stages.FirstOrDefault(s => s.Kind is StageOutcomeKind.Failed or StageOutcomeKind.Skipped or StageOutcomeKind.Cancelled);
            (status, message) = result.Succeeded
                ? ("succeeded", string.Join(", ", result.Stages.Select(s => $"{s.Stage}: {s.Kind.ToString().ToLowerInvariant()}")))
                : ("failed", $"stage {bad?.Stage} {bad?.Kind.ToString().ToLowerInvariant()}{(bad?.ExitCode is { } code ? $" (exit code {code})" : "")}{(bad?.Error is { } e ? ": " + e : "")}");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            (status, message) = ("cancelled", "the server stopped");
        }
        catch (CairnException e)
        {
            (status, message) = ("failed", e.Message);
        }
        catch (IOException e)
        {
            (status, message) = ("failed", e.Message);
        }
        catch (UnauthorizedAccessException e)
        {
            (status, message) = ("failed", e.Message);
        }
        if (status == "succeeded") AlertLog.RetrainDone(logger, rule.Name, incident.Id, status, runId);
        else AlertLog.RetrainFailed(logger, rule.Name, incident.Id, message);
        await RecordAsync(incident.Id, status, runId, message).ConfigureAwait(false);
    }

    private async Task RecordAsync(long incidentId, string status, string? runId, string? message)
    {
        try
        {
            await store.SetRetrainAsync(incidentId, status, runId, message, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            AlertLog.RecordFailed(logger, e, incidentId);
        }
    }

    /// <summary>Cancels running retrains (their stage processes are killed, as Ctrl-C does to cairn repro) and waits for them.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_running.Values).ConfigureAwait(false);
        _stopping.Dispose();
    }
}
