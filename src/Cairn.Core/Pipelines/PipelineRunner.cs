using System.Diagnostics;
using Cairn.Data;

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

/// <summary>
/// Runs a pipeline: only stale stages, in topological order, independent stages in parallel up to
/// <see cref="ReproOptions.Jobs"/>. Unchanged outputs come back from the cache instead of re-running.
/// A failing stage stops its dependents while independent ones go on; the lock file is updated after each
/// successful stage only, so the next repro resumes at the failed stage. One repro per repository at a time.
/// </summary>
public sealed class PipelineRunner(DataRepository repo, Pipeline pipeline)
{
    private readonly Dictionary<string, ParamsFile> _params = new(StringComparer.Ordinal);
    private readonly Lock _paramsGate = new();

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
            var s = await CheckAsync(stage, lockFile, cancellationToken).ConfigureAwait(false);
            var reasons = s.Status.Reasons.Concat(upstreamStale.Select(u => $"upstream stage '{u}' is stale")).ToList();
            var state = upstreamStale.Count > 0 ? StageState.Stale : s.Status.State;
            if (state == StageState.Stale) stale.Add(stage.Name);
            result.Add(new StageStatus(stage.Name, state, reasons));
        }
        repo.Flush();
        if (target is null && result.All(r => r.State == StageState.UpToDate)) UpToDateStamp.Write(repo, pipeline);
        return result;
    }

    private sealed record Inputs(List<LockedPath> Deps, Dictionary<string, IReadOnlyDictionary<string, string>> Params);

    private async Task<(StageStatus Status, Inputs Inputs)> CheckAsync(StageDefinition stage, LockFile lockFile, CancellationToken ct)
    {
        var deps = new List<LockedPath>();
        var missing = new List<string>();
        foreach (var dep in stage.Deps)
        {
            var d = await repo.DescribeAsync(dep, ct).ConfigureAwait(false);
            if (d is not null)
            {
                deps.Add(new LockedPath(dep, d.Value.Kind, d.Value.Digest, d.Value.Size, d.Value.Files));
                continue;
            }
            // A missing out of an upstream stage that the cache can restore counts as what the lock recorded.
            var recorded = lockFile.Stages.Values.SelectMany(s => s.Outs).FirstOrDefault(o => o.Path == dep);
            if (recorded is not null && repo.IsFullyCached(recorded.Kind, recorded.Digest)) deps.Add(recorded);
            else missing.Add(dep);
        }
        var ps = CurrentParams(stage);
        var inputs = new Inputs(deps, ps);
        var reasons = missing.Select(m => $"dep '{m}' is missing").ToList();

        if (!lockFile.Stages.TryGetValue(stage.Name, out var locked))
        {
            reasons.Add("never run (not in cairn.lock)");
            return (new StageStatus(stage.Name, StageState.Stale, reasons), inputs);
        }
        if (locked.Cmd != stage.Cmd) reasons.Add("cmd changed");
        foreach (var d in deps)
        {
            var old = locked.Deps.FirstOrDefault(x => x.Path == d.Path);
            if (old is null) reasons.Add($"dep '{d.Path}' added");
            else if (old.Digest != d.Digest) reasons.Add($"dep '{d.Path}' changed");
        }
        foreach (var old in locked.Deps.Where(o => !stage.Deps.Contains(o.Path))) reasons.Add($"dep '{old.Path}' removed");
        foreach (var (file, values) in ps)
        {
            var oldValues = locked.Params.GetValueOrDefault(file);
            foreach (var (k, v) in values)
            {
                if (oldValues is null || !oldValues.TryGetValue(k, out var ov)) reasons.Add($"param '{k}' added");
                else if (ov != v) reasons.Add($"param '{k}' changed: {ov} -> {v}");
            }
        }
        foreach (var (file, oldValues) in locked.Params)
        {
            foreach (var k in oldValues.Keys.Where(k => !ps.TryGetValue(file, out var now) || !now.ContainsKey(k))) reasons.Add($"param '{k}' removed");
        }
        var outPaths = stage.Outputs.Select(o => o.Path).ToHashSet(StringComparer.Ordinal);
        if (!outPaths.SetEquals(locked.Outs.Select(o => o.Path))) reasons.Add("outs changed");
        if (reasons.Count > 0) return (new StageStatus(stage.Name, StageState.Stale, reasons), inputs);

        // Inputs unchanged: compare the outs with what the lock file recorded.
        bool restorable = true;
        foreach (var o in locked.Outs)
        {
            var spec = stage.Outputs.First(x => x.Path == o.Path);
            var now = await repo.DescribeAsync(o.Path, ct).ConfigureAwait(false);
            if (now is { } n && n.Digest == o.Digest) continue;
            reasons.Add(now is null ? $"out '{o.Path}' missing" : $"out '{o.Path}' modified");
            if (!spec.Cache || !repo.IsFullyCached(o.Kind, o.Digest)) restorable = false;
        }
        if (reasons.Count == 0) return (new StageStatus(stage.Name, StageState.UpToDate, []), inputs);
        return (new StageStatus(stage.Name, restorable ? StageState.Restorable : StageState.Stale, reasons), inputs);
    }

    private Dictionary<string, IReadOnlyDictionary<string, string>> CurrentParams(StageDefinition stage)
    {
        var result = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
        foreach (var group in stage.Params.GroupBy(p => p.File))
        {
            ParamsFile pf;
            lock (_paramsGate)
            {
                if (!_params.TryGetValue(group.Key, out pf!)) _params[group.Key] = pf = ParamsFile.Load(repo.ToFull(group.Key), group.Key);
            }
            result[group.Key] = group.ToDictionary(p => p.Key,
                p => pf.Find(p.Key) ?? throw new InvalidParameterValueException($"stage '{stage.Name}': param '{p.Key}' is not defined in {group.Key}"),
                StringComparer.Ordinal);
        }
        return result;
    }

    /// <summary>Runs the stale stages. Throws <see cref="CairnException"/> with TEMPORARILY_UNAVAILABLE when another repro holds the lock.</summary>
    public async Task<ReproResult> ReproAsync(ReproOptions options, CancellationToken cancellationToken = default)
    {
        using var guard = ReproLock.Acquire(repo);
        UpToDateStamp.Invalidate(repo);
        var started = Stopwatch.StartNew();
        string runId = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss") + "-" + Guid.NewGuid().ToString("N")[..6];
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
                    new PipelineRunStart(runId, repo.Root, options.Target, options.Experiment, GitInfo.Head(repo.Root), DateTimeOffset.UtcNow),
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
                var (status, inputs) = await CheckAsync(stage, snapshot, cancellationToken).ConfigureAwait(false);
                if (status.State == StageState.UpToDate && !options.Force)
                    return new StageOutcome(stage.Name, StageOutcomeKind.Unchanged, [], null, TimeSpan.Zero, null, null);
                if (status.State == StageState.Restorable && !options.Force)
                {
                    var sw = Stopwatch.StartNew();
                    foreach (var o in snapshot.Stages[stage.Name].Outs)
                    {
                        var now = await repo.DescribeAsync(o.Path, cancellationToken).ConfigureAwait(false);
                        if (now?.Digest != o.Digest) await repo.RestoreAsync(o.Path, o.Kind, o.Digest, cancellationToken).ConfigureAwait(false);
                    }
                    options.Output?.Invoke($"Stage '{stage.Name}' restored from the cache ({string.Join("; ", status.Reasons)})");
                    return new StageOutcome(stage.Name, StageOutcomeKind.Restored, status.Reasons, null, sw.Elapsed, null, null);
                }
                var missingDep = status.Reasons.FirstOrDefault(r => r.EndsWith("is missing", StringComparison.Ordinal));
                if (missingDep is not null)
                {
                    string msg = $"stage '{stage.Name}': {missingDep}; run 'cairn data checkout' or the stage that writes it";
                    options.Output?.Invoke("ERROR: " + msg);
                    return new StageOutcome(stage.Name, StageOutcomeKind.Failed, status.Reasons, null, TimeSpan.Zero, null, msg);
                }
                var reasons = options.Force && status.State != StageState.Stale ? ["forced"] : status.Reasons;
                var outcome = await ExecuteAsync(stage, inputs, reasons, runId, ParentRunAsync, options, cancellationToken).ConfigureAwait(false);
                if (outcome.Kind == StageOutcomeKind.Ran)
                {
                    lock (lockGate)
                    {
                        lockFile.Stages[stage.Name] = _pendingLocks[stage.Name];
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
            if (parentRun is not null) await options.Recorder.FinishPipelineRunAsync(parentRun, "KILLED", started.Elapsed, CancellationToken.None).ConfigureAwait(false);
            repo.Flush();
            throw;
        }
        repo.Flush();
        var result = new ReproResult(runId, outcomes);
        if (options.Target is null && result.Succeeded) UpToDateStamp.Write(repo, pipeline);
        if (parentRun is not null)
            await options.Recorder.FinishPipelineRunAsync(parentRun, result.Succeeded ? "FINISHED" : "FAILED", started.Elapsed, CancellationToken.None).ConfigureAwait(false);
        return result;
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, StageLock> _pendingLocks = new(StringComparer.Ordinal);

    private async Task<StageOutcome> ExecuteAsync(StageDefinition stage, Inputs inputs, IReadOnlyList<string> reasons, string runId,
        Func<Task<string>> parentRun, ReproOptions options, CancellationToken ct)
    {
        options.Output?.Invoke($"Running stage '{stage.Name}' ({string.Join("; ", reasons)}):");
        options.Output?.Invoke("> " + stage.Cmd);
        string logDir = Path.Combine(repo.CairnDir, "runs", runId);
        Directory.CreateDirectory(logDir);
        string logFile = Path.Combine(logDir, stage.Name.Replace('@', '_').Replace('/', '_') + ".log");
        var flatParams = inputs.Params.SelectMany(f => f.Value).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        string parent = await parentRun().ConfigureAwait(false);
        string stageRun = await options.Recorder.StartStageRunAsync(parent,
            new StageRunStart(stage.Name, stage.Cmd, flatParams, reasons, DateTimeOffset.UtcNow, stage.Deps), CancellationToken.None).ConfigureAwait(false);
        var sw = Stopwatch.StartNew();

        async Task<StageOutcome> Finish(StageOutcomeKind kind, int? exit, string? error, IReadOnlyDictionary<string, string>? digests = null,
            IReadOnlyDictionary<string, double>? metrics = null)
        {
            string status = kind switch { StageOutcomeKind.Ran => "FINISHED", StageOutcomeKind.Cancelled => "KILLED", _ => "FAILED" };
            await options.Recorder.FinishStageRunAsync(stageRun, new StageRunResult(stage.Name, status, exit, sw.Elapsed,
                metrics ?? new Dictionary<string, double>(), digests ?? new Dictionary<string, string>(), logFile, error), CancellationToken.None).ConfigureAwait(false);
            if (error is not null) options.Output?.Invoke($"ERROR: {error}");
            return new StageOutcome(stage.Name, kind, reasons, exit, sw.Elapsed, logFile, error);
        }

        foreach (var o in stage.Outputs)
        {
            if (!o.Persist) DeletePath(repo.ToFull(o.Path));
            Directory.CreateDirectory(Path.GetDirectoryName(repo.ToFull(o.Path))!);
        }

        int exitCode;
        try
        {
            exitCode = await RunCommandAsync(stage, logFile, options.Output, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            foreach (var o in stage.Outputs) DeletePath(repo.ToFull(o.Path)); // partial outputs are not kept
            await Finish(StageOutcomeKind.Cancelled, null, null).ConfigureAwait(false);
            options.Output?.Invoke($"Stage '{stage.Name}' cancelled; its partial outputs were removed");
            throw;
        }
        if (exitCode != 0)
        {
            return await Finish(StageOutcomeKind.Failed, exitCode, $"stage '{stage.Name}' failed with exit code {exitCode} (log: {repo.ToRelative(logFile)})").ConfigureAwait(false);
        }

        var outs = new List<LockedPath>();
        var digests = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var o in stage.Outputs)
        {
            var full = repo.ToFull(o.Path);
            if (!File.Exists(full) && !Directory.Exists(full))
                return await Finish(StageOutcomeKind.Failed, exitCode, $"stage '{stage.Name}' did not produce its {o.Kind.ToString().ToLowerInvariant()} '{o.Path}'").ConfigureAwait(false);
            var d = o.Cache ? await repo.StoreAsync(o.Path, ct).ConfigureAwait(false)
                            : (await repo.DescribeAsync(o.Path, ct).ConfigureAwait(false))!.Value;
            // Cached outs live in the cache and cairn.lock, not in git; metrics and plots are meant to be committed.
            if (o.Cache) GitIgnore.Ensure(Path.GetDirectoryName(full)!, "/" + Path.GetFileName(full));
            outs.Add(new LockedPath(o.Path, d.Kind, d.Digest, d.Size, d.Files));
            digests[o.Path] = d.Digest;
        }
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var m in stage.Metrics)
        {
            var values = MetricsFile.Read(repo.ToFull(m.Path));
            if (values is not null) foreach (var (k, v) in MetricsFile.Numeric(values)) metrics[k] = v;
        }
        _pendingLocks[stage.Name] = new StageLock(stage.Cmd, inputs.Deps, inputs.Params, outs);
        options.Output?.Invoke($"Stage '{stage.Name}' done in {sw.Elapsed.TotalSeconds:0.00} s");
        return await Finish(StageOutcomeKind.Ran, exitCode, null, digests, metrics).ConfigureAwait(false);
    }

    private async Task<int> RunCommandAsync(StageDefinition stage, string logFile, Action<string>? output, CancellationToken ct)
    {
        var psi = OperatingSystem.IsWindows()
            ? new ProcessStartInfo("cmd.exe") { ArgumentList = { "/d", "/c", stage.Cmd } }
            : new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", stage.Cmd } };
        psi.WorkingDirectory = repo.Root;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.RedirectStandardInput = true;
        psi.Environment["CAIRN_STAGE"] = stage.Name;
        await using var log = new StreamWriter(logFile) { AutoFlush = true };
        var logGate = new Lock();
        void OnLine(string? line)
        {
            if (line is null) return;
            lock (logGate) log.WriteLine(line);
            output?.Invoke($"  [{stage.Name}] {line}");
        }
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidStateException($"stage '{stage.Name}': cannot start the shell: {e.Message}");
        }
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // it exited between the cancellation and the kill
            }
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        process.WaitForExit(); // drains the redirected output
        return process.ExitCode;
    }

    private static void DeletePath(string full)
    {
        if (File.Exists(full)) File.Delete(full);
        else if (Directory.Exists(full)) Directory.Delete(full, recursive: true);
    }
}

