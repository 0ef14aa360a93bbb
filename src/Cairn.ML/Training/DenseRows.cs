using Cairn.ML.Models;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Cairn.ML.Training;

/// <summary>
/// Rows as the trainer's input: their feature vectors (numbers in feature order, missing ones replaced: what the
/// numeric-only featurizer gives, without running it row by row) and their labels.
/// </summary>
internal sealed class DenseRows(FeatureRows features, Array labels, MlTask task)
{
    public FeatureRows Features { get; } = features;

    /// <summary><c>bool[]</c> (binary) or <c>float[]</c> (regression).</summary>
    public Array Labels { get; } = labels;

    /// <summary><c>Features</c> and <c>Label</c> as an ML.NET view.</summary>
    public ColumnDataView View() => new([("Features", new VectorDataViewType(NumberDataViewType.Single, Features.Width), Features.Values),
        ("Label", task == MlTask.Binary ? BooleanDataViewType.Instance : NumberDataViewType.Single, Labels)]);

    /// <summary>The rows' feature vectors and labels; <paramref name="replacements"/> fills missing numbers (null: there are none).</summary>
    public static DenseRows Build(TrainingData data, MlTask task, int[] rows, float[]? replacements)
    {
        var width = data.Features.Count;
        var matrix = new float[(long)rows.Length * width];
        Parallel.For(0, width, j =>
        {
            var column = (double[])data.Batch[data.Features[j].Name];
            for (var i = 0; i < rows.Length; i++)
            {
                var value = (float)column[rows[i]];
                matrix[(long)i * width + j] = float.IsNaN(value) && replacements is not null ? replacements[j] : value;
            }
        });
        return new DenseRows(new FeatureRows(matrix, width), data.LabelArray(task, rows), task);
    }
}
