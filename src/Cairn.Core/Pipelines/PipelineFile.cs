using System.Text.RegularExpressions;
using Cairn.Data;
using YamlDotNet.RepresentationModel;

namespace Cairn.Pipelines;

/// <summary>
/// Reads <c>cairn.yaml</c>: stages with <c>cmd</c>, <c>deps</c>, <c>params</c>, <c>outs</c>, <c>metrics</c>,
/// <c>plots</c>, expanded by <c>foreach</c>/<c>do</c> or <c>matrix</c>. Errors name the file, the field and the rule.
/// </summary>
public static partial class PipelineFile
{
    /// <summary>The pipeline file name at the repository root.</summary>
    public const string FileName = "cairn.yaml";

    /// <summary>The default params file.</summary>
    public const string DefaultParamsFile = "params.yaml";

    private static readonly string[] StageFields = ["cmd", "deps", "params", "outs", "metrics", "plots", "foreach", "do", "matrix", "desc"];

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")]
    private static partial Regex StageNameRegex();

    [GeneratedRegex(@"\$\{\s*([A-Za-z0-9_.\-]+)\s*\}")]
    private static partial Regex VariableRegex();

    /// <summary>Loads and expands the pipeline at <paramref name="path"/> (no graph checks; <see cref="Pipeline"/> does those).</summary>
    public static IReadOnlyList<StageDefinition> Load(string path, string displayName = FileName)
    {
        if (!File.Exists(path)) throw new ResourceDoesNotExistException($"{displayName}: pipeline file not found; create it with a 'stages:' mapping");
        return Parse(File.ReadAllText(path), displayName);
    }

    /// <summary>Parses pipeline YAML.</summary>
    public static IReadOnlyList<StageDefinition> Parse(string yaml, string source)
    {
        var root = YamlHelper.LoadRoot(yaml, source);
        if (root is null) return [];
        if (root is not YamlMappingNode top) throw new InvalidParameterValueException($"{source}: expected a mapping with a 'stages' key at the top level");
        foreach (var k in top.Children.Keys.Select(Scalar))
        {
            if (k != "stages") throw new InvalidParameterValueException($"{source}: unknown top-level field '{k}' (only 'stages' is allowed)");
        }
        if (!top.Children.TryGetValue(new YamlScalarNode("stages"), out var stagesNode)) return [];
        if (stagesNode is not YamlMappingNode stages) throw new InvalidParameterValueException($"{source}: 'stages' must be a mapping of stage name to stage");

        var result = new List<StageDefinition>();
        foreach (var (k, v) in stages.Children)
        {
            string name = Scalar(k);
            string where = $"{source}: stages.{name}";
            if (!StageNameRegex().IsMatch(name) || name.Contains('@'))
                throw new InvalidParameterValueException($"{where}: stage names may hold letters, digits, '_', '-' and '.'");
            if (v is not YamlMappingNode body) throw new InvalidParameterValueException($"{where}: a stage must be a mapping");
            foreach (var f in body.Children.Keys.Select(Scalar))
            {
                if (!StageFields.Contains(f)) throw new InvalidParameterValueException($"{where}: unknown field '{f}' (allowed: {string.Join(", ", StageFields)})");
            }
            if (Has(body, "foreach")) result.AddRange(ExpandForeach(name, body, where));
            else if (Has(body, "matrix")) result.AddRange(ExpandMatrix(name, body, where));
            else
            {
                if (Has(body, "do")) throw new InvalidParameterValueException($"{where}: 'do' needs 'foreach'");
                result.Add(ParseStage(name, body, where, vars: null));
            }
        }
        var dup = result.GroupBy(s => s.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new InvalidParameterValueException($"{source}: stage '{dup.Key}' is defined twice (after foreach/matrix expansion)");
        return result;
    }

    private static IEnumerable<StageDefinition> ExpandForeach(string name, YamlMappingNode body, string where)
    {
        if (!body.Children.TryGetValue(new YamlScalarNode("do"), out var doNode) || doNode is not YamlMappingNode template)
            throw new InvalidParameterValueException($"{where}: 'foreach' needs a 'do' mapping with the stage template");
        var items = body.Children[new YamlScalarNode("foreach")];
        switch (items)
        {
            case YamlSequenceNode seq:
                for (int i = 0; i < seq.Children.Count; i++)
                {
                    var item = seq.Children[i];
                    string suffix = item is YamlScalarNode s ? s.Value ?? i.ToString() : i.ToString();
                    var vars = ItemVars(item);
                    vars["key"] = i.ToString();
                    yield return ParseStage($"{name}@{suffix}", template, $"{where}@{suffix}", vars);
                }
                break;
            case YamlMappingNode map:
                foreach (var (k, item) in map.Children)
                {
                    string key = Scalar(k);
                    var vars = ItemVars(item);
                    vars["key"] = key;
                    yield return ParseStage($"{name}@{key}", template, $"{where}@{key}", vars);
                }
                break;
            default:
                throw new InvalidParameterValueException($"{where}: 'foreach' must be a list or a mapping");
        }
    }

    private static IEnumerable<StageDefinition> ExpandMatrix(string name, YamlMappingNode body, string where)
    {
        if (body.Children[new YamlScalarNode("matrix")] is not YamlMappingNode matrix || matrix.Children.Count == 0)
            throw new InvalidParameterValueException($"{where}: 'matrix' must be a mapping of name to list of values");
        var axes = new List<(string Name, List<string> Values)>();
        foreach (var (k, v) in matrix.Children)
        {
            if (v is not YamlSequenceNode seq || seq.Children.Count == 0 || seq.Children.Any(c => c is not YamlScalarNode))
                throw new InvalidParameterValueException($"{where}: matrix.{Scalar(k)} must be a non-empty list of values");
            axes.Add((Scalar(k), seq.Children.Select(Scalar).ToList()));
        }
        var template = new YamlMappingNode(body.Children.Where(c => Scalar(c.Key) != "matrix"));
        IEnumerable<List<string>> combos = [[]];
        foreach (var axis in axes) combos = combos.SelectMany(c => axis.Values.Select(v => new List<string>(c) { v })).ToList();
        foreach (var combo in combos)
        {
            var vars = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < axes.Count; i++) vars["item." + axes[i].Name] = combo[i];
            string suffix = string.Join('-', combo);
            yield return ParseStage($"{name}@{suffix}", template, $"{where}@{suffix}", vars);
        }
    }

