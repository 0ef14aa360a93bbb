using Microsoft.ML;
using Microsoft.ML.Data;

namespace Cairn.ML.Models;

/// <summary>
/// Scores with an ML.NET model saved as <c>model.zip</c> (the whole transform chain, featurization included).
/// Input columns are converted to what the chain was trained on (numbers to Single, text, bool); outputs are the
/// columns the chain adds: <c>PredictedLabel</c>, <c>Score</c>, <c>Probability</c>. Thread-safe: when the chain maps row to
/// row (every trained Cairn chain does), batches go row by row through a pool of engines, each with its own row mapper
/// (what ML.NET's PredictionEngine does, without compile-time row classes), so a one-row request costs no view building;
/// otherwise each call builds its own view. A chain ending in a tree ensemble (FastTree, LightGbm, FastForest; binary or
/// regression) scores by walking its trees over the batch's feature vectors (<see cref="TreeChainScorer"/>), with the same
/// outputs as ML.NET's scorer at a fraction of its cost.
/// </summary>
public sealed class MlNetPredictor : IModelPredictor
{
    private readonly MLContext _ml = new(seed: 0);
    private readonly ITransformer _model;
    private readonly DataViewSchema _inputSchema;
    private readonly List<DataViewSchema.Column> _outputColumns;
    private readonly bool _rowMapping;
    private readonly System.Collections.Concurrent.ConcurrentBag<RowEngine> _engines = [];
    private readonly TreeChainScorer? _trees;

    public MlNetPredictor(string modelZip, IReadOnlyList<ColumnSpec>? declaredInputs = null)
    {
        if (!File.Exists(modelZip)) throw new ResourceDoesNotExistException($"The ML.NET model file '{modelZip}' does not exist.");
        _model = _ml.Model.Load(modelZip, out var savedSchema);
        // The saved schema may hold the label and other training-only columns: keep the ones the signature names.
        var names = declaredInputs is { Count: > 0 } ? declaredInputs.Select(s => s.Name).ToHashSet(StringComparer.Ordinal) : null;
        var builder = new DataViewSchema.Builder();
        foreach (var column in savedSchema)
            if (!column.IsHidden && (names is null || names.Contains(column.Name))) builder.AddColumn(column.Name, column.Type);
        _inputSchema = builder.ToSchema();
        Inputs = _inputSchema.Select(c => new ColumnSpec(c.Name, MlflowType(c.Type))).ToList();
        (_outputColumns, Outputs) = OutputsOf(_model, _inputSchema);
        _rowMapping = _model.IsRowToRowMapper && _inputSchema.All(c => c.Type is TextDataViewType or BooleanDataViewType
            || c.Type is NumberDataViewType { RawType: var raw } && raw == typeof(float));
        _trees = TreeChainScorer.TryCreate(_model, _inputSchema, _outputColumns);
    }

    /// <summary>The tree walk batches are scored with, or null when they go through ML.NET's scorer.</summary>
    internal TreeChainScorer? Trees => _trees;

    /// <summary>
    /// The columns a chain adds to <paramref name="inputSchema"/> that a caller reads (the prediction columns ML.NET trainers
    /// write, or everything readable it adds when it writes none of those), with their MLflow column specs.
    /// </summary>
    internal static (List<DataViewSchema.Column> Columns, IReadOnlyList<ColumnSpec> Specs) OutputsOf(ITransformer model, DataViewSchema inputSchema)
    {
        var outputSchema = model.GetOutputSchema(inputSchema);
        var added = outputSchema.Where(c => !c.IsHidden && inputSchema.GetColumnOrNull(c.Name) is null && IsReadable(c.Type)).ToList();
        // The prediction columns ML.NET trainers write; the featurization columns in between are not outputs.
        var predictions = added.Where(c => c.Name is "PredictedLabel" or "Score" or "Probability").ToList();
        var columns = predictions.Count > 0 ? predictions : added;
        return (columns, columns.Select(c => c.Type is VectorDataViewType v
            ? new ColumnSpec(c.Name, "tensor", "float32", [-1, v.Size])
            : new ColumnSpec(c.Name, MlflowType(c.Type))).ToList());
    }

    public string Flavor => ModelManifest.MlNetFlavor;

    public IReadOnlyList<ColumnSpec> Inputs { get; }

