using System.Globalization;
using Parquet;
using Parquet.Schema;

namespace Cairn.ML.Training;

/// <summary>
/// Reads a Parquet file (every row group) into a <see cref="CsvTable"/>, so training and evaluation treat it exactly like the
/// same data in CSV: numbers (integers, floats, decimals) become numeric text in invariant culture and round-trip exactly,
/// booleans become <c>true</c>/<c>false</c> (a categorical feature, or a binary label), strings stay strings, nulls stay null.
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

            var columns = fields.Select(_ => new string?[total]).ToArray();
            var offset = 0;
            for (var g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = reader.OpenRowGroupReader(g);
                var rows = (int)group.RowCount;
                for (var c = 0; c < fields.Length; c++)
                {
                    var values = await ReadColumnAsync(group, fields[c], rows, cancellationToken).ConfigureAwait(false);
                    Array.Copy(values, 0, columns[c], offset, rows);
                }
                offset += rows;
            }
            return CsvTable.FromColumns(path, fields.Select(f => f.Name).ToList(), columns);
        }
    }

    private static async Task<string?[]> ReadColumnAsync(ParquetRowGroupReader group, DataField field, int rows, CancellationToken ct)
    {
        var type = Nullable.GetUnderlyingType(field.ClrType) ?? field.ClrType;
        if (IsText(type))
        {
            var strings = new string?[rows];
            await group.ReadAsync(field, strings.AsMemory(), null, ct).ConfigureAwait(false);
            return strings.Select(s => string.IsNullOrEmpty(s) ? null : s).ToArray();
        }
        return Type.GetTypeCode(type) switch
        {
            TypeCode.Boolean => await Values<bool>(group, field, rows, b => b ? "true" : "false", ct).ConfigureAwait(false),
            TypeCode.SByte => await Values<sbyte>(group, field, rows, v => v.ToString(CultureInfo.InvariantCulture), ct).ConfigureAwait(false),
            TypeCode.Byte => await Values<byte>(group, field, rows, v => v.ToString(CultureInfo.InvariantCulture), ct).ConfigureAwait(false),
            TypeCode.Int16 => await Values<short>(group, field, rows, v => v.ToString(CultureInfo.InvariantCulture), ct).ConfigureAwait(false),
            TypeCode.UInt16 => await Values<ushort>(group, field, rows, v => v.ToString(CultureInfo.InvariantCulture), ct).ConfigureAwait(false),
            TypeCode.Int32 => await Values<int>(group, field, rows, v => v.ToString(CultureInfo.InvariantCulture), ct).ConfigureAwait(false),
            TypeCode.UInt32 => await Values<uint>(group, field, rows, v => v.ToString(CultureInfo.InvariantCulture), ct).ConfigureAwait(false),
            TypeCode.Int64 => await Values<long>(group, field, rows, v => v.ToString(CultureInfo.InvariantCulture), ct).ConfigureAwait(false),
            TypeCode.UInt64 => await Values<ulong>(group, field, rows, v => v.ToString(CultureInfo.InvariantCulture), ct).ConfigureAwait(false),
            TypeCode.Single => await Values<float>(group, field, rows, v => v.ToString("R", CultureInfo.InvariantCulture), ct).ConfigureAwait(false),
            TypeCode.Double => await Values<double>(group, field, rows, v => v.ToString("R", CultureInfo.InvariantCulture), ct).ConfigureAwait(false),
            TypeCode.Decimal => await Values<decimal>(group, field, rows, v => v.ToString(CultureInfo.InvariantCulture), ct).ConfigureAwait(false),
            _ => throw new InvalidOperationException($"unchecked column type {type}"),
        };
    }

    /// <summary>Reads a primitive column (nullable or not) and formats each present value; NaN stays a missing value.</summary>
    private static async Task<string?[]> Values<T>(ParquetRowGroupReader group, DataField field, int rows, Func<T, string> format, CancellationToken ct)
        where T : struct
    {
        var text = new string?[rows];
        if (field.IsNullable)
        {
            var values = new T?[rows];
            await group.ReadAsync(field, values.AsMemory(), null, ct).ConfigureAwait(false);
            for (var i = 0; i < rows; i++) text[i] = values[i] is { } v ? Missing(format(v)) : null;
        }
        else
        {
            var values = new T[rows];
            await group.ReadAsync(field, values.AsMemory(), null, ct).ConfigureAwait(false);
            for (var i = 0; i < rows; i++) text[i] = Missing(format(values[i]));
        }
        return text;
    }

    private static string? Missing(string value) => value == "NaN" ? null : value;

    /// <summary>UTF-8 string columns (Parquet.Net 6 reports them as <c>ReadOnlyMemory&lt;char&gt;</c>).</summary>
    private static bool IsText(Type type) => type == typeof(string) || type == typeof(ReadOnlyMemory<char>);

    /// <summary>Whether a column type is one Cairn reads (non-null when it is).</summary>
    private static string? Formatter(DataField field)
    {
        var type = Nullable.GetUnderlyingType(field.ClrType) ?? field.ClrType;
        return IsText(type) || Type.GetTypeCode(type) is >= TypeCode.Boolean and <= TypeCode.Decimal and not TypeCode.Char ? type.Name : null;
    }
}
