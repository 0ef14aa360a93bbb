using Cairn.ML.Training;
using Microsoft.ML;
using Xunit;

namespace Cairn.ML.Tests.Training;

/// <summary>The trainer's metrics from arrays against ML.NET's own evaluators on the same rows: equal to the bit.</summary>
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

    public static TheoryData<int, string> Cases => new()
    {
        { 7, "spread" }, { 500, "spread" }, { 20_000, "spread" }, { 500, "ties" }, { 5_000, "ties" }, { 500, "saturated" }, { 3_000, "skewed" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Binary_metrics_equal_what_ml_net_evaluates(int count, string shape)
    {
        var random = new Random(count + shape.Length);
        var rows = Enumerable.Range(0, count).Select(i =>
        {
            var label = random.NextDouble() < (shape == "skewed" ? 0.05 : 0.4);
            var score = shape == "ties" ? MathF.Round((float)(random.NextDouble() * 4 - 2), 1) : (float)(random.NextDouble() * 6 - 3 + (label ? 1 : 0));
            // Saturated: some probabilities are exactly 0 or 1, so some rows' log-loss is infinite, as ML.NET reports it.
            var probability = shape == "saturated" && i % 10 == 0 ? (i % 20 == 0 ? 1f : 0f) : 1f / (1f + MathF.Exp(-1.3f * score + 0.2f));
            return new BinaryRow { Label = label, Score = score, Probability = probability, PredictedLabel = random.NextDouble() < 0.5 };
        }).ToArray();

        var ours = HoldoutMetrics.Binary([.. rows.Select(r => r.Label)], [.. rows.Select(r => r.Score)], [.. rows.Select(r => r.Probability)]);

        var ml = new MLContext(1);
        var theirs = ml.BinaryClassification.Evaluate(ml.Data.LoadFromEnumerable(rows), "Label");
        Assert.Equal(theirs.Accuracy, ours["accuracy"]);
        Assert.Equal(theirs.AreaUnderRocCurve, ours["auc"]);
        Assert.Equal(theirs.F1Score, ours["f1"]);
        Assert.Equal(theirs.PositivePrecision, ours["precision"]);
        Assert.Equal(theirs.PositiveRecall, ours["recall"]);
        Assert.Equal(theirs.LogLoss, ours["log_loss"]);
        Assert.Equal(shape == "saturated", double.IsPositiveInfinity(ours["log_loss"]));
    }

    [Theory]
    [InlineData(7)]
    [InlineData(1_000)]
    [InlineData(20_000)]
    public void Regression_metrics_equal_what_ml_net_evaluates(int count)
    {
        var random = new Random(count);
        var rows = Enumerable.Range(0, count).Select(_ =>
        {
            var target = (float)(random.NextDouble() * 100 - 20);
            return new RegressionRow { Label = target, Score = target + (float)(random.NextDouble() * 10 - 4) };
        }).ToArray();

        var ours = HoldoutMetrics.Regression([.. rows.Select(r => r.Label)], [.. rows.Select(r => r.Score)]);

        var ml = new MLContext(1);
        var theirs = ml.Regression.Evaluate(ml.Data.LoadFromEnumerable(rows), "Label");
        Assert.Equal(theirs.RootMeanSquaredError, ours["rmse"]);
        Assert.Equal(theirs.MeanAbsoluteError, ours["mae"]);
        Assert.Equal(theirs.RSquared, ours["r2"]);
    }

    [Fact]
    public void Rows_without_a_finite_score_are_left_out_as_ml_net_leaves_them()
    {
        bool[] labels = [true, false, true, false, true, false];
        float[] scores = [1.5f, float.NaN, -0.5f, float.PositiveInfinity, 0.25f, -1f];
        float[] probabilities = [0.8f, 0.5f, 0.4f, 0.9f, 0.55f, 0.3f];

        var ours = HoldoutMetrics.Binary(labels, scores, probabilities);

        var ml = new MLContext(1);
        var theirs = ml.BinaryClassification.Evaluate(ml.Data.LoadFromEnumerable(labels.Select((l, i) => new BinaryRow { Label = l, Score = scores[i], Probability = probabilities[i] }).ToArray()), "Label");
        Assert.Equal(theirs.Accuracy, ours["accuracy"]);
        Assert.Equal(theirs.LogLoss, ours["log_loss"]);
        Assert.Equal(theirs.AreaUnderRocCurve, ours["auc"]);
        Assert.Equal(3.0 / 4, ours["accuracy"]);
    }
}
