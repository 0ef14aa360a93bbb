using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Cairn.Data;

namespace Cairn.Pipelines;

/// <summary>An experiment: a pipeline run with some params changed, kept out of the working tree.</summary>
/// <param name="Id">Unique id (also its folder under <c>.cairn/exps/</c>).</param>
/// <param name="Name">Display name (<c>--name</c>, or the id).</param>
/// <param name="Status">queued, running, succeeded or failed.</param>
/// <param name="SetParams">The <c>--set-param</c> overrides (file:key → value; file omitted for params.yaml).</param>
/// <param name="Params">All params the stages read, after the overrides.</param>
/// <param name="Metrics">Values of the pipeline's metrics files after the run.</param>
/// <param name="BaselineCommit">The git commit the workspace was at.</param>
/// <param name="QueuedUtc">When it was created.</param>
/// <param name="FinishedUtc">When it finished.</param>
/// <param name="Error">Why it failed.</param>
/// <param name="RunId">The pipeline run id (tracking parent run).</param>
public sealed record ExperimentRecord(string Id, string Name, string Status, IReadOnlyDictionary<string, string> SetParams,
    IReadOnlyDictionary<string, string> Params, IReadOnlyDictionary<string, string> Metrics, string? BaselineCommit,
    DateTimeOffset QueuedUtc, DateTimeOffset? FinishedUtc, string? Error, string? RunId);

/// <summary>
/// Runs pipeline experiments in private copies of the workspace (<c>.cairn/exps/&lt;id&gt;/ws</c>) sharing the
/// object cache, so the working tree's params.yaml is never touched. Experiments can be queued and run
/// several at a time; their results (params, metrics, lock file) stay in <c>.cairn/exps/</c>.
/// Ids and times come from the repository's <see cref="DataRepositoryOptions.TimeProvider"/>.
/// </summary>
public sealed class ExperimentManager(DataRepository repo)
{
    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Where experiments live.</summary>
    public string ExpsDir => Path.Combine(repo.CairnDir, "exps");

