using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Cairn.Data;
using YamlDotNet.RepresentationModel;

namespace Cairn.Pipelines;

/// <summary>A dep or out as recorded in the lock file.</summary>
/// <param name="Path">Repository-relative path.</param>
/// <param name="Kind">File or folder.</param>
/// <param name="Digest">SHA-256 of the file or of the folder manifest.</param>
/// <param name="Size">Bytes.</param>
/// <param name="Files">Number of files (folders only).</param>
public sealed record LockedPath(string Path, EntryKind Kind, string Digest, long Size, int? Files = null);

/// <summary>What a stage ran with and produced the last time it succeeded.</summary>
/// <param name="Cmd">The command.</param>
/// <param name="Deps">Deps with their digests.</param>
/// <param name="Params">Params by file, then key → value.</param>
/// <param name="Outs">Outs, metrics and plots with their digests.</param>
public sealed record StageLock(string Cmd, IReadOnlyList<LockedPath> Deps,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Params, IReadOnlyList<LockedPath> Outs);

/// <summary>
/// <c>cairn.lock</c>: per stage, the hash of every dep, param and out. Written atomically after every
/// successful stage, so a failed run leaves the entries of the stages that did succeed.
/// </summary>
public sealed partial class LockFile
{
    /// <summary>The lock file name at the repository root.</summary>
    public const string FileName = "cairn.lock";

    /// <summary>Stage locks by name.</summary>
    public Dictionary<string, StageLock> Stages { get; } = new(StringComparer.Ordinal);

    [GeneratedRegex(@"^[A-Za-z0-9_./@+\-][A-Za-z0-9_./@+\- ]*$")]
    private static partial Regex PlainRegex();

    /// <summary>Loads a lock file; a missing file is empty.</summary>
    public static LockFile Load(string path, string displayName = FileName)
        => File.Exists(path) ? Parse(File.ReadAllText(path), displayName) : new LockFile();

    /// <summary>Parses lock YAML; errors name the file and the field.</summary>
    public static LockFile Parse(string yaml, string source)
    {
        var lf = new LockFile();
        var root = YamlHelper.LoadRoot(yaml, source);
        if (root is null) return lf;
        if (root is not YamlMappingNode top) throw new InvalidParameterValueException($"{source}: expected a mapping");
        if (!top.Children.TryGetValue(new YamlScalarNode("stages"), out var sn) || sn is not YamlMappingNode stages) return lf;
        foreach (var (k, v) in stages.Children)
        {
            string name = ((YamlScalarNode)k).Value ?? "";
            string where = $"{source}: stages.{name}";
            if (v is not YamlMappingNode m) throw new InvalidParameterValueException($"{where}: must be a mapping");
            string cmd = m.Children.TryGetValue(new YamlScalarNode("cmd"), out var c) && c is YamlScalarNode cs ? cs.Value ?? "" : "";
            var ps = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
            if (m.Children.TryGetValue(new YamlScalarNode("params"), out var pn) && pn is YamlMappingNode pm)
            {
                foreach (var (fk, fv) in pm.Children)
                {
                    var values = new Dictionary<string, string>(StringComparer.Ordinal);
                    if (fv is YamlMappingNode vm) foreach (var (pk, pv) in vm.Children) values[((YamlScalarNode)pk).Value ?? ""] = ((YamlScalarNode)pv).Value ?? "";
                    ps[((YamlScalarNode)fk).Value ?? ""] = values;
                }
            }
            lf.Stages[name] = new StageLock(cmd, Paths(m, "deps", where), ps, Paths(m, "outs", where));
        }
        return lf;
    }

    private static List<LockedPath> Paths(YamlMappingNode m, string field, string where)
    {
        var list = new List<LockedPath>();
        if (!m.Children.TryGetValue(new YamlScalarNode(field), out var n)) return list;
        if (n is not YamlSequenceNode seq) throw new InvalidParameterValueException($"{where}.{field}: must be a list");
        foreach (var e in seq.Children.OfType<YamlMappingNode>())
        {
            string Get(string key) => e.Children.TryGetValue(new YamlScalarNode(key), out var x) && x is YamlScalarNode s ? s.Value ?? "" : "";
            string path = SafePath.Check(Get("path"), where, $"{field} path");
            string digest = Get("digest");
            if (!ContentHasher.IsValidDigest(digest)) throw new InvalidParameterValueException($"{where}.{field}: '{path}' has no valid digest (64 lowercase hex characters)");
            list.Add(new LockedPath(path, Get("type") == "dir" ? EntryKind.Dir : EntryKind.File, digest,
                long.TryParse(Get("size"), CultureInfo.InvariantCulture, out long size) ? size : 0,
                int.TryParse(Get("files"), CultureInfo.InvariantCulture, out int files) ? files : null));
        }
        return list;
    }

