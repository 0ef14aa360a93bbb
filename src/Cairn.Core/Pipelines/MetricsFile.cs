using System.Globalization;
using System.Text.Json;
using Cairn.Data;
using YamlDotNet.RepresentationModel;

namespace Cairn.Pipelines;

/// <summary>Reads metrics files (JSON, YAML, or CSV whose last row holds the values) as flattened key → value.</summary>
public static class MetricsFile
{
    /// <summary>Reads a metrics file from disk; null when it does not exist.</summary>
    public static IReadOnlyDictionary<string, string>? Read(string path)
        => File.Exists(path) ? Parse(File.ReadAllText(path), path) : null;

    /// <summary>Parses metrics text; the format comes from the file extension of <paramref name="name"/>.</summary>
    public static IReadOnlyDictionary<string, string> Parse(string text, string name)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        string ext = Path.GetExtension(name).ToLowerInvariant();
        if (ext == ".json")
        {
            try
            {
                using var doc = JsonDocument.Parse(text);
                FlattenJson(doc.RootElement, "", result);
            }
            catch (JsonException e)
            {
                throw new InvalidParameterValueException($"{name}: invalid JSON metrics: {e.Message}");
            }
        }
        else if (ext is ".yaml" or ".yml")
        {
            foreach (var kv in ParamsFile.Parse(text, name).Leaves) result[kv.Key] = kv.Value;
        }
        else if (ext is ".csv" or ".tsv")
        {
            // The header names the metrics; the last record holds their values (quoted fields may hold separators).
            using var reader = CsvReader.OpenText(text, name, ext == ".tsv" ? '\t' : ',');
            if (reader.Read())
            {
                var head = reader.Record();
                string[]? last = null;
                while (reader.Read())
                {
                    last = new string[reader.FieldCount];
                    for (int i = 0; i < last.Length; i++) last[i] = reader.Field(i).ToString();
                }
                for (int i = 0; last is not null && i < head.Length && i < last.Length; i++) result[(head[i] ?? "").Trim()] = last[i];
            }
        }
        else
        {
            throw new InvalidParameterValueException($"{name}: metrics files must be .json, .yaml, .yml, .csv or .tsv");
        }
        return result;
    }

    /// <summary>Numeric metrics only.</summary>
    public static IReadOnlyDictionary<string, double> Numeric(IReadOnlyDictionary<string, string> values)
    {
        var d = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (k, v) in values)
        {
            if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double x)) d[k] = x;
        }
        return d;
    }

    private static void FlattenJson(JsonElement e, string prefix, IDictionary<string, string> result)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject()) FlattenJson(p.Value, prefix.Length == 0 ? p.Name : prefix + "." + p.Name, result);
                break;
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in e.EnumerateArray()) FlattenJson(item, prefix + "." + i++, result);
                break;
            case JsonValueKind.String:
                result[prefix] = e.GetString() ?? "";
                break;
            case JsonValueKind.Null:
                break;
            default:
                result[prefix] = e.GetRawText();
                break;
        }
    }
}