    private static Dictionary<string, string> ItemVars(YamlNode item)
    {
        var vars = new Dictionary<string, string>(StringComparer.Ordinal);
        if (item is YamlMappingNode m)
        {
            foreach (var (k, v) in m.Children) vars["item." + Scalar(k)] = ParamsFile.Render(v);
        }
        vars["item"] = ParamsFile.Render(item);
        return vars;
    }

    private static StageDefinition ParseStage(string name, YamlMappingNode body, string where, Dictionary<string, string>? vars)
    {
        string Sub(string text, string field)
        {
            if (!text.Contains("${", StringComparison.Ordinal)) return text;
            return VariableRegex().Replace(text, m =>
                vars is not null && vars.TryGetValue(m.Groups[1].Value, out var v) ? v
                : throw new InvalidParameterValueException($"{where}.{field}: unknown variable '${{{m.Groups[1].Value}}}' (available: {(vars is null ? "none outside foreach/matrix" : string.Join(", ", vars.Keys.Select(k => "${" + k + "}")))})"));
        }

        string cmd = body.Children.TryGetValue(new YamlScalarNode("cmd"), out var cmdNode) ? cmdNode switch
        {
            YamlScalarNode s when !string.IsNullOrWhiteSpace(s.Value) => Sub(s.Value!, "cmd"),
            YamlSequenceNode seq when seq.Children.Count > 0 => string.Join(" && ", seq.Children.Select(c => Sub(Scalar(c), "cmd"))),
            _ => throw new InvalidParameterValueException($"{where}.cmd: must be a non-empty command or list of commands"),
        } : throw new InvalidParameterValueException($"{where}: field 'cmd' is required");

        var deps = StringList(body, "deps", where).Select(d => RelPath.Normalize(Sub(d, "deps"), $"{where}.deps")).ToList();
        var dupDep = deps.GroupBy(d => d).FirstOrDefault(g => g.Count() > 1);
        if (dupDep is not null) throw new InvalidParameterValueException($"{where}.deps: '{dupDep.Key}' is listed twice");

        var ps = new List<ParamRef>();
        if (body.Children.TryGetValue(new YamlScalarNode("params"), out var pn))
        {
            if (pn is not YamlSequenceNode pseq) throw new InvalidParameterValueException($"{where}.params: must be a list of keys or of {{file: [keys]}}");
            foreach (var p in pseq.Children)
            {
                if (p is YamlScalarNode s) ps.Add(new ParamRef(DefaultParamsFile, Sub(Scalar(s), "params")));
                else if (p is YamlMappingNode fm)
                {
                    foreach (var (fk, fv) in fm.Children)
                    {
                        string file = RelPath.Normalize(Scalar(fk), $"{where}.params");
                        if (fv is not YamlSequenceNode keys) throw new InvalidParameterValueException($"{where}.params.{file}: must be a list of keys");
                        ps.AddRange(keys.Children.Select(k => new ParamRef(file, Sub(Scalar(k), "params"))));
                    }
                }
                else throw new InvalidParameterValueException($"{where}.params: entries must be keys or {{file: [keys]}}");
            }
        }

        var outputs = new List<OutputSpec>();
        outputs.AddRange(Outputs(body, "outs", OutputKind.Out, defaultCache: true, where, Sub));
        outputs.AddRange(Outputs(body, "metrics", OutputKind.Metric, defaultCache: false, where, Sub));
        outputs.AddRange(Outputs(body, "plots", OutputKind.Plot, defaultCache: false, where, Sub));
        return new StageDefinition(name, cmd, deps, ps, outputs);
    }

