using Cairn.Metrics;
using Cairn.ML.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using RegressionMetrics = Cairn.Metrics.RegressionMetrics;

namespace Cairn.ML.Tests.Training;

/// <summary>
/// The one metrics module (Cairn.Metrics, which the trainer, <c>cairn evaluate</c>, the learning curve and the importances
/// use) against ML.NET's own evaluators on the same rows: equal to the bit, on generated edge cases.
/// </summary>
public sealed class HoldoutMetricsTests
{
    private sealed class BinaryRow
    {
        public bool Label { get; set; }
        public float Score { get; set; }
        public float Probability { get; set; }

        /// <summary>Required by ML.NET's evaluator but not read: it thresholds the score itself (random here, to show it).</summary>
        public bool PredictedLabel { get; set; }
    }

    private sealed class RegressionRow
    {
        public float Label { get; set; }
        public float Score { get; set; }
    }

    private const int Classes = 4;

    private sealed class MulticlassRow
    {
        /// <summary>
        /// A key with one more value than the scored classes, to hold a class the model does not know. Loaded from a class,
        /// 0 is the first value (ML.NET stores it as key 1) and <see cref="uint.MaxValue"/> a missing label (key 0).
        /// </summary>
        [KeyType(Classes + 1)]
        public uint Label { get; set; }

        [VectorType(Classes)]
        public float[] Score { get; set; } = [];

        [KeyType(Classes)]
        public uint PredictedLabel { get; set; }
    }

