using System.Text;

namespace Cairn.Pipelines;

/// <summary>
/// A checked pipeline: stages in topological order with their upstream stages. Loading refuses, before
/// anything runs, a cycle, a dep that neither exists nor is produced, two stages writing the same out,
/// a stage whose out is also its own dep, and a param key missing from its params file.
/// </summary>
public sealed class Pipeline
{
    private readonly Dictionary<string, StageDefinition> _byName;

    private Pipeline(string root, IReadOnlyList<StageDefinition> ordered, Dictionary<string, List<string>> upstream)
    {
        Root = root;
        Stages = ordered;
        _byName = ordered.ToDictionary(s => s.Name, StringComparer.Ordinal);
        Upstream = upstream.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)kv.Value, StringComparer.Ordinal);
    }

    /// <summary>The repository root the paths are relative to.</summary>
    public string Root { get; }

    /// <summary>Stages in a topological order (definition order among independent stages).</summary>
    public IReadOnlyList<StageDefinition> Stages { get; }

    /// <summary>For each stage, the stages whose outputs it reads.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Upstream { get; }

    /// <summary>Loads and checks <c>cairn.yaml</c> at <paramref name="root"/>.</summary>
    public static Pipeline Load(string root)
        => Create(root, PipelineFile.Load(Path.Combine(root, PipelineFile.FileName)), PipelineFile.FileName);

    /// <summary>Checks stages and orders them.</summary>
    public static Pipeline Create(string root, IReadOnlyList<StageDefinition> stages, string source)
    {
        // Outputs: no two stages may write the same path or nested paths.
        var outs = stages.SelectMany(s => s.Outputs.Select(o => (Stage: s.Name, o.Path))).ToList();
        for (int i = 0; i < outs.Count; i++)
        {
            for (int j = i + 1; j < outs.Count; j++)
            {
                if (!RelPath.Overlaps(outs[i].Path, outs[j].Path)) continue;
                if (outs[i].Stage == outs[j].Stage)
                    throw new InvalidParameterValueException($"{source}: stage '{outs[i].Stage}' lists overlapping outputs '{outs[i].Path}' and '{outs[j].Path}'");
                throw new InvalidParameterValueException(outs[i].Path == outs[j].Path
                    ? $"{source}: two stages write the same out '{outs[i].Path}': '{outs[i].Stage}' and '{outs[j].Stage}' (an out may have one producer)"
                    : $"{source}: outs '{outs[i].Path}' of stage '{outs[i].Stage}' and '{outs[j].Path}' of stage '{outs[j].Stage}' overlap (an out may have one producer)");
            }
        }

        var upstream = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var s in stages)
        {
            var ups = new List<string>();
            foreach (var dep in s.Deps)
            {
                var own = s.Outputs.FirstOrDefault(o => RelPath.Overlaps(o.Path, dep));
                if (own is not null)
                    throw new InvalidParameterValueException($"{source}: stage '{s.Name}': '{dep}' is both a dep and an out ('{own.Path}') of the same stage; a stage cannot read what it writes");
                var producers = outs.Where(o => RelPath.Overlaps(o.Path, dep)).Select(o => o.Stage).Distinct().ToList();
                if (producers.Count == 0 && !File.Exists(Path.Combine(root, dep)) && !Directory.Exists(Path.Combine(root, dep))
                    && !File.Exists(Path.Combine(root, dep + Cairn.Data.DataPointer.Extension)))
                    throw new InvalidParameterValueException($"{source}: stage '{s.Name}': dep '{dep}' does not exist and no stage writes it");
                foreach (var p in producers) if (!ups.Contains(p)) ups.Add(p);
            }
            upstream[s.Name] = ups;
        }

        CheckParams(root, stages, source);
        var ordered = TopologicalOrder(stages, upstream, source);
        return new Pipeline(root, ordered, upstream);
    }

    private static void CheckParams(string root, IReadOnlyList<StageDefinition> stages, string source)
    {
        var files = new Dictionary<string, ParamsFile>(StringComparer.Ordinal);
        foreach (var s in stages)
        {
            foreach (var p in s.Params)
            {
                if (!files.TryGetValue(p.File, out var pf))
                {
                    string full = Path.Combine(root, p.File);
                    if (!File.Exists(full))
                        throw new InvalidParameterValueException($"{source}: stage '{s.Name}': params file '{p.File}' not found (needed for '{p.Key}')");
                    files[p.File] = pf = ParamsFile.Load(full, p.File);
                }
                if (pf.Find(p.Key) is null)
                    throw new InvalidParameterValueException($"{source}: stage '{s.Name}': param '{p.Key}' is not defined in {p.File}");
            }
        }
    }

    private static List<StageDefinition> TopologicalOrder(IReadOnlyList<StageDefinition> stages, Dictionary<string, List<string>> upstream, string source)
    {
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 visiting, 2 done
        var byName = stages.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var order = new List<StageDefinition>();
        var path = new List<string>();

        void Visit(string name)
        {
            if (state.TryGetValue(name, out int st))
            {
                if (st == 2) return;
                int start = path.IndexOf(name);
                throw new InvalidParameterValueException($"{source}: the stages form a cycle: {string.Join(" -> ", path.Skip(start).Append(name))} (each reads an out of the one before)");
            }
            state[name] = 1;
            path.Add(name);
            foreach (var up in upstream[name]) Visit(up);
            path.RemoveAt(path.Count - 1);
            state[name] = 2;
            order.Add(byName[name]);
        }

        foreach (var s in stages) Visit(s.Name);
        return order;
    }

    /// <summary>The stage named <paramref name="name"/>.</summary>
    public StageDefinition Get(string name)
        => _byName.TryGetValue(name, out var s) ? s
           : throw new ResourceDoesNotExistException($"{PipelineFile.FileName} has no stage '{name}' (stages: {string.Join(", ", Stages.Select(x => x.Name))})");

    /// <summary>A stage and everything upstream of it, in order; all stages when <paramref name="target"/> is null.</summary>
    public IReadOnlyList<StageDefinition> Select(string? target)
    {
        if (target is null) return Stages;
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        var matches = Stages.Where(s => s.Name == target || s.Name.StartsWith(target + "@", StringComparison.Ordinal)).ToList();
        if (matches.Count == 0) Get(target);
        var stack = new Stack<string>(matches.Select(m => m.Name));
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (wanted.Add(n)) foreach (var u in Upstream[n]) stack.Push(u);
        }
        return Stages.Where(s => wanted.Contains(s.Name)).ToList();
    }

    /// <summary>The graph as indented text: each stage with the stages it reads from.</summary>
    public string ToText()
    {
        var sb = new StringBuilder();
        foreach (var s in Stages)
        {
            sb.Append(s.Name);
            if (Upstream[s.Name].Count > 0) sb.Append("  <-  ").Append(string.Join(", ", Upstream[s.Name]));
            sb.Append('\n');
            sb.Append("    $ ").Append(s.Cmd).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>The graph in Mermaid <c>flowchart TD</c> syntax.</summary>
    public string ToMermaid()
    {
        var ids = Stages.Select((s, i) => (s.Name, Id: "s" + i)).ToDictionary(x => x.Name, x => x.Id, StringComparer.Ordinal);
        var sb = new StringBuilder("flowchart TD\n");
        foreach (var s in Stages) sb.Append("    ").Append(ids[s.Name]).Append("[\"").Append(s.Name.Replace("\"", "#quot;")).Append("\"]\n");
        foreach (var s in Stages) foreach (var u in Upstream[s.Name]) sb.Append("    ").Append(ids[u]).Append(" --> ").Append(ids[s.Name]).Append('\n');
        return sb.ToString();
    }

    /// <summary>The graph in Graphviz DOT syntax.</summary>
    public string ToDot()
    {
        var sb = new StringBuilder("digraph pipeline {\n    rankdir=TB;\n    node [shape=box];\n");
        foreach (var s in Stages) sb.Append("    \"").Append(s.Name).Append("\";\n");
        foreach (var s in Stages) foreach (var u in Upstream[s.Name]) sb.Append("    \"").Append(u).Append("\" -> \"").Append(s.Name).Append("\";\n");
        return sb.Append("}\n").ToString();
    }
}
