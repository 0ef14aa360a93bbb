using System.Runtime.InteropServices;
using System.Text;

namespace Cairn.Serving;

/// <summary>
/// The compact columnar encoding of a prediction block: one array per column, written back to back, so a window read
/// decodes whole columns with block copies instead of parsing a value per row. Layout (little-endian):
/// <c>format byte (1), column count (int32), then per column: name (int32 byte length + UTF-8), type code (byte),
/// row count (int32), values</c>. Numbers are raw arrays; a string is an int32 byte length (-1 for null) and its UTF-8;
/// a tensor column is an int32 length per row followed by all the elements.
/// </summary>
internal static class PredictionColumnCodec
{
    private const byte Format = 1;

    private enum TypeCode : byte
    {
        Double = 1, Single = 2, Int64 = 3, Int32 = 4, Boolean = 5, String = 6, SingleTensor = 7, DoubleTensor = 8,
    }

    /// <summary>Checks that <paramref name="values"/> is an array the log can store and has <paramref name="rows"/> elements.</summary>
    public static void Validate(string field, string name, Array values, int rows)
    {
        _ = Code(values) ?? throw new InvalidParameterValueException(
            $"Column '{name}' of {field} has type {values.GetType().Name}; the prediction log stores double, float, long, int, bool, string, float[] and double[] columns.");
        if (values.Length != rows)
            throw new InvalidParameterValueException($"Column '{name}' of {field} has {values.Length} values; the batch has {rows} rows.");
    }

    private static TypeCode? Code(Array values) => values switch
    {
        double[] => TypeCode.Double,
        float[] => TypeCode.Single,
        long[] => TypeCode.Int64,
        int[] => TypeCode.Int32,
        bool[] => TypeCode.Boolean,
        string?[] => TypeCode.String,
        float[][] => TypeCode.SingleTensor,
        double[][] => TypeCode.DoubleTensor,
        _ => null,
    };

