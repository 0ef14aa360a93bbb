using Cairn.ML.Models;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Cairn.ML.Training;

/// <summary>Rows of the training data as ML.NET views, for the featurizer and for scoring through the chain.</summary>
internal static class RowViews
{
    /// <summary>The rows as an ML.NET view: the features and the label.</summary>
    public static IDataView Of(TrainingData data, MlTask task, int[] rows) => Of(data, task, rows, [null]);

    /// <summary>
    /// The rows as an ML.NET view, once per block, blocks one after another; a block's swap takes one feature's values
    /// from other rows (<c>Source[i]</c> for row i). One block without a swap is the plain view of the rows.
    /// </summary>
    public static IDataView Of(TrainingData data, MlTask task, int[] rows, IReadOnlyList<(string Feature, int[] Source)?> blocks)
    {
        int[] Source(int block, string feature) => blocks[block] is { } swap && swap.Feature == feature ? swap.Source : rows;
        // Columns side by side: each gathers its rows from the data in the shuffled order, which is mostly cache misses.
        var built = new (string, DataViewType, Array)[data.Features.Count];
        Parallel.For(0, data.Features.Count, f =>
        {
            var feature = data.Features[f];
            var column = data.Batch[feature.Name];
            if (feature.Kind == FeatureKind.Numeric)
            {
                var values = (double[])column;
                var block = new float[rows.Length * blocks.Count];
                for (var b = 0; b < blocks.Count; b++)
                {
                    var source = Source(b, feature.Name);
                    for (var i = 0; i < rows.Length; i++) block[b * rows.Length + i] = (float)values[source[i]];
                }
                built[f] = (feature.Name, NumberDataViewType.Single, block);
            }
            else
            {
                var values = (string?[])column;
                var block = new ReadOnlyMemory<char>[rows.Length * blocks.Count];
                for (var b = 0; b < blocks.Count; b++)
                {
                    var source = Source(b, feature.Name);
                    for (var i = 0; i < rows.Length; i++) block[b * rows.Length + i] = (values[source[i]] ?? "").AsMemory();
                }
                built[f] = (feature.Name, TextDataViewType.Instance, block);
            }
        });
        var columns = built.ToList();
        DataViewType labelType = task switch
        {
            MlTask.Binary => BooleanDataViewType.Instance,
            MlTask.Multiclass => TextDataViewType.Instance,
            _ => NumberDataViewType.Single,
        };
        var labels = data.LabelArray(task, rows);
        var allLabels = Array.CreateInstance(labels.GetType().GetElementType()!, labels.Length * blocks.Count);
        for (var b = 0; b < blocks.Count; b++) Array.Copy(labels, 0, allLabels, b * labels.Length, labels.Length);
        columns.Add(("Label", labelType, allLabels));
        return new ColumnDataView(columns);
    }
}