    public IReadOnlyList<ColumnSpec> Outputs { get; }

    /// <summary>The ML.NET chain, for callers that evaluate with ML.NET's own catalogs.</summary>
    internal ITransformer Model => _model;

    /// <summary>A view of <paramref name="input"/> in the schema the chain expects.</summary>
    internal IDataView ToDataView(ColumnBatch input, IEnumerable<(string Name, DataViewType Type, Array Values)>? extra = null)
    {
        var columns = _inputSchema.Select(c => (c.Name, c.Type, ColumnDataView.Convert(input, c.Name, c.Type))).ToList();
        if (extra is not null) columns.AddRange(extra);
        return new ColumnDataView(columns);
    }

    public ColumnBatch Predict(ColumnBatch input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (_trees?.TryScore(input, batch => ToDataView(batch)) is { } walked) return walked;
        return PredictWithMlNet(input);
    }

    /// <summary>Scores through ML.NET's own scorer, whatever the chain: the reference the tree walk is compared with.</summary>
    internal ColumnBatch PredictWithMlNet(ColumnBatch input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!_rowMapping) return ReadOutputs(_model.Transform(ToDataView(input)), input.RowCount);
        var engine = _engines.TryTake(out var pooled) ? pooled : new RowEngine(this);
        var result = engine.Run(input);
        // Engines are kept for reuse up to a bound; an engine that threw is dropped (its state is unknown).
        if (_engines.Count < 4 * Environment.ProcessorCount) _engines.Add(engine);
        return result;
    }

    /// <summary>
    /// One thread's scoring state: an input row over the batch's arrays, the chain's row mapper on it, and the output row.
    /// The input row's position rises with every row scored, since ML.NET's getters cache their value per position.
    /// </summary>
    private sealed class RowEngine
    {
        private readonly MlNetPredictor _owner;
        private readonly ArrayRow _input;
        private readonly DataViewRow _output;
        private readonly List<DataViewSchema.Column> _columns;

        private readonly Func<int, Array>[] _allocate;
        private readonly Action<int, Array>[] _sinks;

        public RowEngine(MlNetPredictor owner)
        {
            _owner = owner;
            _input = new ArrayRow(owner._inputSchema);
            var mapper = owner._model.GetRowToRowMapper(owner._inputSchema);
            _columns = owner._outputColumns.Select(c => mapper.OutputSchema[c.Name]).ToList();
            _output = mapper.GetRow(_input, _columns);
            // Getters are made once: they read the input row's current arrays, so they serve every batch.
            _allocate = new Func<int, Array>[_columns.Count];
            _sinks = new Action<int, Array>[_columns.Count];
            for (var i = 0; i < _columns.Count; i++) (_allocate[i], _sinks[i]) = Sink(_output, _columns[i]);
        }

        public ColumnBatch Run(ColumnBatch input)
        {
            var rows = input.RowCount;
            for (var i = 0; i < _input.Values.Length; i++)
            {
                var column = _owner._inputSchema[i];
                _input.Values[i] = ColumnDataView.Convert(input, column.Name, column.Type);
            }
            var outputs = new Array[_columns.Count];
            for (var i = 0; i < outputs.Length; i++) outputs[i] = _allocate[i](rows);
            for (var row = 0; row < rows; row++)
            {
                _input.Next(row);
                for (var i = 0; i < outputs.Length; i++) _sinks[i](row, outputs[i]);
            }
            Array.Clear(_input.Values);
            var result = new ColumnBatch();
            for (var i = 0; i < _columns.Count; i++) result.Add(_columns[i].Name, outputs[i]);
            return result;
        }

        private static (Func<int, Array>, Action<int, Array>) Sink(DataViewRow row, DataViewSchema.Column column)
        {
            switch (column.Type)
            {
                case NumberDataViewType n when n.RawType == typeof(float):
                {
                    var g = row.GetGetter<float>(column);
                    return (n => new float[n], (i, a) => { float v = 0; g(ref v); ((float[])a)[i] = v; });
                }
                case BooleanDataViewType:
                {
                    var g = row.GetGetter<bool>(column);
                    return (n => new bool[n], (i, a) => { bool v = false; g(ref v); ((bool[])a)[i] = v; });
                }
                case TextDataViewType:
                {
                    var g = row.GetGetter<ReadOnlyMemory<char>>(column);
                    return (n => new string?[n], (i, a) => { ReadOnlyMemory<char> v = default; g(ref v); ((string?[])a)[i] = v.ToString(); });
                }
                case VectorDataViewType v when v.ItemType is NumberDataViewType { RawType: var raw } && raw == typeof(float):
                {
                    var g = row.GetGetter<VBuffer<float>>(column);
                    return (n => new float[n][], (i, a) => { VBuffer<float> b = default; g(ref b); ((float[][])a)[i] = b.DenseValues().ToArray(); });
                }
                default:
                    throw new InvalidOperationException($"Output column '{column.Name}' of type {column.Type} cannot be read.");
            }
        }
    }

    /// <summary>A row over arrays (one per input column) at a settable index.</summary>
    private sealed class ArrayRow(DataViewSchema schema) : DataViewRow
    {
        private long _position = -1;
        private int _index;

        public Array?[] Values { get; } = new Array?[schema.Count];

        public void Next(int index)
        {
            _index = index;
            _position++;
        }

        public override DataViewSchema Schema => schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override bool IsColumnActive(DataViewSchema.Column column) => true;

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            var index = column.Index;
            return (ref TValue value) => value = ((TValue[])Values[index]!)[_index];
        }
    }

    internal ColumnBatch ReadOutputs(IDataView scored, int rows)
    {
        var result = new ColumnBatch();
        var columns = _outputColumns.Select(c => scored.Schema[c.Name]).ToList();
        var readers = columns.Select(c => Reader(c, rows)).ToList();
        using (var cursor = scored.GetRowCursor(columns))
        {
            var row = 0;
            var getters = readers.Select(r => r.Bind(cursor)).ToList();
            while (cursor.MoveNext())
            {
                foreach (var get in getters) get(row);
                row++;
            }
        }
        for (var i = 0; i < columns.Count; i++) result.Add(columns[i].Name, readers[i].Values);
        return result;
    }

    private sealed record ColumnReader(Array Values, Func<DataViewRow, Action<int>> Bind);

    private static ColumnReader Reader(DataViewSchema.Column column, int rows)
    {
        switch (column.Type)
        {
            case NumberDataViewType n when n.RawType == typeof(float):
            {
                var values = new float[rows];
                return new(values, cursor => { var g = cursor.GetGetter<float>(column); return i => { float v = 0; g(ref v); values[i] = v; }; });
            }
            case BooleanDataViewType:
            {
                var values = new bool[rows];
                return new(values, cursor => { var g = cursor.GetGetter<bool>(column); return i => { bool v = false; g(ref v); values[i] = v; }; });
            }
            case TextDataViewType:
            {
                var values = new string?[rows];
                return new(values, cursor => { var g = cursor.GetGetter<ReadOnlyMemory<char>>(column); return i => { ReadOnlyMemory<char> v = default; g(ref v); values[i] = v.ToString(); }; });
            }
            case VectorDataViewType v when v.ItemType is NumberDataViewType { RawType: var raw } && raw == typeof(float):
            {
                var values = new float[rows][];
                return new(values, cursor =>
                {
                    var g = cursor.GetGetter<VBuffer<float>>(column);
                    return i => { VBuffer<float> b = default; g(ref b); values[i] = b.DenseValues().ToArray(); };
                });
            }
            default:
                throw new InvalidOperationException($"Output column '{column.Name}' of type {column.Type} cannot be read.");
        }
    }

    private static bool IsReadable(DataViewType type) => type switch
    {
        NumberDataViewType n => n.RawType == typeof(float),
        BooleanDataViewType or TextDataViewType => true,
        VectorDataViewType v => v.ItemType is NumberDataViewType { RawType: var raw } && raw == typeof(float) && v.IsKnownSize,
        _ => false,
    };

    internal static string MlflowType(DataViewType type) => type switch
    {
        NumberDataViewType n when n.RawType == typeof(double) => "double",
        NumberDataViewType n when n.RawType == typeof(float) => "float",
        NumberDataViewType n when n.RawType == typeof(long) => "long",
        NumberDataViewType => "integer",
        BooleanDataViewType => "boolean",
        TextDataViewType => "string",
        _ => "string",
    };

    public void Dispose() => (_model as IDisposable)?.Dispose();
}
