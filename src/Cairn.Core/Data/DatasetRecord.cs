using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cairn.Data;

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

    /// <summary>
    /// Profiles a CSV file with a header row in one streaming pass through <see cref="CsvReader"/> (any file size: quantiles
    /// and histograms come from a bounded sample, see <see cref="ColumnProfiler"/>).
    /// </summary>
    public static Task<(long Rows, IReadOnlyList<ColumnProfile> Columns)> ProfileCsvAsync(string path, CancellationToken cancellationToken = default) =>
        Task.Run(() => ProfileCsv(path, cancellationToken), cancellationToken);

    private static (long Rows, IReadOnlyList<ColumnProfile> Columns) ProfileCsv(string path, CancellationToken cancellationToken)
    {
        using var reader = CsvReader.Open(path);
        if (!reader.Read()) return (0, []);
        var names = reader.Record().Select(n => n ?? "").ToArray();
        var columns = names.Select(_ => new ColumnProfiler()).ToArray();
        long rows = 0;
        while (reader.Read())
        {
            if ((++rows & 0xFFFF) == 0) cancellationToken.ThrowIfCancellationRequested();
            // A short record's missing fields are empty values; extra fields have no column to go to.
            for (int i = 0; i < columns.Length; i++) columns[i].Add(i < reader.FieldCount ? reader.Field(i) : default);
        }
        return (rows, names.Select((n, i) => columns[i].ToProfile(n)).ToList());
    }
}
