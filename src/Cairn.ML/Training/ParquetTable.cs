using System.Globalization;
using Parquet;
using Parquet.Schema;

namespace Cairn.ML.Training;

/// <summary>
/// Reads a Parquet file (every row group) into a <see cref="CsvTable"/> of typed columns, so training and evaluation treat it
/// like the same data in CSV: numbers (integers, floats, decimals) are read as their type and held as doubles (their
/// strings, only when asked for, in invariant culture), booleans become <c>true</c>/<c>false</c> (a categorical feature, or a
/// binary label), strings stay strings, nulls stay null (NaN in a column of numbers).
/// Nested, list and map columns, binary and date/time columns are refused with the column's name.
/// </summary>
public static class ParquetTable
{
    public static CsvTable Read(string path) => Task.Run(() => ReadAsync(path)).GetAwaiter().GetResult();

    public static async Task<CsvTable> ReadAsync(string path, CancellationToken cancellationToken = default)
    {
        if (!File.Exists(path)) throw new ResourceDoesNotExistException($"Data file '{path}' does not exist.");
        await using var stream = File.OpenRead(path);
        ParquetReader reader;
        try
        {
            reader = await ParquetReader.CreateAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException || e.GetType().Namespace?.StartsWith("Parquet", StringComparison.Ordinal) == true)
        {
            throw new InvalidParameterValueException($"{path}: not a readable Parquet file ({e.Message}).");
        }
        await using (reader)
        {
            if (reader.Schema.Fields.FirstOrDefault(f => f is not DataField) is { } nested)
                throw new InvalidParameterValueException($"{path}: column '{nested.Name}' is a {nested.SchemaType.ToString().ToLowerInvariant()}; Cairn trains on flat columns of numbers, booleans and strings.");
            var fields = reader.Schema.GetDataFields();
            foreach (var field in fields)
            {
                if (field.IsArray) throw new InvalidParameterValueException($"{path}: column '{field.Name}' holds lists; Cairn trains on flat columns of numbers, booleans and strings.");
                if (Formatter(field) is null)
                    throw new InvalidParameterValueException($"{path}: column '{field.Name}' has type {field.ClrType.Name}, which Cairn cannot train on; store it as a number, a boolean or a string.");
            }
            if (fields.Length == 0) throw new InvalidParameterValueException($"{path}: the file has no columns.");
            var total = Enumerable.Range(0, reader.RowGroupCount).Sum(g => reader.RowGroups[g].RowCount);
            if (total == 0) throw new InvalidParameterValueException($"{path}: the file has columns but no rows.");
            if (total > int.MaxValue) throw new InvalidParameterValueException($"{path}: {total} rows is more than one table can hold in memory here.");

            var rowCount = (int)total;
            var readers = fields.Select(f => ColumnReader.For(f, rowCount)).ToArray();
            var offset = 0;
            for (var g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = reader.OpenRowGroupReader(g);
                var rows = (int)group.RowCount;
                for (var c = 0; c < fields.Length; c++) await readers[c].ReadAsync(group, fields[c], offset, rows, cancellationToken).ConfigureAwait(false);
                offset += rows;
            }
            return CsvTable.FromColumns(path, fields.Select(f => f.Name).ToList(), readers.Select(r => r.Column).ToArray(), rowCount);
        }
    }