/// <summary>The repository-wide lock that keeps two <c>cairn repro</c> from running at once.</summary>
internal sealed class ReproLock : IDisposable
{
    private readonly FileStream _stream;
    private readonly string _pidFile;

    private ReproLock(FileStream stream, string pidFile)
    {
        _stream = stream;
        _pidFile = pidFile;
    }

    public static ReproLock Acquire(DataRepository repo)
    {
        string dir = Path.Combine(repo.CairnDir, "tmp");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "repro.lock");
        string pidFile = Path.Combine(dir, "repro.pid");
        try
        {
            // FileShare.None takes an exclusive advisory lock (flock on Unix) that the OS drops if the process dies.
            var fs = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            File.WriteAllText(pidFile, Environment.ProcessId.ToString());
            return new ReproLock(fs, pidFile);
        }
        catch (IOException)
        {
            string holder = File.Exists(pidFile) ? File.ReadAllText(pidFile).Trim() : "?";
            throw new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE,
                $"another 'cairn repro' is running in {repo.Root} (pid {holder} holds .cairn/tmp/repro.lock); wait for it to finish");
        }
    }

    public void Dispose()
    {
        try { File.Delete(_pidFile); } catch (IOException) { }
        _stream.Dispose();
    }
}

/// <summary>Small git helpers (the git executable, no library).</summary>
public static class GitInfo
{
    /// <summary>The HEAD commit of the work tree at <paramref name="root"/>, or null outside git.</summary>
    public static string? Head(string root)
    {
        if (!Directory.Exists(Path.Combine(root, ".git")) && !File.Exists(Path.Combine(root, ".git"))) return null;
        try
        {
            var (code, stdout, _) = Run(root, "rev-parse", "HEAD");
            return code == 0 ? stdout.Trim() : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // git not installed
        }
    }

