using System.Security.Cryptography;
using System.Text;
using nietras.SeparatedValues;

namespace Cairn.Data;

/// <summary>
/// The one reader of delimited text files (CSV, TSV) in Cairn: the training data, metrics files, plot files and dataset
/// profiles all read through it. It streams (a buffer of rows, never the whole file, so any file size reads), finds
/// fields with Sep's vectorized parser and follows RFC 4180 quoting: a quoted field may hold separators, quotes (doubled)
/// and newlines. Unquoted fields are trimmed and an empty one is missing (<see cref="IsMissing"/>); a quoted field is kept
/// as written, so <c>""</c> is an empty string, not a missing value. Blank lines are skipped. Errors name the file and
/// the line. Numbers are the caller's to parse from <see cref="Field"/> (culture-invariant parsers take the span).
/// </summary>
public sealed class CsvReader : IDisposable
{
    private readonly SepReader _reader;
    private readonly HashingStream? _hashing;
    private readonly int _linesBefore;
    private string?[] _unquoted = new string?[64];

    private CsvReader(SepReader reader, string name, HashingStream? hashing, int linesBefore = 0)
    {
        _reader = reader;
        _hashing = hashing;
        _linesBefore = linesBefore;
        Name = name;
    }

    /// <summary>The file (or name) errors start with.</summary>
    public string Name { get; }

    /// <summary>Fields in the current record.</summary>
    public int FieldCount { get; private set; }

    /// <summary>The line the current record starts on (1-based, counting the header and newlines inside quoted fields).</summary>
    public int Line { get; private set; }

