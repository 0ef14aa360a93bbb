using System.Text;
using Cairn.Data;
using YamlDotNet.RepresentationModel;

namespace Cairn.Pipelines;

/// <summary>
/// A parameters file (<c>params.yaml</c>) flattened to dotted keys. Scalar values keep their YAML text;
/// a key naming a section gets a canonical one-line rendering of the whole section.
/// </summary>
public sealed class ParamsFile
{
    private readonly Dictionary<string, string> _values;

    private ParamsFile(string source, Dictionary<string, string> values)
    {
        Source = source;
        _values = values;
    }

    /// <summary>Where the values came from (file path or git revision).</summary>
    public string Source { get; }

    /// <summary>All keys, leaves and sections alike.</summary>
    public IReadOnlyDictionary<string, string> Values => _values;

    /// <summary>Leaf keys only (no sections), sorted.</summary>
    public IEnumerable<KeyValuePair<string, string>> Leaves => _values.Where(kv => !kv.Value.StartsWith('{')).OrderBy(kv => kv.Key, StringComparer.Ordinal);

    /// <summary>Loads a params file; a missing file gives no values.</summary>
    public static ParamsFile Load(string path, string displayName)
        => File.Exists(path) ? Parse(File.ReadAllText(path), displayName) : new ParamsFile(displayName, new(StringComparer.Ordinal));

    /// <summary>Parses params YAML.</summary>
    public static ParamsFile Parse(string yaml, string source)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var root = YamlHelper.LoadRoot(yaml, source);
        if (root is YamlMappingNode m) Flatten(m, "", values);
        else if (root is not null) throw new InvalidParameterValueException($"{source}: params must be a YAML mapping at the top level");
        return new ParamsFile(source, values);
    }

    /// <summary>The value of a dotted key, or null.</summary>
    public string? Find(string key) => _values.GetValueOrDefault(key);

    private static void Flatten(YamlMappingNode map, string prefix, Dictionary<string, string> values)
    {
        foreach (var (k, v) in map.Children)
        {
            string key = prefix + ((YamlScalarNode)k).Value;
            values[key] = Render(v);
            if (v is YamlMappingNode child) Flatten(child, key + ".", values);
        }
    }

    /// <summary>Canonical text of a YAML node: scalars as written, collections as compact JSON-like text.</summary>
    internal static string Render(YamlNode node)
    {
        var sb = new StringBuilder();
        Write(node, sb);
        return sb.ToString();

        static void Write(YamlNode n, StringBuilder sb)
        {
            switch (n)
            {
                case YamlScalarNode s: sb.Append(s.Value); break;
                case YamlSequenceNode seq:
                    sb.Append('[');
                    for (int i = 0; i < seq.Children.Count; i++) { if (i > 0) sb.Append(", "); Write(seq.Children[i], sb); }
                    sb.Append(']');
                    break;
                case YamlMappingNode map:
                    sb.Append('{');
                    bool first = true;
                    foreach (var (k, v) in map.Children.OrderBy(c => ((YamlScalarNode)c.Key).Value, StringComparer.Ordinal))
                    {
                        if (!first) sb.Append(", ");
                        first = false;
                        sb.Append(((YamlScalarNode)k).Value).Append(": ");
                        Write(v, sb);
                    }
                    sb.Append('}');
                    break;
            }
        }
    }

    /// <summary>
    /// Returns params YAML with <paramref name="overrides"/> (dotted key → value) applied; every key must
    /// already exist unless <paramref name="allowNew"/>. Comments are not kept.
    /// </summary>
    public static string ApplyOverrides(string yaml, string source, IReadOnlyDictionary<string, string> overrides, bool allowNew = false)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml.Length == 0 ? "{}" : yaml));
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new InvalidParameterValueException($"{source}: params must be a YAML mapping at the top level");
        foreach (var (key, value) in overrides)
        {
            var parts = key.Split('.');
            var map = root;
            for (int i = 0; i < parts.Length; i++)
            {
                var k = new YamlScalarNode(parts[i]);
                bool last = i == parts.Length - 1;
                if (!map.Children.TryGetValue(k, out var child))
                {
                    if (!allowNew) throw new InvalidParameterValueException($"--set-param {key}: {source} has no key '{key}' (known keys: {string.Join(", ", Parse(yaml, source).Leaves.Select(l => l.Key).Take(12))})");
                    child = last ? new YamlScalarNode(value) : new YamlMappingNode();
                    map.Children[k] = child;
                }
                if (last)
                {
                    if (child is not YamlScalarNode) throw new InvalidParameterValueException($"--set-param {key}: '{key}' is a section in {source}, not a single value");
                    map.Children[k] = new YamlScalarNode(value);
                }
                else if (child is YamlMappingNode next) map = next;
                else throw new InvalidParameterValueException($"--set-param {key}: '{string.Join('.', parts[..(i + 1)])}' is a value in {source}, not a section");
            }
        }
        var sw = new StringWriter();
        stream.Save(sw, assignAnchors: false);
        string text = sw.ToString();
        return text.EndsWith("...\n", StringComparison.Ordinal) ? text[..^4] : text;
    }
}
