using System.Globalization;
using Cairn.Data;

namespace Cairn.ML.Training;

/// <summary>
/// A data file (CSV through <see cref="CsvReader"/>, or Parquet through <see cref="ParquetTable"/>) read into memory as typed
/// columns: a column whose every present value is a number is held as numbers (NaN where empty), parsed as the file
/// streams by, and any other column as strings (null where empty). The file itself is never held: memory is what the
/// columns take, whatever the file's size. A numeric column becomes strings only when asked for (<see cref="this[string]"/>),
/// by reading the file again for it; <see cref="Read(string, IReadOnlyCollection{string}?, bool)"/> takes the columns known to be
/// wanted as strings (a label, a categorical feature) so the common case reads once.
/// </summary>
public sealed partial class CsvTable
{
    private readonly Column[] _columns;

    /// <summary>One column: numbers, strings, or both; <see cref="BadRow"/> when a column of numbers met a value that is not one.</summary>
    internal sealed class Column
    {
        /// <summary>Every present value as a number, NaN where empty; null when some value is not a number.</summary>
        public double[]? Numbers;

        /// <summary>The first row whose value is not a number (when <see cref="Numbers"/> is null and that is known; -1 otherwise).</summary>
        public int BadRow = -1;

        /// <summary>The values as written; null until needed when the column is numbers.</summary>
        public string?[]? Text;

        /// <summary>How the strings of a column of numbers are made (a Parquet column formats its values); null: read the CSV again.</summary>
        public Func<string?[]>? MakeText;
    }

    private CsvTable(string path, IReadOnlyList<string> names, Column[] columns, int rows, string? sha256)
    {
        Path = path;
        Names = names;
        _columns = columns;
        RowCount = rows;
        Sha256 = sha256;
    }

    public string Path { get; }

    /// <summary>Rows of the file before this table's first row: 0 for a whole file, more for a chunk (errors count rows in the file).</summary>
    public long FirstRow { get; private init; }

    public IReadOnlyList<string> Names { get; }

    /// <summary>Hex SHA-256 of a CSV file's bytes, hashed in the same read that parsed them; null for a Parquet table.</summary>
    public string? Sha256 { get; }

    /// <summary>One array per column, one element per row.</summary>
    public string?[][] Columns => Enumerable.Range(0, Names.Count).Select(TextOf).ToArray();

    public int RowCount { get; }

    public int IndexOf(string name)
    {
        for (var i = 0; i < Names.Count; i++) if (Names[i] == name) return i;
        return -1;
    }

    public string?[] this[string name] => IndexOf(name) is var i and >= 0 ? TextOf(i)
        : throw new InvalidParameterValueException($"{Path}: no column '{name}' (columns: {string.Join(", ", Names)}).");

    /// <summary>The column's strings: held, formatted, or (a CSV column parsed as numbers) read from the file again.</summary>
    private string?[] TextOf(int index)
    {
        var column = _columns[index];
        if (column.Text is { } text) return text;
        lock (column)
        {
            if (column.Text is { } made) return made;
            if (column.MakeText is { } make) return column.Text = make();
            ReadText(index);
            return column.Text!;
        }
    }

    /// <summary>
    /// The column as numbers (NaN where empty) when every non-empty value is one (invariant culture); otherwise false with the
    /// first row that is not. The array is the table's: read it, do not change it.
    /// </summary>
    public bool TryNumbers(string name, out double[] numbers, out int badRow)
    {
        var index = IndexOf(name);
        if (index < 0) throw new InvalidParameterValueException($"{Path}: no column '{name}' (columns: {string.Join(", ", Names)}).");
        var column = _columns[index];
        if (column.Numbers is { } parsed)
        {
            (numbers, badRow) = (parsed, -1);
            return true;
        }
        if (column.Text is null && column.BadRow >= 0)
        {
            (numbers, badRow) = ([], column.BadRow);
            return false;
        }
        var values = TextOf(index);
        numbers = new double[values.Length];
        for (var r = 0; r < values.Length; r++)
        {
            if (values[r] is not { } value) { numbers[r] = double.NaN; continue; }
            if (!TryNumber(value, out numbers[r])) { badRow = r; return false; }
        }
        badRow = -1;
        return true;
    }

