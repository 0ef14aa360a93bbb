using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Cairn.ML.Models;

/// <summary>
/// An ML.NET <see cref="IDataView"/> over arrays in memory, so batches of any schema can be scored or trained on
/// without compile-time row classes. Supported column types: Single, Boolean, Text and UInt32 keys, one array element per
/// row; and fixed-size Single vectors, stored as one dense row-major <c>float[]</c> of rows x size.
/// </summary>
internal sealed class ColumnDataView : IDataView
{
    private readonly Array[] _columns;
    private readonly int _rows;

    public ColumnDataView(IReadOnlyList<(string Name, DataViewType Type, Array Values)> columns)
    {
        var builder = new DataViewSchema.Builder();
        foreach (var (name, type, _) in columns) builder.AddColumn(name, type);
        Schema = builder.ToSchema();
        _columns = columns.Select(c => c.Values).ToArray();
        _rows = columns.Count == 0 ? 0 : columns[0].Type is VectorDataViewType { Size: > 0 and var size } ? columns[0].Values.Length / size : columns[0].Values.Length;
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _rows;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => [new Cursor(this)];

    /// <summary>Converts a batch column to what <paramref name="type"/> needs: float for Single, text, bool.</summary>
    public static Array Convert(ColumnBatch batch, string name, DataViewType type)
    {
        if (type is NumberDataViewType { RawType: var raw } && raw == typeof(float))
            return batch[name] is float[] f ? f : Array.ConvertAll(batch.GetDoubles(name), v => (float)v);
        if (type is TextDataViewType)
            return Array.ConvertAll(batch.GetStrings(name), s => (s ?? "").AsMemory());
        if (type is BooleanDataViewType)
            return batch[name] is bool[] b ? b : Array.ConvertAll(batch.GetDoubles(name), v => v != 0);
        throw new InvalidParameterValueException($"Column '{name}': the model expects {type}, which batches cannot provide yet.");
    }

    private sealed class Cursor(ColumnDataView view) : DataViewRowCursor
    {
        private long _position = -1;

        public override DataViewSchema Schema => view.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override bool IsColumnActive(DataViewSchema.Column column) => true;

        public override bool MoveNext() => ++_position < view._rows;

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Type is VectorDataViewType { Size: var size })
            {
                var matrix = (float[])view._columns[column.Index];
                ValueGetter<VBuffer<float>> vector = [MethodImpl(MethodImplOptions.AggressiveOptimization)] (ref VBuffer<float> value) =>
                {
                    var editor = VBufferEditor.Create(ref value, size);
                    new ReadOnlySpan<float>(matrix, (int)(_position * size), size).CopyTo(editor.Values);
                    value = editor.Commit();
                };
                return (ValueGetter<TValue>)(Delegate)vector;
            }
            var values = (TValue[])view._columns[column.Index];
            // Getters run once per row per pass; ML.NET asks for them with value types no precompiled code covers, so they are
            // compiled optimized at once rather than running unoptimized until the runtime gets round to them.
            return [MethodImpl(MethodImplOptions.AggressiveOptimization)] (ref TValue value) => value = values[_position];
        }
    }
}
