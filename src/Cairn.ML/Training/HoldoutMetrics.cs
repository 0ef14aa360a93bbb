using Cairn.Metrics;
using RegressionMetrics = Cairn.Metrics.RegressionMetrics;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Cairn.ML.Training;

/// <summary>
/// The trainer's held-out metrics: the columns of its scored rows handed to <see cref="Cairn.Metrics"/>, the one metrics
/// module, which computes them as ML.NET's evaluators do (the same comparisons and sums, so the same doubles; a test holds
/// them to it) without a data view and an evaluator to build and compile for a few thousand rows.
/// </summary>
internal static class HoldoutMetrics
{
    /// <summary>
    /// Accuracy, AUC, F1, precision, recall, log-loss and average precision of a binary model: a row is predicted positive
    /// when its raw score is above 0 (ML.NET's threshold); see <see cref="BinaryMetrics"/>.
    /// </summary>
    public static Dictionary<string, double> Binary(bool[] labels, float[] scores, float[] probabilities) =>
        BinaryMetrics.Evaluate(labels, scores, probabilities, BinaryMetrics.RawScoreThreshold).ToDictionary();

    /// <summary>RMSE, MAE and R² of a regression model; see <see cref="RegressionMetrics"/>.</summary>
    public static Dictionary<string, double> Regression(float[] targets, float[] scores) => RegressionMetrics.Evaluate(targets, scores).ToDictionary();

    /// <summary>
    /// Micro and macro accuracy and log-loss of a multiclass model from its scored view (the <c>Label</c> key and the
    /// <c>Score</c> vector of class probabilities); see <see cref="MulticlassMetrics"/>.
    /// </summary>
    public static Dictionary<string, double> Multiclass(IDataView scored)
    {
        var classCount = ((VectorDataViewType)scored.Schema["Score"].Type).Size;
        // Keys count from 1; key 0 is a missing label, which the metrics leave out (as ML.NET does).
        var labels = scored.GetColumn<uint>("Label").Select(k => (int)k - 1).ToArray();
        var scores = new float[labels.Length * classCount];
        var row = 0;
        foreach (var vector in scored.GetColumn<VBuffer<float>>("Score"))
            vector.DenseValues().Take(classCount).ToArray().CopyTo(scores, classCount * row++);
        return MulticlassMetrics.Evaluate(labels, scores, classCount).ToDictionary();
    }
}