    /// <summary>
    /// Streams a Parquet file one row group at a time (the unit Parquet stores and compresses), each as a table typed as
    /// <see cref="ReadAsync"/> types the whole file, so memory is bounded by the largest row group, not the file.
    /// <paramref name="totalRows"/> is told the file's row count before the first group.
    /// </summary>
    public static async IAsyncEnumerable<CsvTable> ReadRowGroupsAsync(string path, Action<long>? totalRows = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (!File.Exists(path)) throw new ResourceDoesNotExistException($"Data file '{path}' does not exist.");
        await using var stream = File.OpenRead(path);
        ParquetReader reader;
        try
        {
            reader = await ParquetReader.CreateAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException || e.GetType().Namespace?.StartsWith("Parquet", StringComparison.Ordinal) == true)
        {
            throw new InvalidParameterValueException($"{path}: not a readable Parquet file ({e.Message}).");
        }
        await using (reader)
        {
            var fields = CheckedFields(reader, path);
            var total = Enumerable.Range(0, reader.RowGroupCount).Sum(g => reader.RowGroups[g].RowCount);
            if (total == 0) throw new InvalidParameterValueException($"{path}: the file has columns but no rows.");
            totalRows?.Invoke(total);
            long before = 0;
            for (var g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = reader.OpenRowGroupReader(g);
                if (group.RowCount > int.MaxValue) throw new InvalidParameterValueException($"{path}: row group {g} has {group.RowCount} rows, more than one table can hold.");
                var rows = (int)group.RowCount;
                if (rows == 0) continue;
                var readers = fields.Select(f => ColumnReader.For(f, rows)).ToArray();
                for (var c = 0; c < fields.Length; c++) await readers[c].ReadAsync(group, fields[c], 0, rows, cancellationToken).ConfigureAwait(false);
                yield return CsvTable.FromColumns(path, fields.Select(f => f.Name).ToList(), readers.Select(r => r.Column).ToArray(), rows, before);
                before += rows;
            }
        }
    }

    private static DataField[] CheckedFields(ParquetReader reader, string path)
    {
        if (reader.Schema.Fields.FirstOrDefault(f => f is not DataField) is { } nested)
            throw new InvalidParameterValueException($"{path}: column '{nested.Name}' is a {nested.SchemaType.ToString().ToLowerInvariant()}; Cairn reads flat columns of numbers, booleans and strings.");
        var fields = reader.Schema.GetDataFields();
        foreach (var field in fields)
        {
            if (field.IsArray) throw new InvalidParameterValueException($"{path}: column '{field.Name}' holds lists; Cairn reads flat columns of numbers, booleans and strings.");
            if (Formatter(field) is null)
                throw new InvalidParameterValueException($"{path}: column '{field.Name}' has type {field.ClrType.Name}, which Cairn cannot read; store it as a number, a boolean or a string.");
        }
        if (fields.Length == 0) throw new InvalidParameterValueException($"{path}: the file has no columns.");
        return fields;
    }

    /// <summary>Reads one column's row groups into its place in the whole column.</summary>
    private abstract class ColumnReader
    {
        public abstract CsvTable.Column Column { get; }

        public abstract Task ReadAsync(ParquetRowGroupReader group, DataField field, int offset, int rows, CancellationToken ct);

        public static ColumnReader For(DataField field, int total)
        {
            var type = Nullable.GetUnderlyingType(field.ClrType) ?? field.ClrType;
            if (IsText(type)) return new Strings(total);
            return Type.GetTypeCode(type) switch
            {
                TypeCode.Boolean => new Booleans(field, total),
                TypeCode.SByte => new Numbers<sbyte>(field, total, v => v, v => v.ToString(CultureInfo.InvariantCulture)),
                TypeCode.Byte => new Numbers<byte>(field, total, v => v, v => v.ToString(CultureInfo.InvariantCulture)),
                TypeCode.Int16 => new Numbers<short>(field, total, v => v, v => v.ToString(CultureInfo.InvariantCulture)),
                TypeCode.UInt16 => new Numbers<ushort>(field, total, v => v, v => v.ToString(CultureInfo.InvariantCulture)),
                TypeCode.Int32 => new Numbers<int>(field, total, v => v, v => v.ToString(CultureInfo.InvariantCulture)),
                TypeCode.UInt32 => new Numbers<uint>(field, total, v => v, v => v.ToString(CultureInfo.InvariantCulture)),
                // Conversions from 64-bit integers round to the nearest double, as parsing their text did.
                TypeCode.Int64 => new Numbers<long>(field, total, v => v, v => v.ToString(CultureInfo.InvariantCulture)),
                TypeCode.UInt64 => new Numbers<ulong>(field, total, v => v, v => v.ToString(CultureInfo.InvariantCulture)),
                TypeCode.Single => new Numbers<float>(field, total, v => v, v => v.ToString("R", CultureInfo.InvariantCulture)),
                TypeCode.Double => new Numbers<double>(field, total, v => v, v => v.ToString("R", CultureInfo.InvariantCulture)),
                // A decimal's nearest double is its text parsed (the cast is not always correctly rounded); decimals are rare.
                TypeCode.Decimal => new Numbers<decimal>(field, total, v => double.Parse(v.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
                    v => v.ToString(CultureInfo.InvariantCulture)),
                _ => throw new InvalidOperationException($"unchecked column type {type}"),
            };
        }
    }

