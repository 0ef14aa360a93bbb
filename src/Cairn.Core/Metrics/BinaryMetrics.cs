using System.Numerics;

namespace Cairn.Metrics;

/// <summary>
/// The held-out metrics of a binary classifier, defined as ML.NET's binary evaluator defines them (to the bit: the same
/// comparisons, the same sums in the same order), from plain arrays, so that training, <c>cairn evaluate</c> and
/// monitoring report the same numbers for the same rows without a data view or ML.NET.
/// </summary>
/// <param name="Accuracy">Correct rows over the rows kept (NaN with none).</param>
/// <param name="Auc">Area under the ROC curve of the scores, ties counting half; NaN when the rows kept hold one class only (ML.NET refuses such data).</param>
/// <param name="F1">Harmonic mean of precision and recall; 0 when both are 0 (as ML.NET has it).</param>
/// <param name="Precision">Of the rows predicted positive, the share that is positive; 0 when none is predicted positive.</param>
/// <param name="Recall">Of the positive rows, the share predicted positive; 0 when there is no positive row.</param>
/// <param name="LogLoss">Mean negative log2-likelihood of the probabilities, not clamped: infinite when a probability of exactly 0 or 1 is wrong, NaN when a probability is NaN.</param>
/// <param name="AveragePrecision">scikit-learn's average precision of the probabilities (ML.NET has no such metric); NaN without a positive row or with a NaN probability.</param>
/// <param name="Count">The rows kept: those whose score is finite.</param>
public sealed record BinaryMetrics(double Accuracy, double Auc, double F1, double Precision, double Recall, double LogLoss, double AveragePrecision, int Count)
{
    /// <summary>ML.NET's default threshold on the raw score: a row is predicted positive when its score is above it.</summary>
    public const double RawScoreThreshold = 0;

    /// <summary>The threshold on a probability, for a model that gives no raw score (e.g. an ONNX model).</summary>
    public const double ProbabilityThreshold = 0.5;

    /// <summary>
    /// Computes the metrics. A row is predicted positive when its score is strictly above <paramref name="threshold"/>
    /// (ML.NET's comparison: pass <see cref="RawScoreThreshold"/> with raw scores, or the probabilities as the scores with
    /// <see cref="ProbabilityThreshold"/>). Rows whose score is NaN or infinite are left out, as ML.NET leaves them out.
    /// </summary>
    public static BinaryMetrics Evaluate(ReadOnlySpan<bool> labels, ReadOnlySpan<float> scores, ReadOnlySpan<float> probabilities, double threshold = RawScoreThreshold) =>
        Compute(labels, scores, probabilities, threshold);

    /// <inheritdoc cref="Evaluate(ReadOnlySpan{bool}, ReadOnlySpan{float}, ReadOnlySpan{float}, double)"/>
    public static BinaryMetrics Evaluate(ReadOnlySpan<bool> labels, ReadOnlySpan<double> scores, ReadOnlySpan<double> probabilities, double threshold = RawScoreThreshold) =>
        Compute(labels, scores, probabilities, threshold);

    /// <summary>The metrics under the names Cairn logs them: accuracy, auc, f1, precision, recall, log_loss, average_precision.</summary>
    public Dictionary<string, double> ToDictionary() => new(StringComparer.Ordinal)
    {
        ["accuracy"] = Accuracy,
        ["auc"] = Auc,
        ["f1"] = F1,
        ["precision"] = Precision,
        ["recall"] = Recall,
        ["log_loss"] = LogLoss,
        ["average_precision"] = AveragePrecision,
    };

    private static BinaryMetrics Compute<T>(ReadOnlySpan<bool> labels, ReadOnlySpan<T> scores, ReadOnlySpan<T> probabilities, double threshold)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (scores.Length != labels.Length || probabilities.Length != labels.Length)
            throw new ArgumentException($"Binary metrics need one score and one probability per label: {labels.Length} labels, {scores.Length} scores, {probabilities.Length} probabilities.");
        double truePositives = 0, trueNegatives = 0, falsePositives = 0, falseNegatives = 0, logLoss = 0;
        var keptScores = new double[labels.Length];
        var keptProbabilities = new double[labels.Length];
        var keptLabels = new bool[labels.Length];
        var kept = 0;
        for (var i = 0; i < labels.Length; i++)
        {
            var score = double.CreateTruncating(scores[i]);
            if (!double.IsFinite(score)) continue;
            var probability = double.CreateTruncating(probabilities[i]);
            var positive = score > threshold;
            if (labels[i])
            {
                if (positive) truePositives++;
                else falseNegatives++;
                logLoss += -Math.Log(probability, 2);
            }
            else
            {
                if (positive) falsePositives++;
                else trueNegatives++;
                logLoss += -Math.Log(1.0 - probability, 2);
            }
            (keptScores[kept], keptProbabilities[kept], keptLabels[kept]) = (score, probability, labels[i]);
            kept++;
        }
        var precision = truePositives + falsePositives > 0 ? truePositives / (truePositives + falsePositives) : 0;
        var recall = truePositives + falseNegatives > 0 ? truePositives / (truePositives + falseNegatives) : 0;
        var rowsLabels = keptLabels.AsSpan(0, kept);
        return new BinaryMetrics(
            Accuracy: (trueNegatives + truePositives) / (truePositives + trueNegatives + falseNegatives + falsePositives),
            Auc: BinaryCurves.Auc(keptScores.AsSpan(0, kept), rowsLabels),
            F1: precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall),
            Precision: precision,
            Recall: recall,
            LogLoss: kept > 0 ? logLoss / kept : 0,
            AveragePrecision: BinaryCurves.AveragePrecision(keptProbabilities.AsSpan(0, kept), rowsLabels),
            Count: kept);
    }
}
