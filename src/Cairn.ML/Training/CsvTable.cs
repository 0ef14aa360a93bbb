using System.Buffers;
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
        // One pass over the whole text: unquoted fields (nearly all of them) are found with a vectorized search for the
        // next delimiter, so reading costs little more than the strings it allocates.
        var text = File.ReadAllText(path, Encoding.UTF8);
        var position = 0;
        var line = 1;
        var fields = new List<string?>();
        if (!ReadRecord(text, ref position, ref line, fields, path) || fields.Count == 0 || fields is [null or ""])
            throw new InvalidParameterValueException($"{path}: the file is empty; expected a header row and data rows.");
        var names = fields.Select((h, i) => (h ?? "").Trim() is { Length: > 0 } n ? n : throw new InvalidParameterValueException($"{path}: column {i + 1} of the header has no name.")).ToList();
        if (names.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1) is { } duplicate)
            throw new InvalidParameterValueException($"{path}: the header names column '{duplicate.Key}' twice.");
        var estimate = Math.Max(16, text.Length / Math.Max(1, position));
        var columns = names.Select(_ => new List<string?>(estimate)).ToArray();
        while (true)
        {
            var start = line;
            if (!ReadRecord(text, ref position, ref line, fields, path)) break;
            if (fields is [null]) continue; // blank line
            if (fields.Count != names.Count)
                throw new InvalidParameterValueException($"{path}: line {start} has {fields.Count} fields but the header has {names.Count}.");
            for (var c = 0; c < fields.Count; c++) columns[c].Add(fields[c]);
        }
        if (columns[0].Count == 0) throw new InvalidParameterValueException($"{path}: the file has a header but no data rows.");
        return new CsvTable(path, names, columns.Select(c => c.ToArray()).ToArray());
    }

    /// <summary>Whether every non-empty value parses as a number (invariant culture).</summary>
    public static bool IsNumeric(string?[] column) =>
        column.Any(v => v is not null) && column.All(v => v is null || TryNumber(v, out _));

    public static bool TryNumber(string value, out double number) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out number);

    private static readonly SearchValues<char> Delimiters = SearchValues.Create(",\r\n");

    /// <summary>
    /// Reads the record at <paramref name="position"/> into <paramref name="fields"/> (cleared first); false at the end of the text.
    /// Unquoted fields are trimmed and empty ones are null; quoted fields are kept as written, with doubled quotes undone.
    /// </summary>
    private static bool ReadRecord(string text, ref int position, ref int line, List<string?> fields, string path)
    {
        fields.Clear();
        if (position >= text.Length) return false;
        while (true)
        {
            char delimiter;
            if (position < text.Length && text[position] == '"')
            {
                var value = new StringBuilder();
                var quoteLine = line;
                var at = position + 1;
                while (true)
                {
                    var next = text.IndexOf('"', at);
                    if (next < 0) throw new InvalidParameterValueException($"{path}: line {quoteLine} has a quoted field that is never closed.");
                    value.Append(text, at, next - at);
                    line += text.AsSpan(at, next - at).Count('\n');
                    if (next + 1 < text.Length && text[next + 1] == '"')
                    {
                        value.Append('"');
                        at = next + 2;
                        continue;
                    }
                    at = next + 1;
                    break;
                }
                // Anything between the closing quote and the delimiter is kept, as the previous reader did.
                var rest = text.AsSpan(at).IndexOfAny(Delimiters);
                var end = rest < 0 ? text.Length : at + rest;
                value.Append(text, at, end - at);
                fields.Add(value.ToString());
                position = end;
            }
            else
            {
                var rest = text.AsSpan(position).IndexOfAny(Delimiters);
                var end = rest < 0 ? text.Length : position + rest;
                var field = text.AsSpan(position, end - position).Trim();
                fields.Add(field.IsEmpty ? null : field.ToString());
                position = end;
            }
            if (position >= text.Length) return true;
            delimiter = text[position++];
            if (delimiter == ',') continue;
            if (delimiter == '\r' && position < text.Length && text[position] == '\n') position++;
            line++;
            return true;
        }
    }
}
