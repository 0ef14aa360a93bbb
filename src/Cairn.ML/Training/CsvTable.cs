using System.Globalization;
using System.Text;

namespace Cairn.ML.Training;

/// <summary>A data file (CSV, or Parquet through <see cref="ParquetTable"/>) read into memory as text columns; empty fields are null.</summary>
public sealed class CsvTable
{
    private CsvTable(string path, IReadOnlyList<string> names, string?[][] columns)
    {
        Path = path;
        Names = names;
        Columns = columns;
    }

    public string Path { get; }

    public IReadOnlyList<string> Names { get; }

    /// <summary>One array per column, one element per row.</summary>
    public string?[][] Columns { get; }

    public int RowCount => Columns.Length == 0 ? 0 : Columns[0].Length;

    public int IndexOf(string name)
    {
        for (var i = 0; i < Names.Count; i++) if (Names[i] == name) return i;
        return -1;
    }

    public string?[] this[string name] => IndexOf(name) is var i and >= 0 ? Columns[i]
        : throw new InvalidParameterValueException($"{Path}: no column '{name}' (columns: {string.Join(", ", Names)}).");

    /// <summary>A table from columns read elsewhere (a Parquet file); every column holds the same number of rows.</summary>
    internal static CsvTable FromColumns(string path, IReadOnlyList<string> names, string?[][] columns) => new(path, names, columns);

    /// <summary>Reads a data file by its extension: <c>.parquet</c> with <see cref="ParquetTable"/>, anything else as CSV.</summary>
    public static CsvTable ReadAny(string path) =>
        path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) ? ParquetTable.Read(path) : Read(path);

    /// <summary>Reads <paramref name="path"/> (RFC 4180: quoted fields may hold commas, quotes and newlines). Errors name the file and line.</summary>
    public static CsvTable Read(string path)
    {
        if (!File.Exists(path)) throw new ResourceDoesNotExistException($"Data file '{path}' does not exist.");
        using var reader = new StreamReader(path, Encoding.UTF8);
        var header = ReadRecord(reader, path, 1);
        if (header is null || header.Count == 0 || header is [null or ""])
            throw new InvalidParameterValueException($"{path}: the file is empty; expected a header row and data rows.");
        var names = header.Select((h, i) => (h ?? "").Trim() is { Length: > 0 } n ? n : throw new InvalidParameterValueException($"{path}: column {i + 1} of the header has no name.")).ToList();
        if (names.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1) is { } duplicate)
            throw new InvalidParameterValueException($"{path}: the header names column '{duplicate.Key}' twice.");
        var rows = new List<List<string?>>();
        var line = 1;
        while (ReadRecord(reader, path, ++line) is { } record)
        {
            if (record is [null]) continue; // blank line
            if (record.Count != names.Count)
                throw new InvalidParameterValueException($"{path}: line {line} has {record.Count} fields but the header has {names.Count}.");
            rows.Add(record);
        }
        if (rows.Count == 0) throw new InvalidParameterValueException($"{path}: the file has a header but no data rows.");
        var columns = new string?[names.Count][];
        for (var c = 0; c < names.Count; c++)
        {
            columns[c] = new string?[rows.Count];
            for (var r = 0; r < rows.Count; r++) columns[c][r] = rows[r][c];
        }
        return new CsvTable(path, names, columns);
    }

    /// <summary>Whether every non-empty value parses as a number (invariant culture).</summary>
    public static bool IsNumeric(string?[] column) =>
        column.Any(v => v is not null) && column.All(v => v is null || TryNumber(v, out _));

    public static bool TryNumber(string value, out double number) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out number);

    private static List<string?>? ReadRecord(StreamReader reader, string path, int line)
    {
        if (reader.Peek() < 0) return null;
        var fields = new List<string?>();
        var field = new StringBuilder();
        var quoted = false;
        var wasQuoted = false;
        while (true)
        {
            var next = reader.Read();
            if (quoted)
            {
                if (next < 0) throw new InvalidParameterValueException($"{path}: line {line} has a quoted field that is never closed.");
                if (next == '"')
                {
                    if (reader.Peek() == '"') { reader.Read(); field.Append('"'); }
                    else quoted = false;
                }
                else field.Append((char)next);
                continue;
            }
            if (next == '"' && field.Length == 0) { quoted = true; wasQuoted = true; continue; }
            if (next is ',' or '\n' or '\r' or -1)
            {
                fields.Add(field.Length == 0 && !wasQuoted ? null : wasQuoted ? field.ToString() : field.ToString().Trim() is { Length: > 0 } t ? t : null);
                field.Clear();
                wasQuoted = false;
                if (next == ',') continue;
                if (next == '\r' && reader.Peek() == '\n') reader.Read();
                return fields;
            }
            field.Append((char)next);
        }
    }
}
