using System.Globalization;
using System.Text;
using YamlDotNet.RepresentationModel;

namespace Cairn.Data;

/// <summary>Whether a tracked path is a file or a directory.</summary>
public enum EntryKind
{
    /// <summary>A single file.</summary>
    File,
    /// <summary>A directory stored as a manifest of its files.</summary>
    Dir,
}

/// <summary>
/// The content of a pointer file (<c>data/raw.cairn</c>): what to commit to git in place of the data.
/// </summary>
/// <param name="Path">Path of the data relative to the pointer file's folder ('/' separated).</param>
/// <param name="Kind">File or directory.</param>
/// <param name="Digest">SHA-256 of the file, or of the directory's manifest.</param>
/// <param name="Size">Total size in bytes.</param>
/// <param name="Files">Number of files (directories only).</param>
/// <param name="Dataset">Dataset name when registered with <c>--name</c>.</param>
public sealed record DataPointer(string Path, EntryKind Kind, string Digest, long Size, int? Files = null, string? Dataset = null)
{
    /// <summary>The file name suffix of pointer files.</summary>
    public const string Extension = ".cairn";

    /// <summary>Canonical, diff-friendly YAML.</summary>
    public string ToYaml()
    {
        var sb = new StringBuilder();
        sb.Append("# Cairn data pointer: commit this file; 'cairn data checkout' or 'cairn data pull' restores the data.\n");
        sb.Append("path: ").Append(Quote(Path)).Append('\n');
        sb.Append("type: ").Append(Kind == EntryKind.Dir ? "dir" : "file").Append('\n');
        sb.Append("hash: ").Append(ContentHasher.Algorithm).Append('\n');
        sb.Append("digest: ").Append(Digest).Append('\n');
        sb.Append("size: ").Append(Size.ToString(CultureInfo.InvariantCulture)).Append('\n');
        if (Files is int n) sb.Append("files: ").Append(n.ToString(CultureInfo.InvariantCulture)).Append('\n');
        if (Dataset is not null) sb.Append("dataset: ").Append(Quote(Dataset)).Append('\n');
        return sb.ToString();
    }

    /// <summary>Reads a pointer file; errors name the file and the field.</summary>
    public static DataPointer Load(string file)
    {
        string text;
        try { text = File.ReadAllText(file); }
        catch (FileNotFoundException) { throw new ResourceDoesNotExistException($"{file}: pointer file not found"); }
        return Parse(text, file);
    }

    /// <summary>Parses pointer YAML; <paramref name="source"/> names it in errors.</summary>
    public static DataPointer Parse(string text, string source)
    {
        // Pointer files are written by Cairn as flat "key: value" lines; read those without a YAML
        // parser (its start-up costs more than a whole 'cairn data status'), anything else with YamlDotNet.
        var map = TryParseFlat(text) ?? YamlHelper.LoadMapping(text, source);
        string Field(string name)
        {
            if (!map.TryGetValue(name, out var v) || string.IsNullOrEmpty(v))
                throw new InvalidParameterValueException($"{source}: field '{name}' is required");
            return v;
        }
        string path = Field("path");
        string type = Field("type");
        if (type is not ("file" or "dir")) throw new InvalidParameterValueException($"{source}: field 'type' must be 'file' or 'dir', not '{type}'");
        if (map.TryGetValue("hash", out var hash) && hash != ContentHasher.Algorithm)
            throw new InvalidParameterValueException($"{source}: field 'hash' must be '{ContentHasher.Algorithm}', not '{hash}'");
        string digest = Field("digest");
        if (!ContentHasher.IsValidDigest(digest)) throw new InvalidParameterValueException($"{source}: field 'digest' must be 64 lowercase hex characters");
        if (!long.TryParse(Field("size"), NumberStyles.None, CultureInfo.InvariantCulture, out long size))
            throw new InvalidParameterValueException($"{source}: field 'size' must be a non-negative integer");
        int? files = null;
        if (map.TryGetValue("files", out var f))
        {
            if (!int.TryParse(f, NumberStyles.None, CultureInfo.InvariantCulture, out int nf))
                throw new InvalidParameterValueException($"{source}: field 'files' must be a non-negative integer");
            files = nf;
        }
        SafePath.Check(path, source, "field 'path'");
        map.TryGetValue("dataset", out var ds);
        return new DataPointer(path, type == "dir" ? EntryKind.Dir : EntryKind.File, digest, size, files, string.IsNullOrEmpty(ds) ? null : ds);
    }

    private static Dictionary<string, string>? TryParseFlat(string text)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#') continue;
            int colon = line.IndexOf(": ", StringComparison.Ordinal);
            if (colon <= 0 || !line.AsSpan(0, colon).ContainsOnlyAsciiLettersOrDigitsOrUnderscore()) return null;
            string value = line[(colon + 2)..];
            if (value.Length >= 2 && value[0] == '\'' && value[^1] == '\'')
            {
                string inner = value[1..^1];
                if (inner.Replace("''", "").Contains('\'')) return null;
                value = inner.Replace("''", "'");
            }
            else if (value.Length == 0 || value[0] is '"' or '\'' or '[' or '{' or '&' or '*' or '!' or '|' or '>' or '%' or '@' or '`'
                     || value.Contains(" #", StringComparison.Ordinal) || value != value.Trim())
            {
                return null;
            }
            if (!map.TryAdd(line[..colon], value)) return null;
        }
        return map;
    }

    private static string Quote(string s)
        => s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or '/') && !s.StartsWith('-') ? s
           : "'" + s.Replace("'", "''") + "'";
}

internal static class YamlHelper
{
    /// <summary>Loads a flat YAML mapping of scalars.</summary>
    public static Dictionary<string, string> LoadMapping(string text, string source)
    {
        var root = LoadRoot(text, source);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (root is null) return result;
        if (root is not YamlMappingNode m) throw new InvalidParameterValueException($"{source}: expected a YAML mapping at the top level");
        foreach (var (k, v) in m.Children)
        {
            if (v is YamlScalarNode s) result[((YamlScalarNode)k).Value ?? ""] = s.Value ?? "";
        }
        return result;
    }

    public static YamlNode? LoadRoot(string text, string source)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new InvalidParameterValueException($"{source}: line {e.Start.Line}: invalid YAML: {e.Message}");
        }
        return stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode;
    }
}

internal static class SpanChecks
{
    public static bool ContainsOnlyAsciiLettersOrDigitsOrUnderscore(this ReadOnlySpan<char> s)
    {
        foreach (var c in s) if (!char.IsAsciiLetterOrDigit(c) && c != '_') return false;
        return true;
    }
}
