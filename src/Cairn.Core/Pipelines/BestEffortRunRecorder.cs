using System.Collections.Concurrent;

namespace Cairn.Pipelines;

/// <summary>
/// Records into <paramref name="primary"/> (the JSON-lines file) and, best effort, into <paramref name="secondary"/> (tracking):
/// the first failure of the secondary is reported once through <paramref name="warn"/> and it is not called again, so an
/// unreachable tracking server never fails a pipeline. Run ids returned are the primary's.
/// </summary>
public sealed class BestEffortRunRecorder(IPipelineRunRecorder primary, IPipelineRunRecorder secondary, Action<string> warn)
    : IPipelineRunRecorder, IDisposable
{
    private readonly ConcurrentDictionary<string, string> _ids = new(StringComparer.Ordinal);
    private int _failed;

    /// <inheritdoc/>
    public async Task<string> StartPipelineRunAsync(PipelineRunStart run, CancellationToken cancellationToken = default)
    {
        string id = await primary.StartPipelineRunAsync(run, cancellationToken).ConfigureAwait(false);
        await TryAsync(async () => _ids[id] = await secondary.StartPipelineRunAsync(run, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        return id;
    }

    /// <inheritdoc/>
    public async Task<string> StartStageRunAsync(string pipelineRunId, StageRunStart stage, CancellationToken cancellationToken = default)
    {
        string id = await primary.StartStageRunAsync(pipelineRunId, stage, cancellationToken).ConfigureAwait(false);
        if (_ids.TryGetValue(pipelineRunId, out var parent))
            await TryAsync(async () => _ids[id] = await secondary.StartStageRunAsync(parent, stage, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        return id;
    }

    /// <inheritdoc/>
    public async Task FinishStageRunAsync(string stageRunId, StageRunResult result, CancellationToken cancellationToken = default)
    {
        await primary.FinishStageRunAsync(stageRunId, result, cancellationToken).ConfigureAwait(false);
        if (_ids.TryRemove(stageRunId, out var id))
            await TryAsync(() => secondary.FinishStageRunAsync(id, result, cancellationToken)).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task FinishPipelineRunAsync(string pipelineRunId, string status, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        await primary.FinishPipelineRunAsync(pipelineRunId, status, duration, cancellationToken).ConfigureAwait(false);
        if (_ids.TryRemove(pipelineRunId, out var id))
            await TryAsync(() => secondary.FinishPipelineRunAsync(id, status, duration, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Disposes both recorders when they are disposable.</summary>
    public void Dispose()
    {
        (primary as IDisposable)?.Dispose();
        (secondary as IDisposable)?.Dispose();
    }

    private async Task TryAsync(Func<Task> action)
    {
        if (Volatile.Read(ref _failed) != 0) return;
        try
        {
            await action().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // tracking is best effort: any failure becomes one warning
        catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
        {
            if (Interlocked.Exchange(ref _failed, 1) == 0)
                warn($"warning: pipeline run not recorded in tracking ({e.GetType().Name}: {FirstLine(e.Message)}); it is in .cairn/runs/runs.jsonl");
        }
    }

    private static string FirstLine(string s) => s.Split('\n', 2)[0].Trim();
}
