using System.Globalization;
using System.Text.Json;

namespace Cairn.Server.Scoring;

/// <summary>A request's input that does not match the model's signature: 400 BAD_REQUEST naming the column and the row.</summary>
public sealed class ScoringInputException(string message) : CairnException(ErrorCode.BAD_REQUEST, message)
{
    /// <summary>An error about one value: the column, the 0-based row and what is wrong.</summary>
    public static ScoringInputException Value(string column, int row, string problem) =>
        new($"Invalid input for column '{column}' at row {row}: {problem}.");

    /// <summary>A value shown in an error, cut to a readable length.</summary>
    public static string Show(ReadOnlySpan<char> text) =>
        text.Length <= 40 ? $"\"{text}\"" : $"\"{text[..40]}...\"";

    public static string Show(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => "the string " + Show(value.GetString().AsSpan()),
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.Null => "null",
        _ => "the number " + Show(value.GetRawText().AsSpan()),
    };
}

/// <summary>
/// Parses one input column's values straight into a typed array (floats into <c>float[]</c>, and so on): no boxed values,
/// no intermediate rows. A JSON value of the wrong kind is a "wrong type" error; a string that does not parse as the
/// column's type is an "unparsable value" error; both name the column and the row.
/// </summary>
internal abstract class ColumnBuilder
{
    protected ColumnBuilder(ScoringInput input) => Input = input;

    public ScoringInput Input { get; }

    /// <summary>For a tensor: values per row (once known); -1 for a column.</summary>
    public virtual int Width => -1;

    /// <summary>Makes room for <paramref name="rows"/> rows (CSV bodies grow as they are read).</summary>
    public abstract void Reserve(int rows);

    /// <summary>Sets row <paramref name="row"/> (value <paramref name="position"/> of a tensor row; 0 for a column) from JSON.</summary>
    public abstract void Set(int row, int position, JsonElement value, string column);

    /// <summary>Sets a value from text (CSV); <paramref name="missing"/> for an empty field.</summary>
    public abstract void Set(int row, int position, ReadOnlySpan<char> text, bool missing, string column);

    /// <summary>The column, exactly <paramref name="rows"/> long.</summary>
    public abstract Array Finish(int rows);

    public static ColumnBuilder For(ScoringInput input, int rows) => (input.IsTensor, input.Type) switch
    {
        (true, ScoringType.Float32) => new Tensor<float>(input, rows),
        (true, _) => new Tensor<double>(input, rows),
        (false, ScoringType.Float32) => new Scalar<float>(input, rows),
        (false, ScoringType.Float64) => new Scalar<double>(input, rows),
        (false, ScoringType.Int64) => new Scalar<long>(input, rows),
        (false, ScoringType.Int32) => new Scalar<int>(input, rows),
        (false, ScoringType.Bool) => new Scalar<bool>(input, rows),
        _ => new Scalar<string?>(input, rows),
    };

    protected static T Parse<T>(JsonElement value, ScoringType type, string column, int row)
    {
        switch (type)
        {
            case ScoringType.Float32:
            case ScoringType.Float64:
                switch (value.ValueKind)
                {
                    case JsonValueKind.Number:
                        return type == ScoringType.Float32 ? (T)(object)value.GetSingle() : (T)(object)value.GetDouble();
                    case JsonValueKind.Null:
                        return type == ScoringType.Float32 ? (T)(object)float.NaN : (T)(object)double.NaN;
                    case JsonValueKind.String:
                        return Parse<T>(value.GetString().AsSpan(), false, type, column, row);
                }
                break;
            case ScoringType.Int64:
            case ScoringType.Int32:
                if (value.ValueKind == JsonValueKind.Number)
                {
                    if (type == ScoringType.Int64 && value.TryGetInt64(out var l)) return (T)(object)l;
                    if (type == ScoringType.Int32 && value.TryGetInt32(out var i)) return (T)(object)i;
                    throw ScoringInputException.Value(column, row, $"expected {Name(type)}, got {ScoringInputException.Show(value)}, which is not a whole number in range");
                }
                if (value.ValueKind == JsonValueKind.String) return Parse<T>(value.GetString().AsSpan(), false, type, column, row);
                break;
            case ScoringType.Bool:
                if (value.ValueKind is JsonValueKind.True or JsonValueKind.False) return (T)(object)(value.ValueKind == JsonValueKind.True);
                if (value.ValueKind == JsonValueKind.String) return Parse<T>(value.GetString().AsSpan(), false, type, column, row);
                break;
            default:
                if (value.ValueKind == JsonValueKind.String) return (T)(object)value.GetString()!;
                if (value.ValueKind == JsonValueKind.Null) return default!;
                break;
        }
        throw ScoringInputException.Value(column, row, $"wrong type: expected {Name(type)}, got {ScoringInputException.Show(value)}");
    }