    private sealed class Strings(int total) : ColumnReader
    {
        private readonly string?[] _values = new string?[total];

        public override CsvTable.Column Column => new() { Text = _values };

        public override async Task ReadAsync(ParquetRowGroupReader group, DataField field, int offset, int rows, CancellationToken ct)
        {
            var strings = _values.AsMemory(offset, rows);
            await group.ReadAsync(field, strings, null, ct).ConfigureAwait(false);
            for (var i = offset; i < offset + rows; i++) if (string.IsNullOrEmpty(_values[i])) _values[i] = null;
        }
    }

    /// <summary>Booleans are <c>true</c>/<c>false</c> strings: a categorical feature, or a binary label.</summary>
    private sealed class Booleans(DataField field, int total) : ColumnReader
    {
        private readonly string?[] _values = new string?[total];

        public override CsvTable.Column Column => new() { Text = _values };

        public override async Task ReadAsync(ParquetRowGroupReader group, DataField f, int offset, int rows, CancellationToken ct)
        {
            if (field.IsNullable)
            {
                var values = new bool?[rows];
                await group.ReadAsync(f, values.AsMemory(), null, ct).ConfigureAwait(false);
                for (var i = 0; i < rows; i++) _values[offset + i] = values[i] is { } v ? v ? "true" : "false" : null;
            }
            else
            {
                var values = new bool[rows];
                await group.ReadAsync(f, values.AsMemory(), null, ct).ConfigureAwait(false);
                for (var i = 0; i < rows; i++) _values[offset + i] = values[i] ? "true" : "false";
            }
        }
    }

    /// <summary>
    /// A numeric column read into its type, converted to doubles (NaN where null or NaN); its strings, when someone asks,
    /// are the values formatted in invariant culture (round-tripping exactly).
    /// </summary>
    private sealed class Numbers<T>(DataField field, int total, Func<T, double> toDouble, Func<T, string> format) : ColumnReader
        where T : struct
    {
        private readonly T[] _values = new T[total];
        private readonly double[] _numbers = new double[total];

        public override CsvTable.Column Column => new()
        {
            Numbers = _numbers,
            MakeText = () =>
            {
                var text = new string?[_numbers.Length];
                for (var i = 0; i < text.Length; i++) text[i] = double.IsNaN(_numbers[i]) ? null : format(_values[i]);
                return text;
            },
        };

        public override async Task ReadAsync(ParquetRowGroupReader group, DataField f, int offset, int rows, CancellationToken ct)
        {
            if (field.IsNullable)
            {
                var values = new T?[rows];
                await group.ReadAsync(f, values.AsMemory(), null, ct).ConfigureAwait(false);
                for (var i = 0; i < rows; i++)
                {
                    _values[offset + i] = values[i] ?? default;
                    _numbers[offset + i] = values[i] is { } v ? toDouble(v) : double.NaN;
                }
            }
            else
            {
                await group.ReadAsync(f, _values.AsMemory(offset, rows), null, ct).ConfigureAwait(false);
                for (var i = offset; i < offset + rows; i++) _numbers[i] = toDouble(_values[i]);
            }
        }
    }

    /// <summary>UTF-8 string columns (Parquet.Net 6 reports them as <c>ReadOnlyMemory&lt;char&gt;</c>).</summary>
    private static bool IsText(Type type) => type == typeof(string) || type == typeof(ReadOnlyMemory<char>);

    /// <summary>Whether a column type is one Cairn reads (non-null when it is).</summary>
    private static string? Formatter(DataField field)
    {
        var type = Nullable.GetUnderlyingType(field.ClrType) ?? field.ClrType;
        return IsText(type) || Type.GetTypeCode(type) is >= TypeCode.Boolean and <= TypeCode.Decimal and not TypeCode.Char ? type.Name : null;
    }
}