    /// <summary>Encodes columns of <paramref name="rows"/> rows.</summary>
    public static byte[] Encode(IReadOnlyList<KeyValuePair<string, Array>> columns, int rows)
    {
        using var stream = new MemoryStream(64 + rows * 8 * Math.Max(1, columns.Count));
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Format);
            writer.Write(columns.Count);
            foreach (var (name, values) in columns)
            {
                WriteString(writer, name);
                var code = Code(values) ?? throw new InvalidOperationException($"Column '{name}' has an unsupported type {values.GetType().Name}.");
                writer.Write((byte)code);
                writer.Write(rows);
                WriteValues(writer, code, values);
            }
        }
        return stream.ToArray();
    }

    /// <summary>Encodes the columns of several parts, each of the same layout, as one set of columns (the parts' rows in order).</summary>
    public static byte[] EncodeConcatenated(IReadOnlyList<IReadOnlyList<KeyValuePair<string, Array>>> parts, IReadOnlyList<int> rows)
    {
        if (parts.Count == 1) return Encode(parts[0], rows[0]);
        var columns = new List<KeyValuePair<string, Array>>(parts[0].Count);
        var total = rows.Sum();
        for (var i = 0; i < parts[0].Count; i++)
        {
            var first = parts[0][i].Value;
            var joined = Array.CreateInstance(first.GetType().GetElementType()!, total);
            var at = 0;
            foreach (var part in parts)
            {
                if (part.Count != parts[0].Count || part[i].Key != parts[0][i].Key || part[i].Value.GetType() != first.GetType())
                    throw new InvalidOperationException("Requests of different column layouts were grouped into one prediction block.");
                var values = part[i].Value;
                Array.Copy(values, 0, joined, at, values.Length);
                at += values.Length;
            }
            columns.Add(new(parts[0][i].Key, joined));
        }
        return Encode(columns, total);
    }

    /// <summary>
    /// A 64-bit hash of the column names and element types in order, equal for lists of the same layout, computed without
    /// allocating (it runs once per logged request). <see cref="EncodeConcatenated"/> checks the layouts it joins.
    /// </summary>
    public static ulong LayoutHash(IReadOnlyList<KeyValuePair<string, Array>> columns)
    {
        var hash = 14695981039346656037UL;
        foreach (var (name, values) in columns)
        {
            foreach (var c in name) { hash ^= c; hash *= 1099511628211UL; }
            hash ^= 0x10000UL + (ulong)((int?)Code(values) ?? 0);
            hash *= 1099511628211UL;
        }
        return hash;
    }

    /// <summary>Decodes what <see cref="Encode"/> wrote.</summary>
    public static List<KeyValuePair<string, Array>> Decode(byte[] data)
    {
        using var reader = new BinaryReader(new MemoryStream(data, writable: false), Encoding.UTF8);
        if (reader.ReadByte() != Format) throw new InvalidDataException("Unknown prediction block format.");
        var count = reader.ReadInt32();
        var columns = new List<KeyValuePair<string, Array>>(count);
        for (var i = 0; i < count; i++)
        {
            var name = ReadString(reader) ?? "";
            var code = (TypeCode)reader.ReadByte();
            var rows = reader.ReadInt32();
            columns.Add(new(name, ReadValues(reader, code, rows)));
        }
        return columns;
    }

    private static void WriteString(BinaryWriter writer, string? value)
    {
        if (value is null)
        {
            writer.Write(-1);
            return;
        }
        var bytes = Encoding.UTF8.GetBytes(value);
        writer.Write(bytes.Length);
        writer.Write(bytes);
    }

    private static string? ReadString(BinaryReader reader)
    {
        var length = reader.ReadInt32();
        return length < 0 ? null : Encoding.UTF8.GetString(reader.ReadBytes(length));
    }

    private static void WriteRaw<T>(BinaryWriter writer, T[] values) where T : unmanaged
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("The prediction log encoding assumes a little-endian machine.");
        writer.Write(MemoryMarshal.AsBytes(values.AsSpan()));
    }

    private static T[] ReadRaw<T>(BinaryReader reader, int count) where T : unmanaged
    {
        var values = new T[count];
        var bytes = MemoryMarshal.AsBytes(values.AsSpan());
        if (reader.Read(bytes) != bytes.Length) throw new EndOfStreamException("A prediction block ends early.");
        return values;
    }

    private static void WriteValues(BinaryWriter writer, TypeCode code, Array values)
    {
        switch (code)
        {
            case TypeCode.Double: WriteRaw(writer, (double[])values); break;
            case TypeCode.Single: WriteRaw(writer, (float[])values); break;
            case TypeCode.Int64: WriteRaw(writer, (long[])values); break;
            case TypeCode.Int32: WriteRaw(writer, (int[])values); break;
            case TypeCode.Boolean:
                foreach (var b in (bool[])values) writer.Write(b);
                break;
            case TypeCode.String:
                foreach (var s in (string?[])values) WriteString(writer, s);
                break;
            case TypeCode.SingleTensor:
                WriteTensor(writer, (float[][])values);
                break;
            case TypeCode.DoubleTensor:
                WriteTensor(writer, (double[][])values);
                break;
        }
    }

    private static void WriteTensor<T>(BinaryWriter writer, T[]?[] rows) where T : unmanaged
    {
        foreach (var row in rows) writer.Write(row?.Length ?? 0);
        foreach (var row in rows) if (row is not null) WriteRaw(writer, row);
    }

    private static T[][] ReadTensor<T>(BinaryReader reader, int rows) where T : unmanaged
    {
        var lengths = ReadRaw<int>(reader, rows);
        var values = new T[rows][];
        for (var i = 0; i < rows; i++) values[i] = ReadRaw<T>(reader, lengths[i]);
        return values;
    }

    private static Array ReadValues(BinaryReader reader, TypeCode code, int rows) => code switch
    {
        TypeCode.Double => ReadRaw<double>(reader, rows),
        TypeCode.Single => ReadRaw<float>(reader, rows),
        TypeCode.Int64 => ReadRaw<long>(reader, rows),
        TypeCode.Int32 => ReadRaw<int>(reader, rows),
        TypeCode.Boolean => ReadRaw<byte>(reader, rows).Select(b => b != 0).ToArray(),
        TypeCode.String => Enumerable.Range(0, rows).Select(_ => ReadString(reader)).ToArray(),
        TypeCode.SingleTensor => ReadTensor<float>(reader, rows),
        TypeCode.DoubleTensor => ReadTensor<double>(reader, rows),
        _ => throw new InvalidDataException($"Unknown column type {(byte)code} in a prediction block."),
    };
}