    /// <summary>
    /// Opens <paramref name="path"/>; with <paramref name="sha256"/>, every byte of the file goes through the hash as it is
    /// read, so a caller gets the file's digest from the same read (<see cref="Finish"/> reads what is left).
    /// </summary>
    public static CsvReader Open(string path, char separator = ',', IncrementalHash? sha256 = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new ResourceDoesNotExistException($"Data file '{path}' does not exist.");
        Stream stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        HashingStream? hashing = null;
        if (sha256 is not null) stream = hashing = new HashingStream(stream, sha256);
        // UTF-8 unless a byte order mark says otherwise (UTF-16 and UTF-32 files are honoured; a UTF-8 mark is dropped).
        var text = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, 1 << 16);
        return new CsvReader(Options(separator).From(text), path, hashing);
    }

    /// <summary>
    /// Opens the bytes [<paramref name="start"/>, start + <paramref name="length"/>) of a UTF-8 file, a range that starts at
    /// the beginning of a line and ends after a newline (or at the end of the file), with <paramref name="linesBefore"/> lines
    /// before it, so <see cref="Line"/> counts in the whole file. Several readers over the ranges of one file parse it in
    /// parallel; the caller makes sure no quoted field holds a newline (a file without quotes), since a range cannot know.
    /// </summary>
    internal static CsvReader OpenRange(string path, long start, long length, int linesBefore, char separator = ',')
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new ResourceDoesNotExistException($"Data file '{path}' does not exist.");
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        file.Position = start;
        // Only the first range may start with a byte order mark; later ranges are plain UTF-8 from a line's start.
        var text = new StreamReader(new RangeStream(file, length), Encoding.UTF8, detectEncodingFromByteOrderMarks: start == 0, 1 << 16);
        return new CsvReader(Options(separator).From(text), path, null, linesBefore);
    }

    /// <summary>Reads delimited text already in memory; <paramref name="name"/> names it in errors.</summary>
    public static CsvReader OpenText(string text, string name, char separator = ',')
    {
        ArgumentNullException.ThrowIfNull(text);
        return new CsvReader(Options(separator).From(new StringReader(text)), name, null);
    }

    private static SepReaderOptions Options(char separator) =>
        // No header handling, no column count check, no unescaping: the header is a record like the others, and the
        // checks and the quoting rules are Cairn's (with errors naming the file and line).
        Sep.Reader(o => o with { Sep = new Sep(separator), HasHeader = false, DisableColCountCheck = true, Unescape = false });

    /// <summary>Moves to the next record, skipping blank lines; false at the end of the file.</summary>
    public bool Read()
    {
        while (true)
        {
            bool more;
            try
            {
                more = _reader.MoveNext();
            }
            catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException && e.GetType().Namespace?.StartsWith("nietras", StringComparison.Ordinal) == true
                                      || e is ArgumentOutOfRangeException or NotSupportedException)
            {
                // A row longer than the parser's buffer: in practice a quote that is never closed.
                throw new InvalidParameterValueException($"{Name}: line {Line + 1} or after cannot be read ({e.Message}); check for a quoted field that is never closed.");
            }
            if (!more)
            {
                FieldCount = 0;
                return false;
            }
            var row = _reader.Current;
            // The first record starts on line 1 (Sep reports the line after it for a reader without a header).
            Line = _linesBefore + (row.RowIndex == 0 ? 1 : row.LineNumberFrom);
            FieldCount = row.ColCount;
            if (FieldCount == 1 && row[0].Span.IsWhiteSpace()) continue; // blank line
            // Sized by the widest record so far (itself bounded by the parser's largest row).
            if (FieldCount > _unquoted.Length) _unquoted = new string?[FieldCount];
            Array.Clear(_unquoted, 0, FieldCount);
            return true;
        }
    }

    /// <summary>Whether field <paramref name="index"/> is missing: unquoted and empty (or only white space).</summary>
    public bool IsMissing(int index)
    {
        var raw = _reader.Current[index].Span;
        return raw.IsWhiteSpace();
    }

    /// <summary>
    /// Field <paramref name="index"/>'s value: an unquoted field trimmed (a slice of the parser's buffer, valid until the
    /// next <see cref="Read"/>), a quoted one without its quotes, doubled quotes undone, anything after the closing quote
    /// kept as written.
    /// </summary>
    public ReadOnlySpan<char> Field(int index)
    {
        var raw = _reader.Current[index].Span;
        if (raw.Length == 0 || raw[0] != '"') return raw.Trim();
        return (_unquoted[index] ??= Unquote(raw)).AsSpan();
    }

    /// <summary>Field <paramref name="index"/>'s value as <see cref="Field"/> gives it; false (and empty) when it is missing.</summary>
    public bool TryField(int index, out ReadOnlySpan<char> value)
    {
        var raw = _reader.Current[index].Span;
        if (raw.Length > 0 && raw[0] == '"')
        {
            value = (_unquoted[index] ??= Unquote(raw)).AsSpan();
            return true;
        }
        value = raw.Trim();
        return !value.IsEmpty;
    }

    /// <summary>Field <paramref name="index"/> as a string; null when missing.</summary>
    public string? Text(int index)
    {
        var raw = _reader.Current[index].Span;
        if (raw.Length > 0 && raw[0] == '"') return _unquoted[index] ??= Unquote(raw);
        var value = raw.Trim();
        return value.IsEmpty ? null : new string(value);
    }

    /// <summary>The fields of the current record as strings (null where missing).</summary>
    public string?[] Record()
    {
        var fields = new string?[FieldCount];
        for (var i = 0; i < fields.Length; i++) fields[i] = Text(i);
        return fields;
    }

    /// <summary>Reads what is left of the file (so a hash given to <see cref="Open"/> has seen every byte).</summary>
    public void Finish() => _hashing?.Drain();

    private string Unquote(ReadOnlySpan<char> raw)
    {
        var value = new StringBuilder(raw.Length);
        var at = 1;
        while (true)
        {
            var next = raw[at..].IndexOf('"');
            if (next < 0) throw new InvalidParameterValueException($"{Name}: line {Line} has a quoted field that is never closed.");
            value.Append(raw.Slice(at, next));
            at += next + 1;
            if (at < raw.Length && raw[at] == '"')
            {
                value.Append('"');
                at++;
                continue;
            }
            break;
        }
        value.Append(raw[at..]);
        return value.ToString();
    }

    /// <inheritdoc />
    public void Dispose() => _reader.Dispose();

    /// <summary>A read-only stream that feeds every byte it reads to a hash.</summary>
    private sealed class HashingStream(Stream inner, IncrementalHash hash) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var read = inner.Read(buffer);
            hash.AppendData(buffer[..read]);
            return read;
        }

        public void Drain()
        {
            var buffer = new byte[1 << 16];
            while (Read(buffer) > 0) { }
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>A read-only stream of the next <c>length</c> bytes of another (which it owns).</summary>
    private sealed class RangeStream(Stream inner, long length) : Stream
    {
        private long _read;
        private long Left => length - _read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (Left <= 0) return 0;
            var read = inner.Read(buffer[..(int)Math.Min(buffer.Length, Left)]);
            _read += read;
            return read;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>Hex SHA-256 of what <paramref name="hash"/> has seen.</summary>
    public static string Hex(IncrementalHash hash)
    {
        ArgumentNullException.ThrowIfNull(hash);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>A new SHA-256 to pass to <see cref="Open"/>.</summary>
    public static IncrementalHash Sha256() => IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
}