    private static IEnumerable<OutputSpec> Outputs(YamlMappingNode body, string field, OutputKind kind, bool defaultCache, string where,
        Func<string, string, string> sub)
    {
        if (!body.Children.TryGetValue(new YamlScalarNode(field), out var node)) yield break;
        if (node is not YamlSequenceNode seq) throw new InvalidParameterValueException($"{where}.{field}: must be a list of paths");
        foreach (var entry in seq.Children)
        {
            if (entry is YamlScalarNode s)
            {
                yield return new OutputSpec(RelPath.Normalize(sub(Scalar(s), field), $"{where}.{field}"), defaultCache, false, kind);
            }
            else if (entry is YamlMappingNode m && m.Children.Count == 1)
            {
                var (k, v) = m.Children.First();
                string path = RelPath.Normalize(sub(Scalar(k), field), $"{where}.{field}");
                bool cache = defaultCache, persist = false;
                if (v is YamlMappingNode opts)
                {
                    foreach (var (ok, ov) in opts.Children)
                    {
                        string o = Scalar(ok);
                        bool val = Scalar(ov) switch
                        {
                            "true" => true,
                            "false" => false,
                            var x => throw new InvalidParameterValueException($"{where}.{field}.{path}.{o}: must be true or false, not '{x}'"),
                        };
                        if (o == "cache") cache = val;
                        else if (o == "persist") persist = val;
                        else if (kind != OutputKind.Plot || o is not ("x" or "y" or "title")) throw new InvalidParameterValueException($"{where}.{field}.{path}: unknown option '{o}' (allowed: cache, persist)");
                    }
                }
                yield return new OutputSpec(path, cache, persist, kind);
            }
            else throw new InvalidParameterValueException($"{where}.{field}: entries must be paths or 'path: {{cache: false}}'");
        }
    }

    private static List<string> StringList(YamlMappingNode body, string field, string where)
    {
        if (!body.Children.TryGetValue(new YamlScalarNode(field), out var node)) return [];
        if (node is not YamlSequenceNode seq || seq.Children.Any(c => c is not YamlScalarNode))
            throw new InvalidParameterValueException($"{where}.{field}: must be a list of paths");
        return seq.Children.Select(Scalar).ToList();
    }

    private static bool Has(YamlMappingNode m, string key) => m.Children.ContainsKey(new YamlScalarNode(key));

    private static string Scalar(YamlNode n) => n is YamlScalarNode s ? s.Value ?? "" : throw new InvalidParameterValueException($"expected a plain value at line {n.Start.Line}");
}
