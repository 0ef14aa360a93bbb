using System.Globalization;
using Cairn.Data;

namespace Cairn.Pipelines;

/// <summary>
/// Runs a pipeline: only stale stages, in topological order, independent stages in parallel up to
/// <see cref="ReproOptions.Jobs"/>. Unchanged outputs come back from the cache instead of re-running.
/// A failing stage stops its dependents while independent ones go on; the lock file is updated after each
/// successful stage only, so the next repro resumes at the failed stage. One repro per repository at a time.
/// </summary>
/// <remarks>Times (run ids, durations, start times) come from the repository's <see cref="DataRepositoryOptions.TimeProvider"/>.</remarks>
public sealed class PipelineRunner(DataRepository repo, Pipeline pipeline)
{
    private readonly StageChecker _checker = new(repo);
    private readonly StageExecutor _executor = new(repo, repo.Time);

    /// <summary>The lock file path.</summary>
    public string LockPath => Path.Combine(repo.Root, LockFile.FileName);

    /// <summary>Which stages are stale and why; a stale stage makes its dependents stale too.</summary>
    public async Task<IReadOnlyList<StageStatus>> StatusAsync(string? target = null, CancellationToken cancellationToken = default)
    {
        var lockFile = LockFile.Load(LockPath);
        var result = new List<StageStatus>();
        var stale = new HashSet<string>(StringComparer.Ordinal);
        foreach (var stage in pipeline.Select(target))
        {
            var upstreamStale = pipeline.Upstream[stage.Name].Where(stale.Contains).ToList();
            var s = await _checker.CheckAsync(stage, lockFile, cancellationToken).ConfigureAwait(false);
            var reasons = s.Status.Reasons.Concat(upstreamStale.Select(u => $"upstream stage '{u}' is stale")).ToList();
            var state = upstreamStale.Count > 0 ? StageState.Stale : s.Status.State;
            if (state == StageState.Stale) stale.Add(stage.Name);
            result.Add(new StageStatus(stage.Name, state, reasons));
        }
        repo.Flush();
        if (target is null && result.All(r => r.State == StageState.UpToDate)) UpToDateStamp.Write(repo, pipeline);
        return result;
    }

    /// <summary>Runs the stale stages. Throws <see cref="CairnException"/> with TEMPORARILY_UNAVAILABLE when another repro holds the lock.</summary>
    public async Task<ReproResult> ReproAsync(ReproOptions options, CancellationToken cancellationToken = default)
    {
        using var guard = ReproLock.Acquire(repo);
        // Shared for the whole run: gc must not delete an out stored by a stage before cairn.lock names it.
        using var cacheLock = await repo.LockCacheAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        UpToDateStamp.Invalidate(repo);
        var time = repo.Time;
        long started = time.GetTimestamp();
        string runId = time.GetUtcNow().ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..6];
        var lockFile = LockFile.Load(LockPath);
        var lockGate = new Lock();
        var selected = pipeline.Select(options.Target);
        var selectedNames = selected.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var slots = new SemaphoreSlim(Math.Max(1, options.Jobs));
        var tasks = new Dictionary<string, Task<StageOutcome>>(StringComparer.Ordinal);
        string? parentRun = null;
        var parentGate = new SemaphoreSlim(1, 1);

