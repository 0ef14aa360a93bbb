using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cairn.Data;

/// <summary>A column of a tabular dataset's schema, with its profile.</summary>
/// <param name="Name">Column name from the CSV header.</param>
/// <param name="Type">Inferred type: long, double, bool or string.</param>
/// <param name="Count">Non-empty values.</param>
/// <param name="Missing">Empty values.</param>
/// <param name="Distinct">Distinct values (capped at 10,000 tracked values).</param>
/// <param name="Min">Minimum of numeric columns.</param>
/// <param name="Max">Maximum of numeric columns.</param>
/// <param name="Mean">Mean of numeric columns.</param>
public sealed record ColumnProfile(string Name, string Type, long Count, long Missing, long Distinct, double? Min, double? Max, double? Mean);

/// <summary>
/// A dataset as the tracking side logs it (MLflow's dataset input: name, digest, source, schema, profile).
/// Produced by <c>cairn data add --name</c>; a run logs it as an input so a model's lineage names the exact data digest.
/// </summary>
/// <param name="Name">Dataset name.</param>
/// <param name="Digest">SHA-256 of the file, or of the directory manifest.</param>
/// <param name="Path">Repository-relative path.</param>
/// <param name="Source">Where the data came from (URL or description); the path when not given.</param>
/// <param name="SourceType">"local" or the scheme of <paramref name="Source"/>.</param>
/// <param name="Size">Total bytes.</param>
/// <param name="Files">Number of files.</param>
/// <param name="Rows">Rows of a CSV file (without header).</param>
/// <param name="Schema">Columns of a CSV file with their profile; null for other data.</param>
/// <param name="CreatedUtc">When the record was made.</param>
public sealed record DatasetRecord(string Name, string Digest, string Path, string Source, string SourceType, long Size, int Files,
    long? Rows, IReadOnlyList<ColumnProfile>? Schema, DateTimeOffset CreatedUtc)
{
    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Writes the record to <c>folder/&lt;name&gt;.json</c>.</summary>
    public static void Save(DatasetRecord record, string folder)
    {
        Directory.CreateDirectory(folder);
        AtomicFile.WriteAllText(System.IO.Path.Combine(folder, record.Name + ".json"), JsonSerializer.Serialize(record, Json));
    }

    /// <summary>Reads every record in <paramref name="folder"/>.</summary>
    public static IReadOnlyList<DatasetRecord> LoadAll(string folder)
        => !Directory.Exists(folder) ? []
           : Directory.EnumerateFiles(folder, "*.json").Order(StringComparer.Ordinal)
               .Select(f => JsonSerializer.Deserialize<DatasetRecord>(File.ReadAllText(f), Json)
                            ?? throw new InvalidStateException($"{f}: empty dataset record")).ToList();
}

/// <summary>Builds <see cref="DatasetRecord"/>s, with a schema and profile for CSV files.</summary>
public static class DatasetProfiler
{
    /// <summary>Describes tracked data; CSV files are profiled in one streaming pass.</summary>
    public static async Task<DatasetRecord> DescribeAsync(string name, string rel, string full, DataPointer pointer, string? source,
        CancellationToken cancellationToken = default)
    {
        long? rows = null;
        IReadOnlyList<ColumnProfile>? schema = null;
        if (pointer.Kind == EntryKind.File && full.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
        {
            (rows, schema) = await ProfileCsvAsync(full, cancellationToken).ConfigureAwait(false);
        }
        string src = source ?? rel;
        int colon = src.IndexOf("://", StringComparison.Ordinal);
        return new DatasetRecord(name, pointer.Digest, rel, src, colon > 0 ? src[..colon] : "local", pointer.Size, pointer.Files ?? 1,
            rows, schema, DateTimeOffset.UtcNow);
    }

    /// <summary>Profiles a CSV file with a header row (comma-separated, double-quoted fields).</summary>
    public static async Task<(long Rows, IReadOnlyList<ColumnProfile> Columns)> ProfileCsvAsync(string path, CancellationToken cancellationToken = default)
    {
        using var reader = new StreamReader(path);
        string? header = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        if (header is null) return (0, []);
        var names = SplitCsv(header);
        var acc = names.Select(_ => new Acc()).ToArray();
        long rows = 0;
        string? line;
        while ((line = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false)) is not null)
        {
            if (line.Length == 0) continue;
            rows++;
            var fields = SplitCsv(line);
            for (int i = 0; i < acc.Length; i++) acc[i].Add(i < fields.Count ? fields[i] : "");
        }
        return (rows, names.Select((n, i) => acc[i].ToProfile(n)).ToList());
    }

    private sealed class Acc
    {
        public long Count, Missing;
        public bool AllLong = true, AllDouble = true, AllBool = true;
        public double Min = double.PositiveInfinity, Max = double.NegativeInfinity, Sum;
        public HashSet<string> Distinct = new(StringComparer.Ordinal);

        public void Add(string v)
        {
            if (v.Length == 0) { Missing++; return; }
            Count++;
            if (Distinct.Count < 10_000) Distinct.Add(v);
            AllLong &= long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out _);
            AllBool &= bool.TryParse(v, out _);
            if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d))
            {
                Min = Math.Min(Min, d); Max = Math.Max(Max, d); Sum += d;
            }
            else AllDouble = false;
        }

        public ColumnProfile ToProfile(string name)
        {
            string type = Count == 0 ? "string" : AllLong ? "long" : AllDouble ? "double" : AllBool ? "bool" : "string";
            bool numeric = type is "long" or "double";
            return new ColumnProfile(name, type, Count, Missing, Distinct.Count,
                numeric ? Min : null, numeric ? Max : null, numeric ? Sum / Count : null);
        }
    }

    internal static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var sb = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else sb.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(sb.ToString()); sb.Clear(); }
            else sb.Append(c);
        }
        fields.Add(sb.ToString());
        return fields;
    }
}
