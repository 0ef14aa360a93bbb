using System.Diagnostics;
using Cairn.Data;

namespace Cairn.Pipelines;

/// <summary>A stage that ran: its outcome and, when it succeeded, its new lock-file entry.</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="Lock">The entry to record in <c>cairn.lock</c>; null unless the stage ran and succeeded.</param>
internal sealed record StageExecution(StageOutcome Outcome, StageLock? Lock);

/// <summary>
/// Runs one stage: clears its outs, runs its command through the shell with output captured to a log file,
/// stores the outs in the cache, reads its metrics and records the stage run.
/// </summary>
internal sealed class StageExecutor(DataRepository repo, TimeProvider time)
{
    /// <summary>
    /// Runs <paramref name="stage"/>'s command and stores its outs. On success the outcome comes with the stage's new
    /// lock-file entry, for the caller to write; on failure the entry is null and the lock file keeps the old one.
    /// Rethrows the cancellation after removing partial outs.
    /// </summary>
    public async Task<StageExecution> ExecuteAsync(StageDefinition stage, StageInputs inputs, IReadOnlyList<string> reasons, string runId,
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
            new StageRunStart(stage.Name, stage.Cmd, flatParams, reasons, time.GetUtcNow(), stage.Deps), CancellationToken.None).ConfigureAwait(false);
        long started = time.GetTimestamp();

        async Task<StageOutcome> Finish(StageOutcomeKind kind, int? exit, string? error, IReadOnlyDictionary<string, string>? digests = null,
            IReadOnlyDictionary<string, double>? metrics = null)
        {
            string status = kind switch { StageOutcomeKind.Ran => "FINISHED", StageOutcomeKind.Cancelled => "KILLED", _ => "FAILED" };
            await options.Recorder.FinishStageRunAsync(stageRun, new StageRunResult(stage.Name, status, exit, time.GetElapsedTime(started),
                metrics ?? new Dictionary<string, double>(), digests ?? new Dictionary<string, string>(), logFile, error), CancellationToken.None).ConfigureAwait(false);
            if (error is not null) options.Output?.Invoke($"ERROR: {error}");
            return new StageOutcome(stage.Name, kind, reasons, exit, time.GetElapsedTime(started), logFile, error);
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
            string error = $"stage '{stage.Name}' failed with exit code {exitCode} (log: {repo.ToRelative(logFile)})";
            return new StageExecution(await Finish(StageOutcomeKind.Failed, exitCode, error).ConfigureAwait(false), null);
        }

        var outs = new List<LockedPath>();
        var digests = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var o in stage.Outputs)
        {
            var full = repo.ToFull(o.Path);
            if (!File.Exists(full) && !Directory.Exists(full))
                return new StageExecution(await Finish(StageOutcomeKind.Failed, exitCode,
                    $"stage '{stage.Name}' did not produce its {o.Kind.ToString().ToLowerInvariant()} '{o.Path}'").ConfigureAwait(false), null);
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
        var entry = new StageLock(stage.Cmd, inputs.Deps, inputs.Params, outs);
        options.Output?.Invoke($"Stage '{stage.Name}' done in {time.GetElapsedTime(started).TotalSeconds:0.00} s");
        return new StageExecution(await Finish(StageOutcomeKind.Ran, exitCode, null, digests, metrics).ConfigureAwait(false), entry);
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
