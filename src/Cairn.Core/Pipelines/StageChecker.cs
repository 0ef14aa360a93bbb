using Cairn.Data;

namespace Cairn.Pipelines;

/// <summary>What a stage reads now: its deps with their digests and its params by file.</summary>
/// <param name="Deps">Deps with their current digests (or, for a missing upstream out the cache holds, the recorded one).</param>
/// <param name="Params">Params by file, then key → value.</param>
internal sealed record StageInputs(List<LockedPath> Deps, Dictionary<string, IReadOnlyDictionary<string, string>> Params);

/// <summary>A stage's state against the lock file and the inputs it was computed from.</summary>
/// <param name="Status">Up to date, restorable or stale, with the reasons.</param>
/// <param name="Inputs">The inputs as they are now (recorded in the lock file if the stage runs).</param>
internal sealed record StageCheck(StageStatus Status, StageInputs Inputs);

/// <summary>
/// Compares a stage's cmd, deps, params and outs with its lock-file entry. Params files are read once per checker
/// (one repro or status call), so stages sharing params.yaml parse it once.
/// </summary>
internal sealed class StageChecker(DataRepository repo)
{
    private readonly Dictionary<string, ParamsFile> _params = new(StringComparer.Ordinal);
    private readonly Lock _paramsGate = new();

    /// <summary>The stage's state and why; <see cref="StageState.Restorable"/> when only cached outs differ.</summary>
    public async Task<StageCheck> CheckAsync(StageDefinition stage, LockFile lockFile, CancellationToken ct)
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
        var inputs = new StageInputs(deps, ps);
        var reasons = missing.Select(m => $"dep '{m}' is missing").ToList();

        if (!lockFile.Stages.TryGetValue(stage.Name, out var locked))
        {
            reasons.Add("never run (not in cairn.lock)");
            return new StageCheck(new StageStatus(stage.Name, StageState.Stale, reasons), inputs);
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
        if (reasons.Count > 0) return new StageCheck(new StageStatus(stage.Name, StageState.Stale, reasons), inputs);

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
        if (reasons.Count == 0) return new StageCheck(new StageStatus(stage.Name, StageState.UpToDate, []), inputs);
        return new StageCheck(new StageStatus(stage.Name, restorable ? StageState.Restorable : StageState.Stale, reasons), inputs);
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
}
