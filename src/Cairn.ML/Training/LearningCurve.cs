using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.FastTree;

namespace Cairn.ML.Training;

/// <summary>One point of a learning curve: the held-out metric after the first <see cref="Trees"/> trees.</summary>
public readonly record struct CurvePoint(int Trees, double Value);

/// <summary>
/// The per-iteration metric of a tree ensemble (FastTree, LightGbm, FastForest): ML.NET trains these without a
/// per-iteration callback, so the curve is rebuilt afterwards by evaluating the held-out rows on the first k trees of
/// the trained ensemble. Binary tasks get the AUC (a ranking metric, so the raw ensemble score is enough and no
/// calibration is involved), regression the RMSE. Multiclass models and linear trainers have no curve.
/// </summary>
public static class LearningCurve
{
    /// <summary>At most this many points, evenly spaced over the trees.</summary>
    public const int MaxPoints = 50;

    /// <summary>The name the curve is logged under, with the number of trees as the step.</summary>
    public static string MetricName(MlTask task) => task == MlTask.Binary ? "holdout_auc_by_trees" : "holdout_rmse_by_trees";

    /// <summary>
    /// The curve of <paramref name="model"/> (the fitted chain ending in the predictor) on <paramref name="scored"/>
    /// (the held-out rows it transformed, with their Features and Label columns); empty when the model is not a tree
    /// ensemble this can walk, or the task has no curve.
    /// </summary>
    public static IReadOnlyList<CurvePoint> Compute(ITransformer model, IDataView scored, MlTask task)
    {
        if (task == MlTask.Multiclass || Ensemble(model) is not { } ensemble || ensemble.Trees.Count == 0) return [];
        var trees = ensemble.Trees;
        if (trees.Any(t => t.CategoricalSplitFlags.Any(f => f))) return []; // categorical splits: not walked here

        var features = scored.GetColumn<VBuffer<float>>("Features").Select(v => v.DenseValues().ToArray()).ToArray();
        var sums = new double[features.Length];
        var points = new List<CurvePoint>();
        var every = Math.Max(1, (int)Math.Ceiling(trees.Count / (double)MaxPoints));
        var binaryLabels = task == MlTask.Binary ? scored.GetColumn<bool>("Label").ToArray() : null;
        var targets = task == MlTask.Regression ? scored.GetColumn<float>("Label").ToArray() : null;
        var scores = new double[features.Length];
        for (var t = 0; t < trees.Count; t++)
        {
            var tree = new FlatTree(trees[t]);
            var weight = ensemble.Weights[t];
            for (var row = 0; row < features.Length; row++) sums[row] += weight * tree.Output(features[row]);
            var count = t + 1;
            if (count % every != 0 && count != trees.Count) continue;
            // A forest averages its trees; a boosted ensemble adds them (its weights are 1 and the bias shifts all rows alike).
            var scale = ensemble.Averaged ? 1.0 / count : 1.0;
            for (var row = 0; row < sums.Length; row++) scores[row] = ensemble.Bias + sums[row] * scale;
            points.Add(new CurvePoint(count, binaryLabels is not null ? Auc(scores, binaryLabels) : Rmse(scores, targets!)));
        }
        return points;
    }

    private sealed record TreeList(IReadOnlyList<RegressionTreeBase> Trees, IReadOnlyList<double> Weights, double Bias, bool Averaged);

    /// <summary>Finds the last tree ensemble in the chain (a calibrator may follow it, or wrap it as its sub-model).</summary>
    private static TreeList? Ensemble(ITransformer model)
    {
        foreach (var transformer in Flatten(model).Reverse())
        {
            if (transformer is not IPredictionTransformer<object> prediction) continue;
            var parameters = prediction.Model;
            if (parameters.GetType().GetProperties().FirstOrDefault(p => p.Name == "SubModel")?.GetValue(parameters) is { } sub) parameters = sub;
            switch (parameters)
            {
                case TreeEnsembleModelParametersBasedOnRegressionTree boosted:
                    return new TreeList(boosted.TrainedTreeEnsemble.Trees, boosted.TrainedTreeEnsemble.TreeWeights, boosted.TrainedTreeEnsemble.Bias, Averaged: false);
                case TreeEnsembleModelParametersBasedOnQuantileRegressionTree forest:
                    return new TreeList(forest.TrainedTreeEnsemble.Trees, forest.TrainedTreeEnsemble.TreeWeights, forest.TrainedTreeEnsemble.Bias, Averaged: true);
            }
        }
        return null;
    }

    private static IEnumerable<ITransformer> Flatten(ITransformer transformer) =>
        transformer is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [transformer];

    /// <summary>A tree copied into arrays once (ML.NET exposes its nodes through read-only lists), walked per row.</summary>
    private sealed class FlatTree(RegressionTreeBase tree)
    {
        private readonly int[] _left = [.. tree.LeftChild];
        private readonly int[] _right = [.. tree.RightChild];
        private readonly int[] _feature = [.. tree.NumericalSplitFeatureIndexes];
        private readonly float[] _threshold = [.. tree.NumericalSplitThresholds];
        private readonly double[] _leaves = [.. tree.LeafValues];

        /// <summary>The leaf value of a row: at each node, a value at or below the threshold goes left (as ML.NET's trees decide).</summary>
        public double Output(float[] features)
        {
            if (_left.Length == 0) return _leaves[0];
            var node = 0;
            while (true)
            {
                var next = features[_feature[node]] <= _threshold[node] ? _left[node] : _right[node];
                if (next < 0) return _leaves[~next];
                node = next;
            }
        }
    }

    /// <summary>The area under the ROC curve: the probability that a positive row outscores a negative one, ties counting half.</summary>
    internal static double Auc(IReadOnlyList<double> scores, IReadOnlyList<bool> labels)
    {
        var keys = scores.ToArray();
        var order = new int[keys.Length];
        for (var i = 0; i < order.Length; i++) order[i] = i;
        Array.Sort(keys, order);
        double positives = 0, rankSum = 0;
        for (var start = 0; start < order.Length;)
        {
            var end = start;
            while (end + 1 < order.Length && keys[end + 1] == keys[start]) end++;
            var averageRank = (start + end) / 2.0 + 1; // tied rows share the mean of their ranks
            for (var k = start; k <= end; k++)
                if (labels[order[k]]) { positives++; rankSum += averageRank; }
            start = end + 1;
        }
        var negatives = keys.Length - positives;
        return positives == 0 || negatives == 0 ? double.NaN : (rankSum - positives * (positives + 1) / 2) / (positives * negatives);
    }

    private static double Rmse(IReadOnlyList<double> predicted, IReadOnlyList<float> actual)
    {
        double sum = 0;
        for (var i = 0; i < predicted.Count; i++) sum += (predicted[i] - actual[i]) * (predicted[i] - actual[i]);
        return Math.Sqrt(sum / predicted.Count);
    }
}
