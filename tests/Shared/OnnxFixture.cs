using System.Text;

namespace Cairn.Tests.Models;

/// <summary>
/// Writes small ONNX models (Y = X·W + B with MatMul and Add; a multilayer perceptron of Gemm and Relu with a Softmax;
/// opset 13) as raw protobuf bytes, so the tests and the serve benchmark need neither Python nor a protobuf library.
/// Field numbers are those of onnx.proto3.
/// </summary>
internal static class OnnxFixture
{
    public static byte[] LinearModel(float[,] w, float[] b) => Model(w, b, activation: null);

    /// <summary>
    /// Y = activation(X·W + B): "Sigmoid" with one output column gives a probability per row, "Softmax" with two gives the
    /// probabilities of classes 0 and 1, as a binary classifier exported to ONNX does.
    /// </summary>
    public static byte[] ClassifierModel(float[,] w, float[] b, string activation) => Model(w, b, activation);

    /// <summary>
    /// A multilayer perceptron: input <c>X</c> [N, inputs], then for each layer <c>Gemm(h, W_i, B_i)</c> (W_i is
    /// [in, out], B_i [out]) with <c>Relu</c> between layers and <c>Softmax</c> over the last one's outputs, named
    /// <c>probabilities</c> [N, outputs]: what a small classifier exported to ONNX looks like.
    /// </summary>
    public static byte[] MlpModel(IReadOnlyList<(float[,] W, float[] B)> layers)
    {
        if (layers.Count == 0) throw new ArgumentException("An MLP needs at least one layer.", nameof(layers));
        var graph = new Proto();
        var input = "X";
        for (var i = 0; i < layers.Count; i++)
        {
            var (w, b) = layers[i];
            if (w.GetLength(1) != b.Length) throw new ArgumentException($"Layer {i}: W has {w.GetLength(1)} outputs, B {b.Length}.", nameof(layers));
            if (i > 0 && w.GetLength(0) != layers[i - 1].W.GetLength(1))
                throw new ArgumentException($"Layer {i} takes {w.GetLength(0)} inputs; layer {i - 1} gives {layers[i - 1].W.GetLength(1)}.", nameof(layers));
            var gemm = $"gemm{i}";
            graph.Message(1, new Proto().String(1, input).String(1, $"W{i}").String(1, $"B{i}").String(2, gemm).String(3, gemm).String(4, "Gemm"));
            if (i < layers.Count - 1)
            {
                graph.Message(1, new Proto().String(1, gemm).String(2, $"relu{i}").String(3, $"relu{i}").String(4, "Relu"));
                input = $"relu{i}";
            }
            else
            {
                graph.Message(1, new Proto().String(1, gemm).String(2, "probabilities").String(3, "softmax").String(4, "Softmax"));
            }
        }
        graph.String(2, "mlp");
        for (var i = 0; i < layers.Count; i++)
        {
            graph.Message(5, Tensor($"W{i}", [layers[i].W.GetLength(0), layers[i].W.GetLength(1)], Flatten(layers[i].W)));
            graph.Message(5, Tensor($"B{i}", [layers[i].B.Length], layers[i].B));
        }
        graph.Message(11, ValueInfo("X", "N", layers[0].W.GetLength(0)))
            .Message(12, ValueInfo("probabilities", "N", layers[^1].B.Length));
        return ModelOf(graph);
    }

    private static float[] Flatten(float[,] w)
    {
        var rows = w.GetLength(0);
        var columns = w.GetLength(1);
        var data = new float[rows * columns];
        for (var i = 0; i < rows; i++)
            for (var j = 0; j < columns; j++) data[i * columns + j] = w[i, j];
        return data;
    }

    private static byte[] ModelOf(Proto graph) => new Proto()
        .Varint(1, 8)                                                   // ir_version
        .String(2, "cairn-tests")                                       // producer_name
        .Message(7, graph)                                              // graph
        .Message(8, new Proto().String(1, "").Varint(2, 13))            // opset_import {domain "", version 13}
        .ToArray();

    private static byte[] Model(float[,] w, float[] b, string? activation)
    {
        var inputs = w.GetLength(0);
        var outputs = w.GetLength(1);

        var graph = new Proto()
            .Message(1, new Proto().String(1, "X").String(1, "W").String(2, "XW").String(3, "matmul").String(4, "MatMul"))
            .Message(1, new Proto().String(1, "XW").String(1, "B").String(2, activation is null ? "Y" : "Z").String(3, "add").String(4, "Add"));
        if (activation is not null)
            graph.Message(1, new Proto().String(1, "Z").String(2, "Y").String(3, "activation").String(4, activation));
        graph
            .String(2, "linear")
            .Message(5, Tensor("W", [inputs, outputs], Flatten(w)))
            .Message(5, Tensor("B", [outputs], b))
            .Message(11, ValueInfo("X", "N", inputs))
            .Message(12, ValueInfo("Y", "N", outputs));
        return ModelOf(graph);
    }

    private static Proto Tensor(string name, long[] dims, float[] values)
    {
        var tensor = new Proto();
        foreach (var d in dims) tensor.Varint(1, (ulong)d);                 // dims
        tensor.Varint(2, 1);                                                 // data_type FLOAT
        var packed = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, packed, 0, packed.Length);
        tensor.Bytes(4, packed);                                             // float_data, packed
        return tensor.String(8, name);                                       // name
    }

    private static Proto ValueInfo(string name, string batchDim, int width)
    {
        var shape = new Proto()
            .Message(1, new Proto().String(2, batchDim))                    // dim { dim_param }
            .Message(1, new Proto().Varint(1, (ulong)width));               // dim { dim_value }
        var tensorType = new Proto().Varint(1, 1).Message(2, shape);        // elem_type FLOAT, shape
        return new Proto().String(1, name).Message(2, new Proto().Message(1, tensorType));
    }

    /// <summary>A protobuf message being written: varints and length-delimited fields.</summary>
    private sealed class Proto
    {
        private readonly MemoryStream _bytes = new();

        public Proto Varint(int field, ulong value)
        {
            WriteVarint((ulong)(field << 3));
            WriteVarint(value);
            return this;
        }

        public Proto Bytes(int field, byte[] value)
        {
            WriteVarint((ulong)(field << 3 | 2));
            WriteVarint((ulong)value.Length);
            _bytes.Write(value);
            return this;
        }

        public Proto String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Proto Message(int field, Proto message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => _bytes.ToArray();

        private void WriteVarint(ulong value)
        {
            while (value >= 0x80)
            {
                _bytes.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }
            _bytes.WriteByte((byte)value);
        }
    }
}