    /// <summary>The HEAD commit of the git work tree that contains <paramref name="folder"/> (any depth), or null outside git.</summary>
    public static string? CommitOf(string folder)
    {
        if (!Directory.Exists(folder) || !MayBeInWorkTree(folder)) return null;
        try
        {
            var (code, stdout, _) = Run(folder, "rev-parse", "HEAD");
            return code == 0 && stdout.Trim() is { Length: 40 } commit ? commit : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // git not installed
        }
    }

    /// <summary>
    /// Whether git could find a repository for <paramref name="folder"/>: a <c>.git</c> folder or file in it or an ancestor
    /// (git's own discovery), or <c>GIT_DIR</c> set. Outside one, asking git costs a process start for nothing.
    /// </summary>
    private static bool MayBeInWorkTree(string folder)
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("GIT_DIR"))) return true;
        for (var dir = new DirectoryInfo(Path.GetFullPath(folder)); dir is not null; dir = dir.Parent)
        {
            var marker = Path.Combine(dir.FullName, ".git");
            if (Directory.Exists(marker) || File.Exists(marker)) return true;
        }
        return false;
    }

    /// <summary>The content of <paramref name="path"/> at revision <paramref name="rev"/>, or null when it did not exist there.</summary>
    public static string? Show(string root, string rev, string path)
    {
        var (code, stdout, stderr) = Run(root, "show", $"{rev}:{path}");
        if (code == 0) return stdout;
        if (stderr.Contains("does not exist", StringComparison.Ordinal) || stderr.Contains("exists on disk, but not in", StringComparison.Ordinal)) return null;
        var (vcode, _, _) = Run(root, "rev-parse", "--verify", "--quiet", rev + "^{commit}");
        if (vcode != 0) throw new InvalidParameterValueException($"'{rev}' is not a git revision of {root}");
        return null;
    }

    internal static (int Code, string Stdout, string Stderr) Run(string root, params string[] args)
    {
        var psi = new ProcessStartInfo("git") { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidStateException("cannot start git");
        var err = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout, err.GetAwaiter().GetResult());
    }
}
