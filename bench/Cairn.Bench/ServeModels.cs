using System.Globalization;
using System.Text;
using Cairn.ML.Models;
using Cairn.Tests.Models;
using Microsoft.ML;

namespace Cairn.Bench;

/// <summary>
/// The serve benchmark's data and models: generated rows of 20 float features with a binary label (a noisy linear rule),
/// a FastTree classifier trained on them with ML.NET, an ONNX multilayer perceptron of similar cost written byte by byte,
/// the same rows as CSV for the MLflow reference, and the dataframe_split request bodies.
/// </summary>
internal static class ServeModels
{
    public const int Features = 20;

    /// <summary>One generated training row.</summary>
    public sealed class WideRow
    {
#pragma warning disable CS0649 // set by reflection
        public float f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15, f16, f17, f18, f19;
#pragma warning restore CS0649
        public bool Label;
    }

    /// <summary><paramref name="rows"/> rows, the same for the same count (seed 42).</summary>
    public static List<WideRow> Rows(int rows)
    {
        var random = new Random(42);
        var weights = Enumerable.Range(0, Features).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        var fields = Enumerable.Range(0, Features).Select(f => typeof(WideRow).GetField($"f{f}")!).ToArray();
        var data = new List<WideRow>(rows);
        for (var r = 0; r < rows; r++)
        {
            var row = new WideRow();
            var sum = 0.0;
            for (var f = 0; f < Features; f++)
            {
                var v = (float)(random.NextDouble() * 2 - 1);
                fields[f].SetValue(row, v);
                sum += v * weights[f];
            }
            row.Label = sum + (random.NextDouble() - 0.5) * 0.5 > 0;
            data.Add(row);
        }
        return data;
    }

    /// <summary>Trains FastTree (100 trees, 20 leaves) on <paramref name="data"/> and saves a Cairn package of 20 float columns.</summary>
    public static string TrainFastTree(string folder, List<WideRow> data)
    {
        var ml = new MLContext(seed: 1);
        var view = ml.Data.LoadFromEnumerable(data);
        // One float column per feature, as a CSV or a dataframe has them; the chain concatenates them.
        var pipeline = ml.Transforms.Concatenate("Features", Enumerable.Range(0, Features).Select(f => $"f{f}").ToArray())
            .Append(ml.BinaryClassification.Trainers.FastTree(numberOfLeaves: 20, numberOfTrees: 100));
        var model = pipeline.Fit(view);
        ModelPackage.SaveMlNet(folder, ml, model, view.Schema, Enumerable.Range(0, Features).Select(f => new ColumnSpec($"f{f}", "float")).ToList());
        return folder;
    }

    /// <summary>
    /// An MLflow onnx package (model.onnx and MLmodel with a tensor signature, as <c>mlflow.onnx.log_model</c> writes) of an
    /// MLP 20 -> 64 -> 64 -> 2 (Gemm, Relu, Softmax) with fixed random weights: about 5,600 multiply-adds a row, the same
    /// order of work as walking 100 trees of 20 leaves. A dataframe of 20 columns feeds its one tensor input in order.
    /// </summary>
    public static string WriteOnnxMlp(string folder)
    {
        var random = new Random(7);
        float[,] Matrix(int rows, int columns)
        {
            var m = new float[rows, columns];
            var scale = Math.Sqrt(2.0 / rows); // He initialisation: activations stay in range through the layers
            for (var i = 0; i < rows; i++)
                for (var j = 0; j < columns; j++) m[i, j] = (float)((random.NextDouble() * 2 - 1) * scale);
            return m;
        }
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, ModelPackage.OnnxModelFile),
            OnnxFixture.MlpModel([(Matrix(Features, 64), new float[64]), (Matrix(64, 64), new float[64]), (Matrix(64, 2), new float[2])]));
        var manifest = new ModelManifest
        {
            Inputs = [new ColumnSpec("X", "tensor", "float32", [-1, Features])],
            Outputs = [new ColumnSpec("probabilities", "tensor", "float32", [-1, 2])],
        };
        manifest.Flavors[ModelManifest.OnnxFlavor] = new(StringComparer.Ordinal) { ["onnx_model"] = ModelPackage.OnnxModelFile, ["providers"] = new List<object?> { "CPUExecutionProvider" } };
        manifest.Save(folder);
        return folder;
    }

    /// <summary>Writes <paramref name="data"/> as CSV (f0..f19, label 0/1) for the MLflow reference's training script.</summary>
    public static string WriteCsv(string path, List<WideRow> data)
    {
        var fields = Enumerable.Range(0, Features).Select(f => typeof(WideRow).GetField($"f{f}")!).ToArray();
        using var writer = new StreamWriter(path);
        writer.Write(string.Join(',', fields.Select(f => f.Name)));
        writer.Write(",label\n");
        foreach (var row in data)
        {
            foreach (var field in fields)
            {
                writer.Write(((float)field.GetValue(row)!).ToString("R", CultureInfo.InvariantCulture));
                writer.Write(',');
            }
            writer.Write(row.Label ? "1\n" : "0\n");
        }
        return path;
    }

    /// <summary>A dataframe_split body of <paramref name="rows"/> random rows over f0..f19.</summary>
    public static string Body(Random random, int rows)
    {
        var text = new StringBuilder("{\"dataframe_split\":{\"columns\":[");
        text.AppendJoin(',', Enumerable.Range(0, Features).Select(f => $"\"f{f}\""));
        text.Append("],\"data\":[");
        for (var r = 0; r < rows; r++)
        {
            if (r > 0) text.Append(',');
            text.Append('[');
            text.AppendJoin(',', Enumerable.Range(0, Features).Select(_ => (random.NextDouble() * 2 - 1).ToString("0.####", CultureInfo.InvariantCulture)));
            text.Append(']');
        }
        return text.Append("]}}").ToString();
    }
}
