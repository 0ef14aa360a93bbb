using System.Diagnostics;
using System.Text.Json;
using Cairn.ML.Models;
using Microsoft.AspNetCore.Http;

namespace Cairn.Server.Scoring;

/// <summary>
/// The Open Inference Protocol v2 (KServe, Triton, Seldon) over REST: model metadata from the signature and
/// <c>/v2/models/{name}/infer</c> with named tensors (<c>name</c>, <c>datatype</c>, <c>shape</c>, row-major <c>data</c>, flat
/// or nested). A model of named columns takes one 1-D tensor per column, or one [N, columns] tensor fed column by column;
/// a single-tensor model takes its tensor. Errors are the protocol's <c>{"error": "..."}</c> with a 4xx or 5xx status.
/// </summary>
internal static class OpenInferenceProtocol
{
    public static object ServerMetadata() => new Dictionary<string, object>
    {
        ["name"] = "cairn",
        ["version"] = typeof(OpenInferenceProtocol).Assembly.GetName().Version?.ToString() ?? "0",
        ["extensions"] = Array.Empty<string>(),
    };

    public static object ModelMetadata(ServedModel model) => new Dictionary<string, object>
    {
        ["name"] = model.Name,
        ["versions"] = new[] { model.VersionLabel },
        ["platform"] = model.Predictor.Flavor == ModelManifest.OnnxFlavor ? "onnxruntime_onnx" : "mlnet",
        ["inputs"] = model.Inputs.Select(i => new Dictionary<string, object>
        {
            ["name"] = i.Name,
            ["datatype"] = Datatype(i.Type),
            ["shape"] = i.IsTensor ? new long[] { -1, i.Width } : new long[] { -1 },
        }).ToList(),
        ["outputs"] = model.Outputs.Select(o => new Dictionary<string, object>
        {
            ["name"] = o.Name ?? "output",
            ["datatype"] = o.IsTensor ? TensorDatatype(o.TensorType) : ColumnDatatype(o.Type),
            ["shape"] = o.IsTensor ? (o.Shape ?? []).ToArray() : new long[] { -1 },
        }).ToList(),
    };

