using Cairn.Metrics;
using RegressionMetrics = Cairn.Metrics.RegressionMetrics;
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
        if (task == MlTask.Multiclass || TreeScorer.From(model) is not { } ensemble) return [];
        var vectors = scored.GetColumn<VBuffer<float>>("Features").Select(v => v.DenseValues().ToArray()).ToArray();
        var features = new FeatureRows([.. vectors.SelectMany(v => v)], vectors.Length == 0 ? 0 : vectors[0].Length);
        return task == MlTask.Binary
            ? Points(Walk(ensemble, features), scored.GetColumn<bool>("Label").ToArray(), null)
            : Points(Walk(ensemble, features), null, scored.GetColumn<float>("Label").ToArray());
    }

    /// <summary>The rows' scores after the first k trees, for every checkpoint k (at most <see cref="MaxPoints"/>, the last one all trees).</summary>
    internal sealed record Checkpoints(int[] Trees, double[][] Scores)
    {
        /// <summary>The scores after all the trees: for a boosted ensemble, <see cref="TreeScorer.Score"/>'s to the bit.</summary>
        public double[] Final => Scores[^1];
    }

    /// <summary>
    /// Each row (in parallel chunks) through all the trees in order, its score kept at every checkpoint. A forest averages
    /// its trees; a boosted ensemble adds them (its weights are 1 and the bias shifts all rows alike).
    /// </summary>
    internal static Checkpoints Walk(TreeScorer ensemble, FeatureRows features)
    {
        var count = ensemble.Trees.Length;
        var every = Math.Max(1, (int)Math.Ceiling(count / (double)MaxPoints));
        var checkpoints = Enumerable.Range(1, count).Where(k => k % every == 0 || k == count).ToArray();
        var scores = checkpoints.Select(_ => new double[features.Count]).ToArray();
        Parallel.For(0, (features.Count + 1023) / 1024, chunk =>
        {
            for (var row = chunk * 1024; row < Math.Min(features.Count, (chunk + 1) * 1024); row++)
            {
                double sum = 0;
                for (int t = 0, point = 0; t < count; t++)
                {
                    sum += ensemble.Weights[t] * ensemble.Trees[t].Output(features[row]);
                    if (t + 1 != checkpoints[point]) continue;
                    scores[point++][row] = ensemble.Bias + sum * (ensemble.Averaged ? 1.0 / (t + 1) : 1.0);
                }
            }
        });
        return new Checkpoints(checkpoints, scores);
    }

    /// <summary>
    /// The metric at every checkpoint (AUC with binary labels, RMSE with regression targets; both from <see cref="Cairn.Metrics"/>,
    /// as the trainer's held-out metrics), in parallel.
    /// </summary>
    internal static IReadOnlyList<CurvePoint> Points(Checkpoints walk, bool[]? binaryLabels, float[]? targets)
    {
        var points = new CurvePoint[walk.Trees.Length];
        Parallel.For(0, points.Length, p =>
            points[p] = new CurvePoint(walk.Trees[p], binaryLabels is not null
                ? BinaryCurves.Auc(walk.Scores[p], binaryLabels)
                : RegressionMetrics.Evaluate(targets!, walk.Scores[p]).Rmse));
        return points;
    }

    /// <summary>
    /// A trained tree ensemble (FastTree, LightGbm, FastForest; the last one in a chain, unwrapped from its calibrator)
    /// copied into arrays, scoring a feature vector as ML.NET's <c>Score</c> column does before calibration: a boosted
    /// ensemble adds its weighted trees to the bias, a forest averages them.
    /// </summary>
    internal sealed class TreeScorer
    {
        private TreeScorer(FlatTree[] trees, double[] weights, double bias, bool averaged) => (Trees, Weights, Bias, Averaged) = (trees, weights, bias, averaged);

        public FlatTree[] Trees { get; }

        public double[] Weights { get; }

        public double Bias { get; }

        public bool Averaged { get; }

        /// <summary>The scorer of the chain's tree ensemble; null when there is none, or its trees have categorical splits (not walked here).</summary>
        public static TreeScorer? From(ITransformer model)
        {
            if (Ensemble(model) is not { } ensemble || ensemble.Trees.Count == 0 || ensemble.Trees.Any(t => t.CategoricalSplitFlags.Any(f => f))) return null;
            return new TreeScorer([.. ensemble.Trees.Select(t => new FlatTree(t))], [.. ensemble.Weights], ensemble.Bias, ensemble.Averaged);
        }

        public double Score(ReadOnlySpan<float> features)
        {
            double sum = 0;
            for (var t = 0; t < Trees.Length; t++) sum += Weights[t] * Trees[t].Output(features);
            return Combine(sum);
        }

        /// <summary>The score from the weighted sum of all the trees' outputs, added in tree order.</summary>
        public double Combine(double weightedSum) => Bias + (Averaged ? weightedSum / Trees.Length : weightedSum);
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

    /// <summary>
    /// A tree copied once into one array of nodes (ML.NET exposes its nodes through read-only lists), walked per row: a
    /// node's slot, threshold and children sit together, so a step of the walk reads one place.
    /// </summary>
    internal sealed class FlatTree
    {
        private readonly Node[] _nodes;
        private readonly double[] _leaves;

        public FlatTree(RegressionTreeBase tree)
        {
            _nodes = new Node[tree.LeftChild.Count];
            for (var i = 0; i < _nodes.Length; i++)
                _nodes[i] = new Node(tree.NumericalSplitFeatureIndexes[i], tree.NumericalSplitThresholds[i], tree.LeftChild[i], tree.RightChild[i]);
            _leaves = [.. tree.LeafValues];
        }

        private readonly record struct Node(int Slot, float Threshold, int Left, int Right);

        /// <summary>Whether any split of the tree reads a slot in [<paramref name="start"/>, start + <paramref name="length"/>).</summary>
        public bool SplitsOn(int start, int length) => Array.Exists(_nodes, n => n.Slot >= start && n.Slot < start + length);

        /// <summary>The leaf value of a row: at each node, a value at or below the threshold goes left (as ML.NET's trees decide).</summary>
        public double Output(ReadOnlySpan<float> features)
        {
            var nodes = _nodes;
            if (nodes.Length == 0) return _leaves[0];
            var next = 0;
            do
            {
                var node = nodes[next];
                next = features[node.Slot] <= node.Threshold ? node.Left : node.Right;
            }
            while (next >= 0);
            return _leaves[~next];
        }

        /// <summary>
        /// As <see cref="Output(ReadOnlySpan{float})"/>, and the features (bits of <paramref name="featureOfSlot"/>'s values,
        /// each below 64) whose slots the row's path reads: a row whose path reads none of a feature's slots ends in the
        /// same leaf whatever that feature's values are.
        /// </summary>
        public double Output(ReadOnlySpan<float> features, int[] featureOfSlot, out ulong read)
        {
            read = 0;
            var nodes = _nodes;
            if (nodes.Length == 0) return _leaves[0];
            var next = 0;
            do
            {
                var node = nodes[next];
                read |= 1UL << featureOfSlot[node.Slot];
                next = features[node.Slot] <= node.Threshold ? node.Left : node.Right;
            }
            while (next >= 0);
            return _leaves[~next];
        }
    }
}
