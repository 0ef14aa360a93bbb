using System.Buffers;
using System.Globalization;
using System.Text;

namespace Cairn.ML.Training;

/// <summary>
/// A data file (CSV, or Parquet through <see cref="ParquetTable"/>) read into memory as text columns; empty fields are null.
/// A CSV keeps its text and each cell's position in it: a column becomes strings only when asked for (<see cref="this[string]"/>),
/// and numeric columns are parsed straight from the text (<see cref="TryNumbers"/>), so 100,000 rows of numbers never turn
/// into two million strings.
/// </summary>
public sealed class CsvTable
{
    private readonly string? _text;
    private readonly Cell[][]? _cells;
    private readonly List<string> _quoted = [];
    private readonly string?[]?[] _columns;
    private readonly int _rows;

    /// <summary>Where a cell's value is: <c>Length</c> -1 for an empty cell; a negative <c>Start</c> names an entry of the quoted values.</summary>
    private readonly record struct Cell(int Start, int Length);

    /// <summary>
    /// A growable array of cells. Not <c>List&lt;Cell&gt;</c>: the runtime has no precompiled code for a framework generic over
    /// this assembly's struct, so its <c>Add</c> would run unoptimized through the first of millions of calls.
    /// </summary>
    private sealed class Cells(int capacity)
    {
        private Cell[] _items = new Cell[Math.Max(4, capacity)];

        public int Count { get; private set; }

        public Cell this[int index] => _items[index];

        public void Add(Cell cell)
        {
            if (Count == _items.Length) Array.Resize(ref _items, _items.Length * 2);
            _items[Count++] = cell;
        }

        public void Clear() => Count = 0;

        public Cell[] ToArray()
        {
            var result = new Cell[Count];
            Array.Copy(_items, result, Count);
            return result;
        }
    }

    private CsvTable(string path, IReadOnlyList<string> names, string?[][] columns)
    {
        Path = path;
        Names = names;
        _columns = columns;
        _rows = columns.Length == 0 ? 0 : columns[0].Length;
    }

    private CsvTable(string path, IReadOnlyList<string> names, string text, Cell[][] cells, List<string> quoted)
    {
        Path = path;
        Names = names;
        _text = text;
        _cells = cells;
        _quoted = quoted;
        _columns = new string?[]?[names.Count];
        _rows = cells.Length == 0 ? 0 : cells[0].Length;
    }

    public string Path { get; }

    public IReadOnlyList<string> Names { get; }

    /// <summary>One array per column, one element per row (built on first use for a CSV).</summary>
    public string?[][] Columns => Enumerable.Range(0, Names.Count).Select(Column).ToArray();

    public int RowCount => _rows;

    public int IndexOf(string name)
    {
        for (var i = 0; i < Names.Count; i++) if (Names[i] == name) return i;
        return -1;
    }

    public string?[] this[string name] => IndexOf(name) is var i and >= 0 ? Column(i)
        : throw new InvalidParameterValueException($"{Path}: no column '{name}' (columns: {string.Join(", ", Names)}).");

    private string?[] Column(int index)
    {
        if (_columns[index] is { } done) return done;
        var cells = _cells![index];
        var values = new string?[cells.Length];
        for (var r = 0; r < cells.Length; r++) values[r] = Text(cells[r]);
        return _columns[index] = values;
    }

    private string? Text(Cell cell) => cell.Length < 0 ? null : cell.Start < 0 ? _quoted[~cell.Start] : _text!.Substring(cell.Start, cell.Length);