    public static TheoryData<int, string> Cases => new()
    {
        { 7, "spread" }, { 500, "spread" }, { 20_000, "spread" }, { 500, "ties" }, { 5_000, "ties" }, { 500, "saturated" }, { 3_000, "skewed" },
        { 600, "nonfinite" }, { 300, "zeros" }, { 200, "all_negative" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Binary_metrics_equal_what_ml_net_evaluates(int count, string shape)
    {
        var random = new Random(count + shape.Length);
        var rows = Enumerable.Range(0, count).Select(i =>
        {
            var label = random.NextDouble() < (shape == "skewed" ? 0.05 : 0.4);
            var score = shape switch
            {
                "ties" => MathF.Round((float)(random.NextDouble() * 4 - 2), 1),
                // Scores of exactly 0 sit on the threshold: ML.NET counts them negative (score > 0 is positive).
                "zeros" => i % 3 == 0 ? 0f : (float)(random.NextDouble() * 2 - 1),
                // Nothing predicted positive: precision = recall = 0, and F1 is 0 as ML.NET has it, not 0/0.
                "all_negative" => -(float)random.NextDouble() - 0.01f,
                "nonfinite" => (i % 7) switch { 0 => float.NaN, 1 => float.PositiveInfinity, 2 => float.NegativeInfinity, _ => (float)(random.NextDouble() * 6 - 3) },
                _ => (float)(random.NextDouble() * 6 - 3 + (label ? 1 : 0)),
            };
            // Saturated: some probabilities are exactly 0 or 1, so some rows' log-loss is infinite, as ML.NET reports it.
            var probability = shape == "saturated" && i % 10 == 0 ? (i % 20 == 0 ? 1f : 0f) : 1f / (1f + MathF.Exp(-1.3f * score + 0.2f));
            return new BinaryRow { Label = label, Score = score, Probability = probability, PredictedLabel = random.NextDouble() < 0.5 };
        }).ToArray();

        var ours = BinaryMetrics.Evaluate([.. rows.Select(r => r.Label)], [.. rows.Select(r => r.Score)], [.. rows.Select(r => r.Probability)]);
        var logged = HoldoutMetrics.Binary([.. rows.Select(r => r.Label)], [.. rows.Select(r => r.Score)], [.. rows.Select(r => r.Probability)]);

        var ml = new MLContext(1);
        var theirs = ml.BinaryClassification.Evaluate(ml.Data.LoadFromEnumerable(rows), "Label");
        Assert.Equal(theirs.Accuracy, ours.Accuracy);
        Assert.Equal(theirs.AreaUnderRocCurve, ours.Auc);
        Assert.Equal(theirs.F1Score, ours.F1);
        Assert.Equal(theirs.PositivePrecision, ours.Precision);
        Assert.Equal(theirs.PositiveRecall, ours.Recall);
        Assert.Equal(theirs.LogLoss, ours.LogLoss);
        Assert.Equal(shape == "saturated", double.IsPositiveInfinity(ours.LogLoss));
        Assert.Equal(shape == "all_negative" ? 0 : ours.F1, theirs.F1Score);
        Assert.Equal(ours.ToDictionary(), logged);
    }

    [Fact]
    public void Binary_metrics_of_one_class_are_ml_net_counts_with_an_undefined_auc()
    {
        // ML.NET's evaluator refuses data of one class (its AUC is undefined); the module reports the AUC as NaN and the rest
        // as ML.NET's counters define them.
        bool[] labels = [false, false, false, false];
        float[] scores = [0.5f, -1f, 2f, -0.25f];
        float[] probabilities = [0.6f, 0.2f, 0.9f, 0.4f];

        var ours = BinaryMetrics.Evaluate(labels, scores, probabilities);

        Assert.True(double.IsNaN(ours.Auc));
        Assert.True(double.IsNaN(ours.AveragePrecision));
        Assert.Equal(0.5, ours.Accuracy);
        Assert.Equal((0.0, 0.0, 0.0), (ours.Precision, ours.Recall, ours.F1));
        Assert.Equal((-Math.Log(1.0 - 0.6f, 2) - Math.Log(1.0 - 0.2f, 2) - Math.Log(1.0 - 0.9f, 2) - Math.Log(1.0 - 0.4f, 2)) / 4, ours.LogLoss, 12);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
        {
            var ml = new MLContext(1);
            return ml.BinaryClassification.Evaluate(ml.Data.LoadFromEnumerable(labels.Select((l, i) => new BinaryRow { Label = l, Score = scores[i], Probability = probabilities[i] })), "Label");
        });
    }

    [Fact]
    public void The_threshold_is_a_parameter_and_compares_strictly()
    {
        bool[] labels = [true, false, true, false];
        double[] probabilities = [0.5, 0.5, 0.75, 0.25];

        // On probabilities (a model without a raw score): 0.5 itself is negative, as ML.NET compares (score > threshold).
        var byProbability = BinaryMetrics.Evaluate(labels, probabilities, probabilities, BinaryMetrics.ProbabilityThreshold);
        Assert.Equal(0.75, byProbability.Accuracy);
        Assert.Equal(0.5, byProbability.Recall);
        // Below 0.5, the two rows at 0.5 turn positive: one right, one wrong.
        var lower = BinaryMetrics.Evaluate(labels, probabilities, probabilities, 0.4);
        Assert.Equal((0.75, 1.0, 2 / 3.0), (lower.Accuracy, lower.Recall, lower.Precision));
    }

    public static TheoryData<int, string> RegressionCases => new()
    {
        { 7, "spread" }, { 1_000, "spread" }, { 20_000, "spread" }, { 300, "constant" }, { 500, "nan" }, { 500, "infinite" },
    };

    [Theory]
    [MemberData(nameof(RegressionCases))]
    public void Regression_metrics_equal_what_ml_net_evaluates(int count, string shape)
    {
        var random = new Random(count + shape.Length);
        var rows = Enumerable.Range(0, count).Select(i =>
        {
            var target = shape == "constant" ? 3.5f : (float)(random.NextDouble() * 100 - 20);
            var score = target + (float)(random.NextDouble() * 10 - 4);
            // ML.NET leaves out rows with a NaN score or target, but keeps an infinite score (its errors become infinite).
            if (shape == "nan" && i % 9 == 0) score = float.NaN;
            if (shape == "nan" && i % 11 == 0) target = float.NaN;
            if (shape == "infinite" && i == count / 2) score = float.NegativeInfinity;
            return new RegressionRow { Label = target, Score = score };
        }).ToArray();

        var ours = RegressionMetrics.Evaluate([.. rows.Select(r => r.Label)], [.. rows.Select(r => r.Score)]);

        var ml = new MLContext(1);
        var theirs = ml.Regression.Evaluate(ml.Data.LoadFromEnumerable(rows), "Label");
        Assert.Equal(theirs.RootMeanSquaredError, ours.Rmse);
        Assert.Equal(theirs.MeanAbsoluteError, ours.Mae);
        Assert.Equal(theirs.RSquared, ours.R2);
        Assert.Equal(shape == "constant", double.IsNaN(ours.R2));
        Assert.Equal(shape == "infinite", double.IsPositiveInfinity(ours.Rmse));
        Assert.Equal(ours.ToDictionary(), HoldoutMetrics.Regression([.. rows.Select(r => r.Label)], [.. rows.Select(r => r.Score)]));
    }

    public static TheoryData<int, string> MulticlassCases => new()
    {
        { 9, "spread" }, { 2_000, "spread" }, { 1_000, "ties" }, { 800, "saturated" }, { 800, "nonfinite" }, { 600, "unknown" }, { 300, "one_class" },
    };

    [Theory]
    [MemberData(nameof(MulticlassCases))]
    public void Multiclass_metrics_equal_what_ml_net_evaluates(int count, string shape)
    {
        var random = new Random(count * 7 + shape.Length);
        var rows = Enumerable.Range(0, count).Select(i =>
        {
            var label = shape == "one_class" ? 2 : random.Next(Classes);
            var logits = Enumerable.Range(0, Classes).Select(c => random.NextDouble() * 3 + (c == label ? 1.2 : 0)).ToArray();
            var total = logits.Sum(Math.Exp);
            var score = logits.Select(l => (float)(Math.Exp(l) / total)).ToArray();
            switch (shape)
            {
                case "ties": // coarse probabilities: the label often ties with another class, and the lower class number wins
                    score = score.Select(p => MathF.Round(p * 4) / 4).ToArray();
                    break;
                case "saturated" when i % 5 == 0: // one class certain, the label's probability exactly 0 or 1
                    score = new float[Classes];
                    score[random.Next(Classes)] = 1;
                    break;
                case "nonfinite" when i % 6 == 0:
                    score[random.Next(Classes)] = (i % 4) switch { 0 => float.NaN, 1 => float.PositiveInfinity, _ => float.NegativeInfinity };
                    break;
            }
            // No label (left out), or a class the model does not know (a miss, its log-loss at the floor).
            var value = shape == "unknown" && i % 10 == 0 ? (uint)Classes : shape == "unknown" && i % 10 == 1 ? uint.MaxValue : (uint)label;
            return new MulticlassRow { Label = value, Score = score, PredictedLabel = (uint)random.Next(Classes) };
        }).ToArray();

        var ours = MulticlassMetrics.Evaluate([.. rows.Select(r => r.Label == uint.MaxValue ? -1 : (int)r.Label)], [.. rows.SelectMany(r => r.Score)], Classes);

        var ml = new MLContext(1);
        var view = ml.Data.LoadFromEnumerable(rows);
        var theirs = ml.MulticlassClassification.Evaluate(view, "Label");
        Assert.Equal(theirs.MicroAccuracy, ours.MicroAccuracy);
        Assert.Equal(theirs.MacroAccuracy, ours.MacroAccuracy);
        Assert.Equal(theirs.LogLoss, ours.LogLoss);
        Assert.Equal(ours.ToDictionary(), HoldoutMetrics.Multiclass(view));
    }

    [Fact]
    public void Multiclass_accuracies_from_predicted_classes_alone_count_unknown_labels_as_misses()
    {
        // Class 0: 2 of 3 right; class 1: 1 of 1; label 3 is unknown to a 3-class model (a miss, not a class of its own); -1 has no label.
        int[] labels = [0, 0, 0, 1, 3, -1];
        int[] predicted = [0, 0, 2, 1, 3, 0];

        var metrics = MulticlassMetrics.FromPredictions(labels, predicted, 3);

        Assert.Equal(3 / 5.0, metrics.MicroAccuracy);
        Assert.Equal((2 / 3.0 + 1) / 2, metrics.MacroAccuracy);
        Assert.Null(metrics.LogLoss);
        Assert.Equal(5, metrics.Count);
    }
}
