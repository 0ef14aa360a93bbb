namespace Cairn.ML.Training;

/// <summary>
/// Held-out metrics straight from arrays, defined and computed as ML.NET's binary and regression evaluators compute
/// them: the same threshold, the same sums in the same order, so the same doubles (a test holds them to it), without a
/// data view and an evaluator to build and compile for a few thousand rows.
/// </summary>
internal static class HoldoutMetrics
{
    /// <summary>
    /// Accuracy, AUC, F1, precision, recall and log-loss of a binary model. A row is predicted positive when its raw score
    /// is above 0 (ML.NET's default threshold); the log-loss is in bits, from the probabilities (infinite when a
    /// probability of exactly 0 or 1 is wrong, as ML.NET reports it); rows without a finite score are left out.
    /// </summary>
    public static Dictionary<string, double> Binary(bool[] labels, float[] scores, float[] probabilities)
    {
        if (!Array.TrueForAll(scores, float.IsFinite))
        {
            var kept = Enumerable.Range(0, scores.Length).Where(i => float.IsFinite(scores[i])).ToArray();
            (labels, scores, probabilities) = (Array.ConvertAll(kept, i => labels[i]), Array.ConvertAll(kept, i => scores[i]), Array.ConvertAll(kept, i => probabilities[i]));
        }
        double truePositives = 0, trueNegatives = 0, falsePositives = 0, falseNegatives = 0, logLoss = 0;
        for (var i = 0; i < labels.Length; i++)
        {
            var positive = scores[i] > 0;
            if (labels[i])
            {
                if (positive) truePositives++;
                else falseNegatives++;
                logLoss += -Math.Log(probabilities[i], 2);
            }
            else
            {
                if (positive) falsePositives++;
                else trueNegatives++;
                logLoss += -Math.Log(1.0 - probabilities[i], 2);
            }
        }
        var precision = truePositives + falsePositives > 0 ? truePositives / (truePositives + falsePositives) : 0;
        var recall = truePositives + falseNegatives > 0 ? truePositives / (truePositives + falseNegatives) : 0;
        return new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["accuracy"] = (trueNegatives + truePositives) / (truePositives + trueNegatives + falseNegatives + falsePositives),
            ["auc"] = LearningCurve.Auc(Array.ConvertAll(scores, s => (double)s), labels),
            ["f1"] = 2 * precision * recall / (precision + recall),
            ["precision"] = precision,
            ["recall"] = recall,
            ["log_loss"] = labels.Length > 0 ? logLoss / labels.Length : 0,
        };
    }

    /// <summary>RMSE, MAE and R² of a regression model (R² from the sums of the targets and their squares, as ML.NET has it).</summary>
    public static Dictionary<string, double> Regression(float[] targets, float[] scores)
    {
        double absolute = 0, squared = 0, sum = 0, sumOfSquares = 0, count = 0;
        for (var i = 0; i < targets.Length; i++)
        {
            if (!float.IsFinite(scores[i])) continue;
            var error = (double)targets[i] - scores[i];
            absolute += Math.Abs(error);
            squared += error * error;
            sum += targets[i];
            sumOfSquares += targets[i] * targets[i];
            count++;
        }
        return new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["rmse"] = Math.Sqrt(squared / count),
            ["mae"] = absolute / count,
            ["r2"] = 1 - squared / (sumOfSquares - sum * sum / count),
        };
    }
}
