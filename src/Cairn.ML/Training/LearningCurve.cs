using Cairn.Metrics;
using RegressionMetrics = Cairn.Metrics.RegressionMetrics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Cairn.ML.Models;

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
        if (task == MlTask.Multiclass || TreeEnsemble.From(model) is not { } ensemble) return [];
        var vectors = scored.GetColumn<VBuffer<float>>("Features").Select(v => v.DenseValues().ToArray()).ToArray();
        var features = new FeatureRows([.. vectors.SelectMany(v => v)], vectors.Length == 0 ? 0 : vectors[0].Length);
        return task == MlTask.Binary
            ? Points(Walk(ensemble, features), scored.GetColumn<bool>("Label").ToArray(), null)
            : Points(Walk(ensemble, features), null, scored.GetColumn<float>("Label").ToArray());
    }

    /// <summary>The rows' scores after the first k trees, for every checkpoint k (at most <see cref="MaxPoints"/>, the last one all trees).</summary>
    internal sealed record Checkpoints(int[] Trees, double[][] Scores)
    {
        /// <summary>The scores after all the trees: for a boosted ensemble, <see cref="TreeEnsemble.Score"/>'s to the bit.</summary>
        public double[] Final => Scores[^1];
    }

    /// <summary>
    /// Each row (in parallel chunks) through all the trees in order, its score kept at every checkpoint. A forest averages
    /// its trees; a boosted ensemble adds them (its weights are 1 and the bias shifts all rows alike).
    /// </summary>
    internal static Checkpoints Walk(TreeEnsemble ensemble, FeatureRows features)
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
}
