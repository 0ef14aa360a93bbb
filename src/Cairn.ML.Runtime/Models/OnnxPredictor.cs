using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Cairn.ML.Models;

/// <summary>
/// Scores with an ONNX graph through an OnnxRuntime <see cref="InferenceSession"/> (CPU). A batch passes each graph input
/// as a column of that name: a <c>float[][]</c>/<c>double[][]</c> tensor column (one vector per row) or a scalar column
/// for a 1-D input. A graph with one 2-D input also accepts plain feature columns, stacked in the batch's column order
/// (a CSV with one column per feature). Outputs come back as columns: scalar arrays for 1-D (or [N,1]) tensors, vectors otherwise.
/// Thread-safe: OnnxRuntime sessions allow concurrent Run calls.
/// </summary>
public sealed class OnnxPredictor : IModelPredictor
{
    private readonly InferenceSession _session;

    public OnnxPredictor(string modelPath)
    {
        if (!File.Exists(modelPath)) throw new ResourceDoesNotExistException($"The ONNX model file '{modelPath}' does not exist.");
        try
        {
            _session = new InferenceSession(modelPath);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidParameterValueException($"'{modelPath}' is not a valid ONNX model: {e.Message}");
        }
        Inputs = _session.InputMetadata.Select(kv => Spec(kv.Key, kv.Value)).ToList();
        Outputs = _session.OutputMetadata.Select(kv => Spec(kv.Key, kv.Value)).ToList();
    }

    public string Flavor => ModelManifest.OnnxFlavor;

    public IReadOnlyList<ColumnSpec> Inputs { get; }

    public IReadOnlyList<ColumnSpec> Outputs { get; }

    public ColumnBatch Predict(ColumnBatch input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var names = new List<string>();
        var values = new List<OrtValue>();
        try
        {
            foreach (var (name, meta) in _session.InputMetadata)
            {
                names.Add(name);
                values.Add(ToOrtValue(name, meta, input, _session.InputMetadata.Count == 1));
            }
            // Held (and disposed) past Run: an options object made inline can be finalized while the native Run still reads it,
            // which under concurrent load made Run fail with an invalid log severity.
            using var options = new RunOptions();
            using var results = _session.Run(options, names, values, _session.OutputNames);
            var batch = new ColumnBatch();
            var i = 0;
            foreach (var outputName in _session.OutputNames) batch.Add(outputName, FromOrtValue(outputName, results[i++]));
            return batch;
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidParameterValueException($"The ONNX model refused the batch: {e.Message}");
        }
        finally
        {
            foreach (var value in values) value.Dispose();
        }
    }

    private static OrtValue ToOrtValue(string name, NodeMetadata meta, ColumnBatch input, bool stackColumns)
    {
        var rows = input.RowCount;
        var dims = meta.Dimensions;
        Array column;
        if (input.TryGet(name, out var found)) column = found;
        else if (stackColumns && dims.Length == 2 && (dims[1] < 0 || dims[1] == input.ColumnCount) && input.ColumnCount > 0)
        {
            var columns = input.Names.Select(input.GetDoubles).ToArray();
            var stacked = new double[rows][];
            for (var r = 0; r < rows; r++) stacked[r] = Array.ConvertAll(columns, c => c[r]);
            column = stacked;
        }
        else throw new InvalidParameterValueException($"The batch has no column '{name}', an input of the ONNX model (shape [{string.Join(", ", dims)}]).");

        var width = column switch
        {
            float[][] f => f.Length == 0 ? Math.Max(dims.Length > 1 ? dims[1] : 0, 0) : f[0].Length,
            double[][] d => d.Length == 0 ? Math.Max(dims.Length > 1 ? dims[1] : 0, 0) : d[0].Length,
            _ => -1,
        };
        long[] shape = width >= 0 ? [rows, width] : dims.Length == 2 ? [rows, 1] : [rows];
        if (width < 0 && !input.Contains(name)) throw Ragged(name);
        var elementType = meta.ElementDataType;
        return elementType switch
        {
            TensorElementType.Float => OrtValue.CreateTensorValueFromMemory(Flatten<float>(name, column, width, rows, input), shape),
            TensorElementType.Double => OrtValue.CreateTensorValueFromMemory(Flatten<double>(name, column, width, rows, input), shape),
            TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory(Flatten<long>(name, column, width, rows, input), shape),
            TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory(Flatten<int>(name, column, width, rows, input), shape),
            _ => throw new InvalidParameterValueException($"Input '{name}' of the ONNX model has element type {elementType}, which batches cannot provide yet."),
        };
    }

