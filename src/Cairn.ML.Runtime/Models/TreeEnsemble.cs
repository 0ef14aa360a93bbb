using Microsoft.ML;
using Microsoft.ML.Trainers.FastTree;

namespace Cairn.ML.Models;

/// <summary>
/// A trained tree ensemble (FastTree, LightGbm, FastForest) copied into arrays, scoring a feature vector as ML.NET's
/// <c>Score</c> column does before calibration: a boosted ensemble adds its weighted trees to the bias, a forest averages
/// them. Training walks it for learning curves and importances; serving scores batches with it (<see cref="TreeChainScorer"/>).
/// </summary>
internal sealed class TreeEnsemble
{
    private TreeEnsemble(FlatTree[] trees, double[] weights, double bias, bool averaged) => (Trees, Weights, Bias, Averaged) = (trees, weights, bias, averaged);

    public FlatTree[] Trees { get; }

    public double[] Weights { get; }

    public double Bias { get; }

    public bool Averaged { get; }

    /// <summary>The last tree ensemble of a chain (a calibrator may follow it, or wrap it); null when there is none, or its trees have categorical splits (not walked here).</summary>
    public static TreeEnsemble? From(ITransformer model)
    {
        foreach (var transformer in Flatten(model).Reverse())
        {
            if (transformer is not IPredictionTransformer<object> prediction) continue;
            if (FromParameters(prediction.Model) is { } ensemble) return ensemble;
        }
        return null;
    }

    /// <summary>The ensemble of a trainer's model parameters (unwrapped from a calibrator); null for any other model or a tree with categorical splits.</summary>
    public static TreeEnsemble? FromParameters(object parameters)
    {
        if (parameters.GetType().GetProperties().FirstOrDefault(p => p.Name == "SubModel")?.GetValue(parameters) is { } sub) parameters = sub;
        var (trees, weights, bias, averaged) = parameters switch
        {
            TreeEnsembleModelParametersBasedOnRegressionTree boosted =>
                (boosted.TrainedTreeEnsemble.Trees, boosted.TrainedTreeEnsemble.TreeWeights, boosted.TrainedTreeEnsemble.Bias, false),
            TreeEnsembleModelParametersBasedOnQuantileRegressionTree forest =>
                ((IReadOnlyList<RegressionTreeBase>)forest.TrainedTreeEnsemble.Trees, forest.TrainedTreeEnsemble.TreeWeights, forest.TrainedTreeEnsemble.Bias, true),
            _ => ((IReadOnlyList<RegressionTreeBase>?)null, (IReadOnlyList<double>?)null, 0.0, false),
        };
        if (trees is not { Count: > 0 } || weights is null || trees.Any(t => t.CategoricalSplitFlags.Any(f => f))) return null;
        return new TreeEnsemble([.. trees.Select(t => new FlatTree(t))], [.. weights], bias, averaged);
    }

    /// <summary>The transformers of a chain, nested chains unrolled, in order.</summary>
    internal static IEnumerable<ITransformer> Flatten(ITransformer transformer) =>
        transformer is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [transformer];

    /// <summary>The largest feature slot any split reads, or -1 when no tree splits.</summary>
    public int MaxSlot => Trees.Max(t => t.MaxSlot);

    public double Score(ReadOnlySpan<float> features)
    {
        double sum = 0;
        for (var t = 0; t < Trees.Length; t++) sum += Weights[t] * Trees[t].Output(features);
        return Combine(sum);
    }

    /// <summary>The score from the weighted sum of all the trees' outputs, added in tree order.</summary>
    public double Combine(double weightedSum) => Bias + (Averaged ? weightedSum / Trees.Length : weightedSum);
}