    /// <summary>Canonical, diff-friendly YAML (stages in the given order, others sorted).</summary>
    public string ToYaml(IEnumerable<string>? order = null)
    {
        var names = (order ?? []).Where(Stages.ContainsKey).ToList();
        names.AddRange(Stages.Keys.Where(k => !names.Contains(k)).Order(StringComparer.Ordinal));
        var sb = new StringBuilder("# Cairn lock file: the hash of every dep, param and out of each stage. Commit it with cairn.yaml.\nschema: 1\nstages:\n");
        foreach (var name in names)
        {
            var s = Stages[name];
            sb.Append("  ").Append(Q(name)).Append(":\n");
            sb.Append("    cmd: ").Append(Value(s.Cmd, 4)).Append('\n');
            WritePaths(sb, "deps", s.Deps);
            if (s.Params.Count > 0)
            {
                sb.Append("    params:\n");
                foreach (var (file, values) in s.Params.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    sb.Append("      ").Append(Q(file)).Append(":\n");
                    foreach (var (k, v) in values.OrderBy(p => p.Key, StringComparer.Ordinal)) sb.Append("        ").Append(Q(k)).Append(": ").Append(Value(v, 8)).Append('\n');
                }
            }
            WritePaths(sb, "outs", s.Outs);
        }
        return sb.ToString();
    }

    private static void WritePaths(StringBuilder sb, string field, IReadOnlyList<LockedPath> paths)
    {
        if (paths.Count == 0) return;
        sb.Append("    ").Append(field).Append(":\n");
        foreach (var p in paths)
        {
            sb.Append("    - path: ").Append(Q(p.Path)).Append('\n');
            sb.Append("      type: ").Append(p.Kind == EntryKind.Dir ? "dir" : "file").Append('\n');
            sb.Append("      digest: ").Append(p.Digest).Append('\n');
            sb.Append("      size: ").Append(p.Size.ToString(CultureInfo.InvariantCulture)).Append('\n');
            if (p.Files is int f) sb.Append("      files: ").Append(f.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
    }

    /// <summary>Writes the lock file atomically.</summary>
    public void Save(string path, IEnumerable<string>? order = null) => AtomicFile.WriteAllText(path, ToYaml(order));

    /// <summary>A key or one-line value: plain when safe, else single-quoted, else (line breaks, control characters) double-quoted.</summary>
    private static string Q(string s)
    {
        if (PlainRegex().IsMatch(s) && !s.EndsWith(' ') && !s.StartsWith('-')) return s;
        // A single-quoted scalar folds a line break into a space when read back (YAML 1.2, 7.3.2), which made a
        // multi-line cmd differ from cairn.yaml on every repro; such strings need another style.
        return s.Any(c => char.IsControl(c) && c != '\t') ? DoubleQuoted(s) : "'" + s.Replace("'", "''") + "'";
    }

    /// <summary>
    /// The value of a key indented by <paramref name="keyIndent"/> spaces: a multi-line string as a literal block scalar
    /// (<c>|</c>: read back byte for byte, and diff-friendly), anything else as <see cref="Q"/> writes it.
    /// </summary>
    private static string Value(string s, int keyIndent)
    {
        if (!s.Contains('\n')) return Q(s);
        return LiteralBlock(s, keyIndent) ?? DoubleQuoted(s);
    }

    /// <summary>The literal block form of <paramref name="s"/>, or null when that form would not read back as the same string.</summary>
    private static string? LiteralBlock(string s, int keyIndent)
    {
        // Carriage returns and other control characters are normalised or refused inside block scalars.
        if (s.Any(c => char.IsControl(c) && c is not '\n' and not '\t')) return null;
        string body = s.TrimEnd('\n');
        int trailing = s.Length - body.Length;
        // Chomping: '-' strips the final line break, none keeps one, '+' keeps them all.
        string chomp = trailing switch { 0 => "-", 1 => "", _ => "+" };
        // A first line starting with white space needs an explicit indentation indicator (relative to the key's mapping).
        string indicator = body.Length > 0 && body[0] is ' ' or '\t' ? "2" : "";
        string indent = new(' ', keyIndent + 2);
        var sb = new StringBuilder("|").Append(indicator).Append(chomp);
        foreach (var line in body.Split('\n')) sb.Append('\n').Append(line.Length == 0 ? "" : indent + line);
        for (int i = 1; i < trailing; i++) sb.Append('\n');
        string literal = sb.ToString();
        // Whitespace-only lines and similar edges have subtle rules: use the form only when it provably reads back.
        return ReadsBackAs(literal, keyIndent, s) ? literal : null;
    }

    /// <summary>Parses <paramref name="scalar"/> as the value of a key nested <paramref name="keyIndent"/> spaces deep, as in the file.</summary>
    private static bool ReadsBackAs(string scalar, int keyIndent, string expected)
    {
        var doc = new StringBuilder();
        for (int level = 0; level < keyIndent / 2; level++) doc.Append(' ', level * 2).Append("n:\n");
        doc.Append(' ', keyIndent).Append("k: ").Append(scalar).Append('\n');
        YamlNode? node;
        try
        {
            node = YamlHelper.LoadRoot(doc.ToString(), LockFile.FileName);
        }
        catch (InvalidParameterValueException)
        {
            return false;
        }
        for (int level = 0; level < keyIndent / 2; level++)
        {
            if (node is not YamlMappingNode m || !m.Children.TryGetValue(new YamlScalarNode("n"), out node)) return false;
        }
        return node is YamlMappingNode last && last.Children.TryGetValue(new YamlScalarNode("k"), out var v) && v is YamlScalarNode sv && sv.Value == expected;
    }

    private static string DoubleQuoted(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (char.IsControl(c)) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}