    /// <summary>
    /// The column as numbers (NaN where empty) when every non-empty cell is one (invariant culture); otherwise false with the
    /// first row that is not. Parsed from the text without making strings.
    /// </summary>
    public bool TryNumbers(string name, out double[] numbers, out int badRow)
    {
        var index = IndexOf(name);
        if (index < 0) throw new InvalidParameterValueException($"{Path}: no column '{name}' (columns: {string.Join(", ", Names)}).");
        numbers = new double[_rows];
        if (_cells is null)
        {
            var values = Column(index);
            for (var r = 0; r < values.Length; r++)
            {
                if (values[r] is not { } value) { numbers[r] = double.NaN; continue; }
                if (!TryNumber(value, out numbers[r])) { badRow = r; return false; }
            }
        }
        else
        {
            var cells = _cells[index];
            for (var r = 0; r < cells.Length; r++)
            {
                var cell = cells[r];
                if (cell.Length < 0) { numbers[r] = double.NaN; continue; }
                var span = cell.Start < 0 ? _quoted[~cell.Start].AsSpan() : _text.AsSpan(cell.Start, cell.Length);
                if (!TryNumber(span, out numbers[r])) { badRow = r; return false; }
            }
        }
        badRow = -1;
        return true;
    }

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
        var text = ReadText(path);
        var position = 0;
        var line = 1;
        var headerCells = new Cells(16);
        var headerQuoted = new List<string>();
        if (!ReadRecord(text, ref position, ref line, headerCells, headerQuoted, path) || headerCells.Count == 0 || headerCells is { Count: 1 } && headerCells[0].Length <= 0)
            throw new InvalidParameterValueException($"{path}: the file is empty; expected a header row and data rows.");
        var fields = headerCells.ToArray().Select(c => c.Length < 0 ? null : c.Start < 0 ? headerQuoted[~c.Start] : text.Substring(c.Start, c.Length)).ToList();
        var names = fields.Select((h, i) => (h ?? "").Trim() is { Length: > 0 } n ? n : throw new InvalidParameterValueException($"{path}: column {i + 1} of the header has no name.")).ToList();
        if (names.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1) is { } duplicate)
            throw new InvalidParameterValueException($"{path}: the header names column '{duplicate.Key}' twice.");
        var estimate = Math.Max(16, text.Length / Math.Max(1, position));
        var columns = names.Select(_ => new Cells(estimate)).ToArray();
        var quoted = new List<string>();
        var cells = new Cells(names.Count);
        while (true)
        {
            var start = line;
            if (!ReadRecord(text, ref position, ref line, cells, quoted, path)) break;
            if (cells.Count == 1 && cells[0].Length < 0) continue; // blank line
            if (cells.Count != names.Count)
                throw new InvalidParameterValueException($"{path}: line {start} has {cells.Count} fields but the header has {names.Count}.");
            for (var c = 0; c < cells.Count; c++) columns[c].Add(cells[c]);
        }
        if (columns[0].Count == 0) throw new InvalidParameterValueException($"{path}: the file has a header but no data rows.");
        return new CsvTable(path, names, text, columns.Select(c => c.ToArray()).ToArray(), quoted);
    }

    /// <summary>Whether every non-empty value parses as a number (invariant culture).</summary>
    public static bool IsNumeric(string?[] column) =>
        column.Any(v => v is not null) && column.All(v => v is null || TryNumber(v, out _));

    public static bool TryNumber(string value, out double number) => TryNumber(value.AsSpan(), out number);

    /// <summary>
    /// Parses a number as <see cref="double.TryParse(ReadOnlySpan{char}, NumberStyles, IFormatProvider, out double)"/> does
    /// (invariant culture), with a fast path for the plain decimals data files are made of: at most 15 significant digits
    /// and no exponent give an integer below 2^53 and a power of ten below 10^23, both exact in a double, so one division
    /// is the correctly rounded value, the same bits the general parser returns. Anything else takes the general parser.
    /// </summary>
    public static bool TryNumber(ReadOnlySpan<char> text, out double number)
    {
        var i = 0;
        var negative = false;
        if (text.Length > 0 && (text[0] == '-' || text[0] == '+'))
        {
            negative = text[0] == '-';
            i = 1;
        }
        long mantissa = 0;
        var digits = 0;
        var fraction = -1; // digits after the point, once one is seen
        for (; i < text.Length; i++)
        {
            var c = text[i];
            if (c is >= '0' and <= '9')
            {
                if (++digits > 15) goto General;
                mantissa = mantissa * 10 + (c - '0');
                if (fraction >= 0) fraction++;
            }
            else if (c == '.' && fraction < 0) fraction = 0;
            else goto General;
        }
        if (digits == 0) goto General;
        number = fraction > 0 ? mantissa / PowersOfTen[fraction] : mantissa;
        // -0 is a value of its own: "-0" and "-0.0" parse to it in the general parser too.
        if (negative) number = -number;
        return true;
    General:
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out number);
    }

    private static readonly double[] PowersOfTen = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

    /// <summary>
    /// The file as text: the bytes in one read, decoded as UTF-8 in one call (a leading UTF-8 byte order mark dropped);
    /// a file starting with a UTF-16 or UTF-32 byte order mark goes through a reader that honours it.
    /// </summary>
    private static string ReadText(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes is [0xFE, 0xFF, ..] or [0xFF, 0xFE, ..] or [0, 0, 0xFE, 0xFF, ..]) return File.ReadAllText(path, Encoding.UTF8);
        var skip = bytes is [0xEF, 0xBB, 0xBF, ..] ? 3 : 0;
        return Encoding.UTF8.GetString(bytes, skip, bytes.Length - skip);
    }

    private static readonly SearchValues<char> Delimiters = SearchValues.Create(",\r\n");

    /// <summary>
    /// Reads the record at <paramref name="position"/> into <paramref name="cells"/> (cleared first); false at the end of the text.
    /// Unquoted fields are trimmed and empty ones are empty cells; quoted fields are kept as written, with doubled quotes
    /// undone, in <paramref name="quoted"/>.
    /// </summary>
    private static bool ReadRecord(string text, ref int position, ref int line, Cells cells, List<string> quoted, string path)
    {
        cells.Clear();
        if (position >= text.Length) return false;
        while (true)
        {
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
                // Anything between the closing quote and the delimiter is kept, as written.
                var rest = text.AsSpan(at).IndexOfAny(Delimiters);
                var end = rest < 0 ? text.Length : at + rest;
                value.Append(text, at, end - at);
                quoted.Add(value.ToString());
                cells.Add(new Cell(~(quoted.Count - 1), value.Length));
                position = end;
            }
            else
            {
                var rest = text.AsSpan(position).IndexOfAny(Delimiters);
                var end = rest < 0 ? text.Length : position + rest;
                // Trim without copying: move the bounds past white space.
                var first = position;
                var last = end;
                while (first < last && char.IsWhiteSpace(text[first])) first++;
                while (last > first && char.IsWhiteSpace(text[last - 1])) last--;
                cells.Add(first == last ? new Cell(0, -1) : new Cell(first, last - first));
                position = end;
            }
            if (position >= text.Length) return true;
            var delimiter = text[position++];
            if (delimiter == ',') continue;
            if (delimiter == '\r' && position < text.Length && text[position] == '\n') position++;
            line++;
            return true;
        }
    }
}