    /// <summary>Parses <c>key=value</c> or <c>file.yaml:key=value</c> and checks each key exists in its params file.</summary>
    public IReadOnlyDictionary<string, string> ParseSetParams(IEnumerable<string> assignments)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var a in assignments)
        {
            int eq = a.IndexOf('=');
            if (eq <= 0) throw new InvalidParameterValueException($"--set-param '{a}': expected key=value, e.g. train.lr=0.1");
            string key = a[..eq].Trim();
            var (file, k) = SplitKey(key);
            var pf = ParamsFile.Load(repo.ToFull(file), file);
            if (!File.Exists(repo.ToFull(file))) throw new InvalidParameterValueException($"--set-param {key}: params file '{file}' not found");
            var current = pf.Find(k);
            if (current is null) throw new InvalidParameterValueException($"--set-param {key}: {file} has no key '{k}'");
            if (current.StartsWith('{')) throw new InvalidParameterValueException($"--set-param {key}: '{k}' is a section in {file}, not a single value");
            result[key] = a[(eq + 1)..].Trim();
        }
        return result;
    }

    private static (string File, string Key) SplitKey(string key)
    {
        int colon = key.IndexOf(':');
        return colon > 0 ? (RelPath.Normalize(key[..colon], "--set-param"), key[(colon + 1)..]) : (PipelineFile.DefaultParamsFile, key);
    }

    /// <summary>Adds an experiment to the queue.</summary>
    public ExperimentRecord Queue(IReadOnlyDictionary<string, string> setParams, string? name)
    {
        string id = NewId();
        var rec = new ExperimentRecord(id, name ?? id, "queued", setParams, new Dictionary<string, string>(), new Dictionary<string, string>(),
            GitInfo.Head(repo.Root), repo.Time.GetUtcNow(), null, null, null);
        Save(rec);
        return rec;
    }

    /// <summary>Runs one experiment now.</summary>
    public Task<ExperimentRecord> RunAsync(IReadOnlyDictionary<string, string> setParams, string? name, int jobs, IPipelineRunRecorder recorder,
        Action<string>? output, CancellationToken cancellationToken = default)
        => ExecuteAsync(Queue(setParams, name), jobs, recorder, output, cancellationToken);

    /// <summary>Runs every queued experiment, <paramref name="parallel"/> at a time.</summary>
    public async Task<IReadOnlyList<ExperimentRecord>> RunQueuedAsync(int parallel, IPipelineRunRecorder recorder, Action<string>? output,
        CancellationToken cancellationToken = default)
    {
        var queued = List().Where(e => e.Status == "queued").ToList();
        var results = new ExperimentRecord[queued.Count];
        await Parallel.ForAsync(0, queued.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallel), CancellationToken = cancellationToken },
            async (i, ct) => results[i] = await ExecuteAsync(queued[i], 1, recorder, output, ct).ConfigureAwait(false)).ConfigureAwait(false);
        return results;
    }

    /// <summary>All experiments, oldest first.</summary>
    public IReadOnlyList<ExperimentRecord> List()
        => !Directory.Exists(ExpsDir) ? []
           : Directory.EnumerateFiles(ExpsDir, "*.json")
               .Select(f => JsonSerializer.Deserialize<ExperimentRecord>(File.ReadAllText(f), s_json) ?? throw new InvalidStateException($"{f}: empty experiment record"))
               .OrderBy(e => e.QueuedUtc).ThenBy(e => e.Id, StringComparer.Ordinal).ToList();

    /// <summary>Cache objects the experiments' lock files refer to (kept by gc).</summary>
    public IEnumerable<CacheRoot> CacheRoots()
        => !Directory.Exists(ExpsDir) ? []
           : Directory.EnumerateFiles(ExpsDir, "*.lock").SelectMany(f => LockFile.Load(f, f).Stages.Values)
               .SelectMany(s => s.Outs).Select(o => new CacheRoot(o.Digest, o.Kind));

    private async Task<ExperimentRecord> ExecuteAsync(ExperimentRecord rec, int jobs, IPipelineRunRecorder recorder, Action<string>? output, CancellationToken ct)
    {
        Save(rec with { Status = "running" });
        string ws = Path.Combine(ExpsDir, rec.Id, "ws");
        Action<string>? say = output is null ? null : line => output($"[{rec.Name}] {line}");
        try
        {
            var pipeline = Pipeline.Load(repo.Root);
            PrepareWorkspace(ws, pipeline);
            var wsRepo = DataRepository.Open(ws, new DataRepositoryOptions { CacheDir = repo.Cache.Root, LinkTypes = repo.LinkTypes, TimeProvider = repo.Time });
            await wsRepo.CheckoutAsync(force: true, cancellationToken: ct).ConfigureAwait(false);
            foreach (var group in rec.SetParams.GroupBy(kv => SplitKey(kv.Key).File))
            {
                string file = Path.Combine(ws, group.Key);
                var overrides = group.ToDictionary(kv => SplitKey(kv.Key).Key, kv => kv.Value);
                File.WriteAllText(file, ParamsFile.ApplyOverrides(File.ReadAllText(file), group.Key, overrides));
            }
            var wsPipeline = Pipeline.Load(ws);
            var result = await new PipelineRunner(wsRepo, wsPipeline).ReproAsync(new ReproOptions
            {
                Jobs = jobs, Recorder = recorder, Output = say, Experiment = rec.Name,
            }, ct).ConfigureAwait(false);

            var ps = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var f in wsPipeline.Stages.SelectMany(s => s.Params).Select(p => p.File).Distinct())
            {
                foreach (var (k, v) in ParamsFile.Load(Path.Combine(ws, f), f).Leaves) ps[f == PipelineFile.DefaultParamsFile ? k : f + ":" + k] = v;
            }
            var metrics = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var m in wsPipeline.Stages.SelectMany(s => s.Metrics))
            {
                var values = MetricsFile.Read(Path.Combine(ws, m.Path));
                if (values is not null) foreach (var (k, v) in values) metrics[k] = v;
            }
            string lockPath = Path.Combine(ws, LockFile.FileName);
            if (File.Exists(lockPath)) File.Copy(lockPath, Path.Combine(ExpsDir, rec.Id + ".lock"), overwrite: true);
            var failed = result.Stages.FirstOrDefault(s => s.Error is not null);
            var done = rec with
            {
                Status = result.Succeeded ? "succeeded" : "failed", Params = ps, Metrics = metrics, FinishedUtc = repo.Time.GetUtcNow(),
                Error = failed?.Error, RunId = result.RunId,
            };
            Save(done);
            return done;
        }
        catch (Exception e) when (e is CairnException or IOException)
        {
            var failed = rec with { Status = "failed", Error = e.Message, FinishedUtc = repo.Time.GetUtcNow() };
            Save(failed);
            say?.Invoke("ERROR: " + e.Message);
            return failed;
        }
        catch (OperationCanceledException)
        {
            Save(rec with { Status = "failed", Error = "cancelled", FinishedUtc = repo.Time.GetUtcNow() });
            throw;
        }
        finally
        {
            // Keep the logs, drop the copy of the workspace.
            string runs = Path.Combine(ws, DataRepository.CairnDirName, "runs");
            string keep = Path.Combine(ExpsDir, rec.Id, "runs");
            if (Directory.Exists(runs) && !Directory.Exists(keep)) Directory.Move(runs, keep);
            DeleteTree(ws);
        }
    }

    /// <summary>Copies the working tree's source files (git-tracked or not ignored) into <paramref name="ws"/>.</summary>
    private void PrepareWorkspace(string ws, Pipeline pipeline)
    {
        DeleteTree(ws);
        Directory.CreateDirectory(Path.Combine(ws, DataRepository.CairnDirName));
        string cfg = Path.Combine(repo.CairnDir, "config.yaml");
        if (File.Exists(cfg)) File.Copy(cfg, Path.Combine(ws, DataRepository.CairnDirName, "config.yaml"));

        IEnumerable<string> files;
        var (code, stdout, _) = GitInfo.Head(repo.Root) is not null || Directory.Exists(Path.Combine(repo.Root, ".git"))
            ? GitInfo.Run(repo.Root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
            : (-1, "", "");
        var outs = pipeline.Stages.SelectMany(s => s.Outputs).Select(o => o.Path).ToList();
        if (code == 0)
        {
            files = stdout.Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        else
        {
            files = DataRepository.EnumerateFilesForCopy(repo.Root);
        }
        foreach (var rel in files)
        {
            if (rel.StartsWith(DataRepository.CairnDirName + "/", StringComparison.Ordinal) || rel.StartsWith(".git/", StringComparison.Ordinal)) continue;
            if (outs.Any(o => o == rel || RelPath.IsUnder(rel, o))) continue; // restored from the cache by repro
            string src = repo.ToFull(rel);
            if (!File.Exists(src)) continue;
            string dst = Path.Combine(ws, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(dst)!);
            File.Copy(src, dst);
        }
        // Deps that git ignores and no pointer or stage provides (raw data kept next to the code): copy them.
        foreach (var dep in pipeline.Stages.SelectMany(s => s.Deps).Distinct())
        {
            if (outs.Any(o => RelPath.Overlaps(o, dep))) continue;
            string dst = Path.Combine(ws, dep);
            if (File.Exists(dst) || Directory.Exists(dst) || File.Exists(dst + DataPointer.Extension)) continue;
            string src = repo.ToFull(dep);
            if (File.Exists(src)) { Directory.CreateDirectory(Path.GetDirectoryName(dst)!); File.Copy(src, dst); }
            else if (Directory.Exists(src)) CopyTree(src, dst);
        }
    }

    private static void CopyTree(string src, string dst)
    {
        foreach (var (rel, full) in DataRepository.EnumerateFilesPublic(src))
        {
            string d = Path.Combine(dst, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(d)!);
            File.Copy(full, d);
        }
    }

    private static void DeleteTree(string dir)
    {
        if (!Directory.Exists(dir)) return;
        foreach (var f in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories))
        {
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(f, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        Directory.Delete(dir, recursive: true);
    }

    private void Save(ExperimentRecord rec)
    {
        Directory.CreateDirectory(ExpsDir);
        AtomicFile.WriteAllText(Path.Combine(ExpsDir, rec.Id + ".json"), JsonSerializer.Serialize(rec, s_json));
    }

    private string NewId() => "exp-" + repo.Time.GetUtcNow().ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..6];
}