    /// <summary>The column as one row-major array of the tensor's element type, converted value by value without intermediate copies.</summary>
    private static T[] Flatten<T>(string name, Array column, int width, int rows, ColumnBatch input) where T : struct, System.Numerics.INumberBase<T>
    {
        switch (column)
        {
            case T[] same when width < 0:
                return same;
            case float[][] f:
            {
                var flat = new T[rows * width];
                for (var r = 0; r < rows; r++)
                {
                    var row = f[r];
                    if (row.Length != width) throw Ragged(name);
                    for (var c = 0; c < width; c++) flat[r * width + c] = T.CreateTruncating(row[c]);
                }
                return flat;
            }
            case double[][] d:
            {
                var flat = new T[rows * width];
                for (var r = 0; r < rows; r++)
                {
                    var row = d[r];
                    if (row.Length != width) throw Ragged(name);
                    for (var c = 0; c < width; c++) flat[r * width + c] = T.CreateTruncating(row[c]);
                }
                return flat;
            }
            default:
                return Array.ConvertAll(input.GetDoubles(name), v => T.CreateTruncating(v));
        }
    }

    private static Array FromOrtValue(string name, OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        var shape = info.Shape;
        var rows = shape.Length == 0 ? 1 : (int)shape[0];
        var width = shape.Length <= 1 ? 1 : (int)(info.ElementCount / Math.Max(rows, 1));
        switch (info.ElementDataType)
        {
            case TensorElementType.String:
                return value.GetStringTensorAsArray();
            case TensorElementType.Bool:
                return value.GetTensorDataAsSpan<bool>().ToArray();
            case TensorElementType.Int64:
                return value.GetTensorDataAsSpan<long>().ToArray();
        }
        float[] data = info.ElementDataType switch
        {
            TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray(),
            TensorElementType.Double => Array.ConvertAll(value.GetTensorDataAsSpan<double>().ToArray(), v => (float)v),
            TensorElementType.Int32 => Array.ConvertAll(value.GetTensorDataAsSpan<int>().ToArray(), v => (float)v),
            var other => throw new InvalidParameterValueException($"Output '{name}' of the ONNX model has element type {other}, which Cairn cannot return yet."),
        };
        if (shape.Length <= 1 || width == 1) return data;
        var result = new float[rows][];
        for (var r = 0; r < rows; r++) result[r] = data.AsSpan(r * width, width).ToArray();
        return result;
    }

    private static InvalidParameterValueException Ragged(string name) =>
        new($"Column '{name}' does not match the ONNX model's input: every row needs the same number of values.");

    private static ColumnSpec Spec(string name, NodeMetadata meta) =>
        new(name, "tensor", meta.IsTensor ? NumpyType(meta.ElementDataType) : "object", meta.Dimensions.Select(d => (long)d).ToList());

    private static string NumpyType(TensorElementType type) => type switch
    {
        TensorElementType.Float => "float32",
        TensorElementType.Double => "float64",
        TensorElementType.Int64 => "int64",
        TensorElementType.Int32 => "int32",
        TensorElementType.Bool => "bool",
        TensorElementType.String => "str",
        _ => type.ToString().ToLowerInvariant(),
    };

    public void Dispose() => _session.Dispose();
}