    protected static T Parse<T>(ReadOnlySpan<char> text, bool missing, ScoringType type, string column, int row)
    {
        var invariant = CultureInfo.InvariantCulture;
        switch (type)
        {
            case ScoringType.Float32:
                if (missing) return (T)(object)float.NaN;
                if (float.TryParse(text, NumberStyles.Float, invariant, out var f)) return (T)(object)f;
                break;
            case ScoringType.Float64:
                if (missing) return (T)(object)double.NaN;
                if (double.TryParse(text, NumberStyles.Float, invariant, out var d)) return (T)(object)d;
                break;
            case ScoringType.Int64:
                if (!missing && long.TryParse(text, NumberStyles.Integer, invariant, out var l)) return (T)(object)l;
                break;
            case ScoringType.Int32:
                if (!missing && int.TryParse(text, NumberStyles.Integer, invariant, out var i)) return (T)(object)i;
                break;
            case ScoringType.Bool:
                if (!missing && bool.TryParse(text, out var b)) return (T)(object)b;
                if (text is "0" or "1") return (T)(object)(text[0] == '1');
                break;
            default:
                return missing ? default! : (T)(object)new string(text);
        }
        throw ScoringInputException.Value(column, row, missing
            ? $"missing value: a {Name(type)} column needs one in every row"
            : $"unparsable value {ScoringInputException.Show(text)}: expected {Name(type)}");
    }

    private static string Name(ScoringType type) => type switch
    {
        ScoringType.Float32 => "a number (float)",
        ScoringType.Float64 => "a number (double)",
        ScoringType.Int64 => "a whole number (long)",
        ScoringType.Int32 => "a whole number (integer)",
        ScoringType.Bool => "a boolean",
        _ => "a string",
    };

    private sealed class Scalar<T>(ScoringInput input, int rows) : ColumnBuilder(input)
    {
        private T[] _values = new T[rows];

        public override void Reserve(int rows)
        {
            if (rows > _values.Length) Array.Resize(ref _values, Math.Max(rows, _values.Length * 2));
        }

        public override void Set(int row, int position, JsonElement value, string column) => _values[row] = Parse<T>(value, Input.Type, column, row);

        public override void Set(int row, int position, ReadOnlySpan<char> text, bool missing, string column) =>
            _values[row] = Parse<T>(text, missing, Input.Type, column, row);

        public override Array Finish(int rows)
        {
            if (_values.Length != rows) Array.Resize(ref _values, rows);
            return _values;
        }
    }

    private sealed class Tensor<T>(ScoringInput input, int rows) : ColumnBuilder(input)
    {
        private T[][] _rows = new T[rows][];
        private int _width = input.Width;

        public override int Width => _width;

        /// <summary>The row's width when the graph leaves it open: set by the first row seen.</summary>
        public void Open(int width)
        {
            if (_width < 0) _width = width;
        }

        public override void Reserve(int rows)
        {
            if (rows > _rows.Length) Array.Resize(ref _rows, Math.Max(rows, _rows.Length * 2));
        }

        private T[] Row(int row, int position, string column)
        {
            if (_width < 0) throw new InvalidOperationException("The tensor's width is not known yet.");
            if (position >= _width)
                throw ScoringInputException.Value(column, row, $"the model's input '{Input.Name}' takes {_width} values per row");
            return _rows[row] ??= new T[_width];
        }

        public override void Set(int row, int position, JsonElement value, string column) =>
            Row(row, position, column)[position] = Parse<T>(value, typeof(T) == typeof(float) ? ScoringType.Float32 : ScoringType.Float64, column, row);

        public override void Set(int row, int position, ReadOnlySpan<char> text, bool missing, string column) =>
            Row(row, position, column)[position] = Parse<T>(text, missing, typeof(T) == typeof(float) ? ScoringType.Float32 : ScoringType.Float64, column, row);

        public override Array Finish(int rows)
        {
            if (_rows.Length != rows) Array.Resize(ref _rows, rows);
            for (var r = 0; r < rows; r++)
                if (_rows[r] is null || _rows[r].Length != _width)
                    throw new ScoringInputException($"Invalid input for '{Input.Name}' at row {r}: the model's input takes {_width} values per row.");
            return _rows;
        }
    }

    /// <summary>Fixes an open tensor width (from the request's column count or first row).</summary>
    public void OpenWidth(int width)
    {
        switch (this)
        {
            case Tensor<float> f: f.Open(width); break;
            case Tensor<double> d: d.Open(width); break;
        }
    }
}
