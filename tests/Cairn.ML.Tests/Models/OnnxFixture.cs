using System.Text;

namespace Cairn.Tests.Models;

/// <summary>
/// Writes a tiny ONNX model (Y = X·W + B with MatMul and Add, opset 13) as raw protobuf bytes, so the tests need
/// neither Python nor a protobuf library. Field numbers are those of onnx.proto3.
/// </summary>
internal static class OnnxFixture
{
    public static byte[] LinearModel(float[,] w, float[] b) => Model(w, b, activation: null);

    /// <summary>
    /// Y = activation(X·W + B): "Sigmoid" with one output column gives a probability per row, "Softmax" with two gives the
    /// probabilities of classes 0 and 1, as a binary classifier exported to ONNX does.
    /// </summary>
    public static byte[] ClassifierModel(float[,] w, float[] b, string activation) => Model(w, b, activation);

    private static byte[] Model(float[,] w, float[] b, string? activation)
    {
        var inputs = w.GetLength(0);
        var outputs = w.GetLength(1);
        var wData = new float[inputs * outputs];
        for (var i = 0; i < inputs; i++)
            for (var j = 0; j < outputs; j++) wData[i * outputs + j] = w[i, j];

        var graph = new Proto()
            .Message(1, new Proto().String(1, "X").String(1, "W").String(2, "XW").String(3, "matmul").String(4, "MatMul"))
            .Message(1, new Proto().String(1, "XW").String(1, "B").String(2, activation is null ? "Y" : "Z").String(3, "add").String(4, "Add"));
        if (activation is not null)
            graph.Message(1, new Proto().String(1, "Z").String(2, "Y").String(3, "activation").String(4, activation));
        graph
            .String(2, "linear")
            .Message(5, Tensor("W", [inputs, outputs], wData))
            .Message(5, Tensor("B", [outputs], b))
            .Message(11, ValueInfo("X", "N", inputs))
            .Message(12, ValueInfo("Y", "N", outputs));
        return new Proto()
            .Varint(1, 8)                                                   // ir_version
            .String(2, "cairn-tests")                                       // producer_name
            .Message(7, graph)                                              // graph
            .Message(8, new Proto().String(1, "").Varint(2, 13))            // opset_import {domain "", version 13}
            .ToArray();
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