    /// <summary>A table from typed columns read elsewhere (a Parquet file); every column holds <paramref name="rows"/> rows.</summary>
    internal static CsvTable FromColumns(string path, IReadOnlyList<string> names, Column[] columns, int rows) => new(path, names, columns, rows, null);

    /// <summary>
    /// Reads a data file by its extension: <c>.parquet</c> with <see cref="ParquetTable"/>, anything else as CSV (hashed only
    /// when <paramref name="hash"/>: a caller that records no digest saves the hashing).
    /// </summary>
    public static CsvTable ReadAny(string path, IReadOnlyCollection<string>? textColumns = null, bool hash = true) =>
        path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) ? ParquetTable.Read(path) : Read(path, textColumns, hash);

    /// <summary>
    /// Reads the CSV file <paramref name="path"/> (RFC 4180: quoted fields may hold commas, quotes and newlines), hashing its
    /// bytes as they are read (<see cref="Sha256"/>) unless <paramref name="hash"/> is false. <paramref name="textColumns"/>
    /// are kept as strings from the start. Errors name the file and line.
    /// </summary>
    public static CsvTable Read(string path, IReadOnlyCollection<string>? textColumns = null, bool hash = true) =>
        Read(path, textColumns, hash, ParallelChunkBytes);

    /// <summary>Files of at least two chunks of this size are parsed in parallel (see <see cref="TryReadParallel"/>).</summary>
    internal const int ParallelChunkBytes = 4 << 20;

    /// <summary><see cref="Read(string, IReadOnlyCollection{string}?, bool)"/> with the parallel path's chunk size (tests make it small).</summary>
    internal static CsvTable Read(string path, IReadOnlyCollection<string>? textColumns, bool hash, int chunkBytes)
    {
        var header = ReadHeader(path, out var headerLine);
        // Parallel when the file is large, UTF-8, without quotes and its header is its first line; otherwise one stream.
        if (headerLine == 1 && TryReadParallel(path, header, textColumns, hash, chunkBytes) is { } table) return table;
        return ReadSequential(path, header, textColumns, hash);
    }

    /// <summary>The header's names (checked: present, trimmed, unique) and the line it is on.</summary>
    private static List<string> ReadHeader(string path, out int line)
    {
        using var reader = CsvReader.Open(path);
        return Header(reader, path, out line);
    }

    private static List<string> Header(CsvReader reader, string path, out int line)
    {
        if (!reader.Read()) throw new InvalidParameterValueException($"{path}: the file is empty; expected a header row and data rows.");
        line = reader.Line;
        var names = reader.Record().Select((h, i) => (h ?? "").Trim() is { Length: > 0 } n ? n
            : throw new InvalidParameterValueException($"{path}: column {i + 1} of the header has no name.")).ToList();
        if (names.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1) is { } duplicate)
            throw new InvalidParameterValueException($"{path}: the header names column '{duplicate.Key}' twice.");
        return names;
    }

    private static CsvTable ReadSequential(string path, List<string> names, IReadOnlyCollection<string>? textColumns, bool hash)
    {
        using var sha256 = hash ? CsvReader.Sha256() : null;
        using var reader = CsvReader.Open(path, ',', sha256);
        reader.Read(); // the header, read above
        // Columns start at the file's line count less the header (a quick vectorized pass over bytes the page cache now
        // holds): the arrays are then never grown nor trimmed, each page written once, instead of ten doublings and copies.
        // Newlines inside quoted fields or blank lines only make the count too large, and the arrays are trimmed at the end.
        var capacity = (int)Math.Clamp(RowsAtMost(path), 1024, Array.MaxLength);
        var builders = names.Select(n => new ColumnBuilder(textColumns?.Contains(n) == true, capacity)).ToArray();
        var rows = 0;
        while (reader.Read())
        {
            if (reader.FieldCount != names.Count)
                throw new InvalidParameterValueException($"{path}: line {reader.Line} has {reader.FieldCount} fields but the header has {names.Count}.");
            for (var c = 0; c < builders.Length; c++) builders[c].Add(reader, c, rows);
            rows++;
        }
        if (rows == 0) throw new InvalidParameterValueException($"{path}: the file has a header but no data rows.");
        reader.Finish();
        return new CsvTable(path, names, builders.Select(b => b.Build(rows)).ToArray(), rows, sha256 is null ? null : CsvReader.Hex(sha256));
    }

    /// <summary>
    /// Streams the CSV file <paramref name="path"/> as tables of at most <paramref name="chunkRows"/> rows (the same reader and
    /// rules as <see cref="Read(string, IReadOnlyCollection{string}?, bool)"/>), so a file of any size is read in bounded memory. Every column is held as its text (a chunk
    /// cannot read the file again for it); <see cref="TryNumbers"/> parses on demand, and <see cref="FirstRow"/> places a chunk.
    /// </summary>
    public static IEnumerable<CsvTable> ReadChunks(string path, int chunkRows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkRows, 1);
        using var reader = CsvReader.Open(path);
        var names = Header(reader, path, out _);
        long before = 0;
        while (true)
        {
            var builders = names.Select(_ => new ColumnBuilder(text: true)).ToArray();
            var rows = 0;
            while (rows < chunkRows && reader.Read())
            {
                if (reader.FieldCount != names.Count)
                    throw new InvalidParameterValueException($"{path}: line {reader.Line} has {reader.FieldCount} fields but the header has {names.Count}.");
                for (var c = 0; c < builders.Length; c++) builders[c].Add(reader, c, rows);
                rows++;
            }
            if (rows == 0)
            {
                if (before == 0) throw new InvalidParameterValueException($"{path}: the file has a header but no data rows.");
                yield break;
            }
            yield return new CsvTable(path, names, builders.Select(b => b.Build(rows)).ToArray(), rows, null) { FirstRow = before };
            before += rows;
            if (rows < chunkRows) yield break;
        }
    }

    /// <summary>An upper bound of a CSV file's data rows: its newlines, less the header's (or the last line's when the file ends without one).</summary>
    private static long RowsAtMost(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            long lines = 0;
            var last = (byte)'\n';
            int read;
            while ((read = file.Read(buffer, 0, buffer.Length)) > 0)
            {
                lines += buffer.AsSpan(0, read).Count((byte)'\n');
                last = buffer[read - 1];
            }
            return last == (byte)'\n' ? lines - 1 : lines;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Rows [<paramref name="from"/>, from + <paramref name="count"/>) as a table of their own (text and numbers copied).</summary>
    internal CsvTable Slice(int from, int count)
    {
        var columns = _columns.Select((column, i) =>
        {
            var text = TextOf(i).AsSpan(from, count).ToArray();
            return new Column { Text = text, Numbers = column.Numbers?.AsSpan(from, count).ToArray() };
        }).ToArray();
        return new CsvTable(Path, Names, columns, count, null) { FirstRow = FirstRow + from };
    }

    /// <summary>A table of one Parquet row group (see <see cref="ParquetTable.ReadRowGroupsAsync"/>).</summary>
    internal static CsvTable FromColumns(string path, IReadOnlyList<string> names, Column[] columns, int rows, long firstRow) =>
        new(path, names, columns, rows, null) { FirstRow = firstRow };

    /// <summary>Reads the file again for the strings of a column that was parsed as numbers (or stopped being numbers).</summary>
    private void ReadText(int index)
    {
        using var reader = CsvReader.Open(Path);
        reader.Read(); // the header
        var builder = new ColumnBuilder(text: true);
        var row = 0;
        while (row < RowCount && reader.Read())
        {
            if (reader.FieldCount <= index) throw new InvalidStateException($"{Path}: the file changed while it was being read (line {reader.Line}).");
            builder.Add(reader, index, row++);
        }
        if (row != RowCount) throw new InvalidStateException($"{Path}: the file changed while it was being read ({row} rows, {RowCount} before).");
        _columns[index].Text = builder.Build(row).Text;
    }

    /// <summary>
    /// A column as it streams in: numbers until a present value is not one (a first row that is not makes it strings; a later
    /// one only marks it), or strings. Not a <c>List&lt;T&gt;</c>: the arrays grow by doubling, and equal short strings (a
    /// category's values) share one instance. A chunk's builder (the parallel read) writes into the column's shared arrays at
    /// the chunk's place and never grows them; strings it starts on its own are its own (<see cref="ChunkText"/>).
    /// </summary>
    private sealed class ColumnBuilder
    {
        private double[]? _numbers;
        private string?[]? _text;
        private readonly int _numbersAt;
        private int _textAt;
        private readonly bool _chunk;
        private readonly int _capacity;
        private int _badRow = -1;
        private bool _anyNumber;
        private Dictionary<string, string>? _pool;

        public ColumnBuilder(bool text, int capacity = 1024)
        {
            _numbers = text ? null : new double[capacity];
            _text = text ? new string?[capacity] : null;
            _capacity = capacity;
        }

        /// <summary>A chunk's builder over the column's arrays (one of them null), writing rows from <paramref name="at"/> on.</summary>
        public ColumnBuilder(double[]? numbers, string?[]? text, int at, int capacity)
        {
            (_numbers, _text, _numbersAt, _textAt, _chunk, _capacity) = (numbers, text, at, at, true, capacity);
        }

        /// <summary>Every present value so far was a number (or there was none).</summary>
        public bool IsNumbers => _numbers is not null;

        /// <summary>The chunk began with a value that is not a number and holds its strings itself.</summary>
        public bool IsText => _numbers is null && _text is not null && _badRow < 0 && FirstNonNumber >= 0;

        /// <summary>A present number was seen.</summary>
        public bool AnyNumber => _anyNumber;

        /// <summary>The first row (of this builder) whose value is not a number; -1 when none.</summary>
        public int FirstNonNumber { get; private set; } = -1;

        /// <summary>The strings a chunk's builder holds itself (when <see cref="IsText"/>).</summary>
        public string?[]? ChunkText => _text;

        public void Add(CsvReader reader, int index, int row)
        {
            if (_numbers is not null)
            {
                if (!_chunk && row == _numbers.Length) Array.Resize(ref _numbers, _numbers.Length * 2);
                if (!reader.TryField(index, out var value))
                {
                    _numbers[_numbersAt + row] = double.NaN;
                    return;
                }
                if (TryNumber(value, out _numbers[_numbersAt + row]))
                {
                    _anyNumber = true;
                    return;
                }
                _numbers = null;
                FirstNonNumber = row;
                // Not a number before any number was seen: a column of strings (the rows before were empty). After one:
                // numbers no more, and the strings, if anyone asks, come from reading the file again.
                if (_anyNumber)
                {
                    _badRow = row;
                    return;
                }
                _text = new string?[_chunk ? _capacity : Math.Max(1024, row + 1)];
                _textAt = 0;
            }
            if (_text is null) return;
            if (!_chunk && row == _text.Length) Array.Resize(ref _text, _text.Length * 2);
            _text[_textAt + row] = Intern(reader, index);
        }

        private string? Intern(CsvReader reader, int index)
        {
            if (!reader.TryField(index, out var value)) return null;
            if (value.Length > 64) return new string(value);
            _pool ??= new Dictionary<string, string>(StringComparer.Ordinal);
            var lookup = _pool.GetAlternateLookup<ReadOnlySpan<char>>();
            if (lookup.TryGetValue(value, out var known)) return known;
            var made = new string(value);
            // Bounded: a column of mostly distinct values (ids, free text) stops pooling.
            if (_pool.Count < 65_536) _pool[made] = made;
            return made;
        }

        public Column Build(int rows)
        {
            if (_numbers is not null && _numbers.Length != rows) Array.Resize(ref _numbers, rows);
            if (_text is not null && _text.Length != rows) Array.Resize(ref _text, rows);
            return new Column { Numbers = _numbers, Text = _text, BadRow = _badRow };
        }
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
}