        async Task<string> ParentRunAsync()
        {
            await parentGate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            try
            {
                return parentRun ??= await options.Recorder.StartPipelineRunAsync(
                    new PipelineRunStart(runId, repo.Root, options.Target, options.Experiment, GitInfo.Head(repo.Root), time.GetUtcNow()),
                    CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                parentGate.Release();
            }
        }

        async Task<StageOutcome> RunOne(StageDefinition stage, Task<StageOutcome>[] ups)
        {
            var upResults = await Task.WhenAll(ups).ConfigureAwait(false);
            var bad = upResults.FirstOrDefault(u => u.Kind is StageOutcomeKind.Failed or StageOutcomeKind.Skipped or StageOutcomeKind.Cancelled);
            if (bad is not null)
            {
                options.Output?.Invoke($"Stage '{stage.Name}' skipped: upstream stage '{bad.Stage}' {bad.Kind.ToString().ToLowerInvariant()}");
                return new StageOutcome(stage.Name, StageOutcomeKind.Skipped, [$"upstream stage '{bad.Stage}' {bad.Kind.ToString().ToLowerInvariant()}"], null, TimeSpan.Zero, null, null);
            }
            if (cancellationToken.IsCancellationRequested)
                return new StageOutcome(stage.Name, StageOutcomeKind.Cancelled, [], null, TimeSpan.Zero, null, "cancelled before it started");

            await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                LockFile snapshot;
                lock (lockGate) snapshot = lockFile;
                var (status, inputs) = await _checker.CheckAsync(stage, snapshot, cancellationToken).ConfigureAwait(false);
                if (status.State == StageState.UpToDate && !options.Force)
                    return new StageOutcome(stage.Name, StageOutcomeKind.Unchanged, [], null, TimeSpan.Zero, null, null);
                if (status.State == StageState.Restorable && !options.Force)
                {
                    long restoreStarted = time.GetTimestamp();
                    foreach (var o in snapshot.Stages[stage.Name].Outs)
                    {
                        var now = await repo.DescribeAsync(o.Path, cancellationToken).ConfigureAwait(false);
                        if (now?.Digest != o.Digest) await repo.RestoreAsync(o.Path, o.Kind, o.Digest, cancellationToken).ConfigureAwait(false);
                    }
                    options.Output?.Invoke($"Stage '{stage.Name}' restored from the cache ({string.Join("; ", status.Reasons)})");
                    return new StageOutcome(stage.Name, StageOutcomeKind.Restored, status.Reasons, null, time.GetElapsedTime(restoreStarted), null, null);
                }
                var missingDep = status.Reasons.FirstOrDefault(r => r.EndsWith("is missing", StringComparison.Ordinal));
                if (missingDep is not null)
                {
                    string msg = $"stage '{stage.Name}': {missingDep}; run 'cairn data checkout' or the stage that writes it";
                    options.Output?.Invoke("ERROR: " + msg);
                    return new StageOutcome(stage.Name, StageOutcomeKind.Failed, status.Reasons, null, TimeSpan.Zero, null, msg);
                }
                var reasons = options.Force && status.State != StageState.Stale ? ["forced"] : status.Reasons;
                var (outcome, entry) = await _executor.ExecuteAsync(stage, inputs, reasons, runId, ParentRunAsync, options, cancellationToken).ConfigureAwait(false);
                if (entry is not null)
                {
                    lock (lockGate)
                    {
                        lockFile.Stages[stage.Name] = entry;
                        foreach (var gone in lockFile.Stages.Keys.Where(k => !pipeline.Stages.Any(s => s.Name == k)).ToList()) lockFile.Stages.Remove(gone);
                        lockFile.Save(LockPath, pipeline.Stages.Select(s => s.Name));
                    }
                }
                return outcome;
            }
            finally
            {
                slots.Release();
            }
        }

        foreach (var stage in selected)
        {
            var ups = pipeline.Upstream[stage.Name].Where(selectedNames.Contains).Select(u => tasks[u]).ToArray();
            tasks[stage.Name] = Task.Run(() => RunOne(stage, ups), CancellationToken.None);
        }
        StageOutcome[] outcomes;
        try
        {
            outcomes = await Task.WhenAll(tasks.Values).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Wait for every stage to wind down (kill, clean-up) before reporting the cancellation.
            await Task.WhenAll(tasks.Values.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default))).ConfigureAwait(false);
            if (parentRun is not null) await options.Recorder.FinishPipelineRunAsync(parentRun, "KILLED", time.GetElapsedTime(started), CancellationToken.None).ConfigureAwait(false);
            repo.Flush();
            throw;
        }
        repo.Flush();
        var result = new ReproResult(runId, outcomes);
        if (options.Target is null && result.Succeeded) UpToDateStamp.Write(repo, pipeline);
        if (parentRun is not null)
            await options.Recorder.FinishPipelineRunAsync(parentRun, result.Succeeded ? "FINISHED" : "FAILED", time.GetElapsedTime(started), CancellationToken.None).ConfigureAwait(false);
        return result;
    }
}