    /// <summary>Reads an infer request into the model's input batch, and the outputs it asks for (null: all).</summary>
    public static (ColumnBatch Batch, string? Id, HashSet<string>? Outputs) Parse(JsonElement root, ServedModel model)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("inputs", out var inputs) || inputs.ValueKind != JsonValueKind.Array)
            throw new ScoringInputException("Invalid inference request: it must be a JSON object with 'inputs', a list of tensors ({\"name\", \"shape\", \"datatype\", \"data\"}).");
        var id = root.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : null;
        HashSet<string>? wanted = null;
        if (root.TryGetProperty("outputs", out var outputs) && outputs.ValueKind == JsonValueKind.Array)
        {
            wanted = new HashSet<string>(StringComparer.Ordinal);
            foreach (var output in outputs.EnumerateArray())
            {
                var name = output.ValueKind == JsonValueKind.Object && output.TryGetProperty("name", out var n) ? n.GetString() : null;
                if (name is null || model.Outputs.All(o => o.Name != name))
                    throw new ScoringInputException($"Invalid inference request: unknown output '{name}' (the model has: {string.Join(", ", model.Outputs.Select(o => o.Name))}).");
                wanted.Add(name);
            }
        }
        var tensors = new List<Tensor>();
        foreach (var input in inputs.EnumerateArray()) tensors.Add(Tensor.Read(input, tensors.Count));

        var batch = new ColumnBatch();
        if (model.Tensor is { } tensor)
        {
            var given = tensors.FirstOrDefault(t => t.Name == tensor.Name) ?? (tensors.Count == 1 ? tensors[0] : null)
                ?? throw new ScoringInputException($"Invalid inference request: no input tensor '{tensor.Name}' (the model's only input).");
            batch.Add(tensor.Name, given.Rows(tensor));
            return (batch, id, wanted);
        }
        if (tensors is [{ Shape.Length: 2 } matrix] && model.Inputs.All(i => i.Name != matrix.Name))
        {
            // One [N, columns] tensor: the model's columns in signature order.
            if (matrix.Shape[1] != model.Inputs.Count)
                throw new ScoringInputException($"Invalid inference request: input '{matrix.Name}' has {matrix.Shape[1]} values per row, but the model takes {model.Inputs.Count} columns ({string.Join(", ", model.Inputs.Select(i => i.Name))}).");
            for (var c = 0; c < model.Inputs.Count; c++) batch.Add(model.Inputs[c].Name, matrix.Column(model.Inputs[c], c));
            return (batch, id, wanted);
        }
        foreach (var input in model.Inputs)
        {
            var given = tensors.FirstOrDefault(t => t.Name == input.Name)
                ?? throw new ScoringInputException($"Invalid inference request: missing input '{input.Name}' ({Datatype(input.Type)}), which the model needs; the request has {string.Join(", ", tensors.Select(t => t.Name))}.");
            batch.Add(input.Name, input.IsTensor ? given.Rows(input) : given.Column(input, 0));
        }
        return (batch, id, wanted);
    }

    /// <summary>Writes the infer response: model name and version, the request's id, and each output as a tensor.</summary>
    public static void WriteResponse(System.Buffers.IBufferWriter<byte> body, ServedModel model, string? id, ColumnBatch output, HashSet<string>? wanted)
    {
        using var writer = new Utf8JsonWriter(body, new JsonWriterOptions { SkipValidation = true });
        writer.WriteStartObject();
        writer.WriteString("model_name", model.Name);
        writer.WriteString("model_version", model.VersionLabel);
        if (id is not null) writer.WriteString("id", id);
        writer.WriteStartArray("outputs");
        foreach (var (name, column) in output)
        {
            if (wanted is not null && !wanted.Contains(name)) continue;
            writer.WriteStartObject();
            writer.WriteString("name", name);
            var (datatype, width) = column switch
            {
                float[] => ("FP32", -1),
                double[] => ("FP64", -1),
                long[] => ("INT64", -1),
                int[] => ("INT32", -1),
                bool[] => ("BOOL", -1),
                string?[] => ("BYTES", -1),
                float[][] f => ("FP32", f.Length == 0 ? 0 : f[0].Length),
                double[][] d => ("FP64", d.Length == 0 ? 0 : d[0].Length),
                _ => ("BYTES", -1),
            };
            writer.WriteString("datatype", datatype);
            writer.WriteStartArray("shape");
            writer.WriteNumberValue(column.Length);
            if (width >= 0) writer.WriteNumberValue(width);
            writer.WriteEndArray();
            writer.WriteStartArray("data");
            for (var r = 0; r < column.Length; r++)
            {
                switch (column)
                {
                    case float[][] f:
                        foreach (var v in f[r])
                            if (float.IsFinite(v)) writer.WriteNumberValue(v);
                            else writer.WriteNullValue();
                        break;
                    case double[][] d:
                        foreach (var v in d[r])
                            if (double.IsFinite(v)) writer.WriteNumberValue(v);
                            else writer.WriteNullValue();
                        break;
                    default:
                        ScoringService.WriteValue(writer, column, r);
                        break;
                }
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    public static Task WriteErrorAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new Dictionary<string, string> { ["error"] = message }, context.RequestAborted);
    }

    internal static string Datatype(ScoringType type) => type switch
    {
        ScoringType.Float32 => "FP32",
        ScoringType.Float64 => "FP64",
        ScoringType.Int64 => "INT64",
        ScoringType.Int32 => "INT32",
        ScoringType.Bool => "BOOL",
        _ => "BYTES",
    };

    internal static string TensorDatatype(string? dtype) => dtype switch
    {
        "float32" => "FP32",
        "float64" => "FP64",
        "int64" => "INT64",
        "int32" => "INT32",
        "bool" => "BOOL",
        _ => "BYTES",
    };

    internal static string ColumnDatatype(string type) => type switch
    {
        "float" => "FP32",
        "double" => "FP64",
        "long" => "INT64",
        "integer" => "INT32",
        "boolean" => "BOOL",
        _ => "BYTES",
    };

    /// <summary>One input tensor of the request: its name, shape, datatype and values (row-major, flattened from any nesting).</summary>
    private sealed class Tensor
    {
        private readonly List<JsonElement> _values = [];

        public required string Name { get; init; }

        public required long[] Shape { get; init; }

        public required string Datatype { get; init; }

        public static Tensor Read(JsonElement input, int index)
        {
            if (input.ValueKind != JsonValueKind.Object)
                throw new ScoringInputException($"Invalid inference request: inputs[{index}] must be an object with name, shape, datatype and data.");
            string Text(string field) => input.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()!
                : throw new ScoringInputException($"Invalid inference request: inputs[{index}] has no '{field}' string.");
            var name = Text("name");
            var datatype = Text("datatype");
            if (!input.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
                throw new ScoringInputException($"Invalid inference request: input '{name}' has no 'shape' (a list of dimensions).");
            var shape = new long[shapeElement.GetArrayLength()];
            var i = 0;
            foreach (var d in shapeElement.EnumerateArray())
                shape[i++] = d.ValueKind == JsonValueKind.Number && d.TryGetInt64(out var dim) && dim >= 0 ? dim
                    : throw new ScoringInputException($"Invalid inference request: input '{name}' has a shape dimension that is not a non-negative whole number.");
            if (shape.Length is 0 or > 2)
                throw new ScoringInputException($"Invalid inference request: input '{name}' has shape [{string.Join(", ", shape)}]; Cairn takes [rows] or [rows, values].");
            if (!input.TryGetProperty("data", out var data))
                throw new ScoringInputException($"Invalid inference request: input '{name}' has no 'data'.");
            var tensor = new Tensor { Name = name, Shape = shape, Datatype = datatype };
            tensor.Flatten(data);
            var expected = shape.Aggregate(1L, (a, b) => a * b);
            if (tensor._values.Count != expected)
                throw new ScoringInputException($"Invalid inference request: input '{name}' has shape [{string.Join(", ", shape)}] ({expected} values) but {tensor._values.Count} values in 'data'.");
            return tensor;
        }

        private void Flatten(JsonElement data)
        {
            if (data.ValueKind != JsonValueKind.Array)
            {
                _values.Add(data);
                return;
            }
            foreach (var item in data.EnumerateArray()) Flatten(item);
        }

        private void CheckType(ScoringInput input)
        {
            var numeric = Datatype is "FP32" or "FP64" or "FP16" or "INT8" or "INT16" or "INT32" or "INT64" or "UINT8" or "UINT16" or "UINT32" or "UINT64";
            var ok = input.Type switch
            {
                ScoringType.Bool => Datatype == "BOOL",
                ScoringType.String => Datatype == "BYTES",
                _ => numeric,
            };
            if (!ok)
                throw new ScoringInputException($"Invalid inference request: input '{Name}' has datatype {Datatype}, but the model's '{input.Name}' takes {OpenInferenceProtocol.Datatype(input.Type)}.");
        }

        /// <summary>Column <paramref name="position"/> of a [N, K] tensor, or the whole of a [N] (or [N, 1]) one.</summary>
        public Array Column(ScoringInput input, int position)
        {
            CheckType(input);
            var rows = (int)Shape[0];
            var width = Shape.Length == 2 ? (int)Shape[1] : 1;
            if (Shape.Length == 2 && width != 1 && input.Name == Name)
                throw new ScoringInputException($"Invalid inference request: input '{Name}' has shape [{string.Join(", ", Shape)}]; the model's column takes one value per row ([rows] or [rows, 1]).");
            var builder = ColumnBuilder.For(input, rows);
            for (var r = 0; r < rows; r++) builder.Set(r, 0, _values[r * width + position], input.Name);
            return builder.Finish(rows);
        }

        /// <summary>The rows of a [N, K] tensor as the model's tensor input.</summary>
        public Array Rows(ScoringInput input)
        {
            CheckType(input);
            if (Shape.Length != 2 || input.Width >= 0 && Shape[1] != input.Width)
                throw new ScoringInputException($"Invalid inference request: input '{Name}' has shape [{string.Join(", ", Shape)}], but the model's '{input.Name}' takes [rows, {(input.Width >= 0 ? input.Width : "values")}].");
            var rows = (int)Shape[0];
            var width = (int)Shape[1];
            var builder = ColumnBuilder.For(input, rows);
            builder.OpenWidth(width);
            for (var r = 0; r < rows; r++)
                for (var c = 0; c < width; c++) builder.Set(r, c, _values[r * width + c], Name);
            return builder.Finish(rows);
        }
    }

    /// <summary>Elapsed time since <paramref name="start"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public static TimeSpan Since(long start) => Stopwatch.GetElapsedTime(start);
}
