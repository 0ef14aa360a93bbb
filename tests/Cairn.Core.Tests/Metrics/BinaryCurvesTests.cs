using Cairn.Metrics;

namespace Cairn.Tests.Metrics;

/// <summary>The ranking metrics and curves: AUC (ML.NET's, also held to ML.NET's evaluator by the ML tests), the score sort, and average precision against scikit-learn's definition.</summary>
public sealed class BinaryCurvesTests
{
    [Fact]
    public void Auc_counts_ties_as_half()
    {
        // Positives at 0.9 and 0.5, negatives at 0.5 and 0.1: pairs (0.9>0.5), (0.9>0.1), (0.5=0.5 half), (0.5>0.1) = 3.5 of 4.
        Assert.Equal(0.875, BinaryCurves.Auc([0.9, 0.5, 0.5, 0.1], [true, true, false, false]));
        Assert.True(double.IsNaN(BinaryCurves.Auc([0.3, 0.4], [true, true])));
    }

    [Fact]
    public void Auc_equals_the_rank_sum_definition_with_many_ties()
    {
        var random = new Random(3);
        for (var round = 0; round < 20; round++)
        {
            var n = random.Next(2, 400);
            var scores = Enumerable.Range(0, n).Select(_ => Math.Round(random.NextDouble() * random.Next(1, 20)) / 4).ToArray(); // coarse: many ties
            var labels = scores.Select(s => random.NextDouble() < 0.3 + s / 10).ToArray();
            if (labels.All(l => l) || labels.All(l => !l)) continue;

            Assert.Equal(RankSumAuc(scores, labels), BinaryCurves.Auc(scores, labels), 12);
        }
    }

    [Theory]
    [InlineData("spread")]
    [InlineData("ties")]
    [InlineData("signs")]
    [InlineData("nan")]
    public void Score_sort_orders_as_array_sort_does(string shape)
    {
        var random = new Random(shape.Length);
        var values = Enumerable.Range(0, 20_000).Select(i => shape switch
        {
            "ties" => Math.Round(random.NextDouble() * 8) - 4,
            // Both zeros, subnormals, extremes and infinities among ordinary values.
            "signs" => (i % 9) switch
            {
                0 => -0.0, 1 => 0.0, 2 => double.Epsilon, 3 => -double.Epsilon, 4 => double.MaxValue, 5 => double.NegativeInfinity,
                6 => double.PositiveInfinity, _ => (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-300, 300)),
            },
            "nan" => i % 100 == 0 ? double.NaN : random.NextDouble(),
            _ => (random.NextDouble() - 0.5) * 1e3,
        }).ToArray();
        var expected = (double[])values.Clone();
        Array.Sort(expected);

        ScoreSort.Sort(values);

        // Equal as numbers at every position (-0 and 0 compare equal, as the AUC compares them), and bit for bit otherwise.
        for (var i = 0; i < values.Length; i++)
            Assert.True(values[i] == expected[i] || (double.IsNaN(values[i]) && double.IsNaN(expected[i])), $"{i}: {values[i]} vs {expected[i]}");
        Assert.Equal(expected.Select(v => v == 0 ? 0 : BitConverter.DoubleToInt64Bits(v)), values.Select(v => v == 0 ? 0 : BitConverter.DoubleToInt64Bits(v)));
    }

    /// <summary>Mann-Whitney: the positives' mean ranks (ties share the mean of their ranks), as a reference.</summary>
    private static double RankSumAuc(double[] scores, bool[] labels)
    {
        var order = Enumerable.Range(0, scores.Length).OrderBy(i => scores[i]).ToArray();
        var ranks = new double[scores.Length];
        for (var i = 0; i < order.Length;)
        {
            var j = i;
            while (j + 1 < order.Length && scores[order[j + 1]] == scores[order[i]]) j++;
            for (var k = i; k <= j; k++) ranks[order[k]] = (i + j) / 2.0 + 1;
            i = j + 1;
        }
        double positives = labels.Count(l => l), negatives = labels.Length - positives;
        return (labels.Select((l, i) => l ? ranks[i] : 0).Sum() - positives * (positives + 1) / 2) / (positives * negatives);
    }

    [Fact]
    public void Average_precision_matches_the_hand_computed_value_with_ties()
    {
        // Scores (label): 0.9 (+), 0.8 (-), 0.8 (+), 0.3 (+), 0.1 (-). Thresholds: 0.9 -> P 1, R 1/3; 0.8 (tie) -> P 2/3, R 2/3;
        // 0.3 -> P 3/4, R 1; 0.1 -> P 3/5, R 1. AP = 1/3*1 + 1/3*2/3 + 1/3*3/4 = 0.80556.
        double[] scores = [0.9, 0.8, 0.8, 0.3, 0.1];
        bool[] labels = [true, false, true, true, false];

        Assert.Equal(1 / 3.0 + 2 / 9.0 + 1 / 4.0, BinaryCurves.AveragePrecision(scores, labels), 10);
        var (recall, precision) = BinaryCurves.PrecisionRecall(scores, labels);
        Assert.Equal([0, 1 / 3.0, 2 / 3.0, 1, 1], recall);
        Assert.Equal([1, 1, 2 / 3.0, 0.75, 0.6], precision);
        Assert.True(double.IsNaN(BinaryCurves.AveragePrecision([0.2, 0.4], [false, false])));
        // A perfect ranking has AP 1.
        Assert.Equal(1.0, BinaryCurves.AveragePrecision([0.9, 0.8, 0.2], [true, true, false]));
    }


    public static TheoryData<string> Shapes => new() { "spread", "ties", "saturated", "constant", "infinite", "all_positive", "few" };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Average_precision_equals_scikit_learns_definition(string shape)
    {
        var random = new Random(shape.Length * 31);
        for (var round = 0; round < 25; round++)
        {
            var n = shape == "few" ? random.Next(1, 5) : random.Next(2, 300);
            var labels = Enumerable.Range(0, n).Select(_ => shape == "all_positive" || random.NextDouble() < 0.35).ToArray();
            var scores = Enumerable.Range(0, n).Select(i => shape switch
            {
                "ties" => Math.Round(random.NextDouble() * 5) / 5,
                // Probabilities pinned at exactly 0 and 1, as a saturated model gives them.
                "saturated" => i % 3 == 0 ? 1.0 : i % 3 == 1 ? 0.0 : random.NextDouble(),
                "constant" => 0.5,
                "infinite" => i % 5 == 0 ? double.PositiveInfinity : i % 5 == 1 ? double.NegativeInfinity : random.NextDouble(),
                _ => random.NextDouble() + (labels[i] ? 0.3 : 0),
            }).ToArray();
            if (!labels.Contains(true)) continue;

            Assert.Equal(ScikitLearnAveragePrecision(scores, labels), BinaryCurves.AveragePrecision(scores, labels), 12);
        }
    }

    [Fact]
    public void Average_precision_is_nan_without_a_positive_row_or_with_a_nan_score()
    {
        Assert.True(double.IsNaN(BinaryCurves.AveragePrecision([0.2, 0.4], [false, false])));
        Assert.True(double.IsNaN(BinaryCurves.AveragePrecision([], [])));
        Assert.True(double.IsNaN(BinaryCurves.AveragePrecision([0.2, double.NaN, 0.9], [true, false, true])));
        // A constant score ranks nothing: AP is the share of positives.
        Assert.Equal(0.25, BinaryCurves.AveragePrecision([0.5, 0.5, 0.5, 0.5], [true, false, false, false]));
    }

    [Fact]
    public void Roc_steps_once_per_distinct_score_from_the_origin_to_the_corner()
    {
        var (fpr, tpr) = BinaryCurves.Roc([0.9, 0.8, 0.8, 0.3, 0.1], [true, false, true, true, false]);

        Assert.Equal([0, 0, 0.5, 0.5, 1], fpr);
        Assert.Equal([0, 1 / 3.0, 2 / 3.0, 1, 1], tpr);
        Assert.Throws<ArgumentException>(() => BinaryCurves.Roc([0.1], [true, false]));
    }

    /// <summary>
    /// scikit-learn's <c>average_precision_score</c>, straight from its definition and by brute force: AP = sum over the
    /// thresholds t (the distinct scores, highest first) of (R(t) - R(previous t)) * P(t), where P and R are the precision
    /// and recall of predicting positive every row scored at least t, and R before the first threshold is 0.
    /// </summary>
    private static double ScikitLearnAveragePrecision(double[] scores, bool[] labels)
    {
        double positives = labels.Count(l => l);
        double ap = 0, previousRecall = 0;
        foreach (var threshold in scores.Distinct().OrderByDescending(s => s))
        {
            var predicted = Enumerable.Range(0, scores.Length).Where(i => scores[i] >= threshold).ToArray();
            double truePositives = predicted.Count(i => labels[i]);
            var recall = truePositives / positives;
            ap += (recall - previousRecall) * (truePositives / predicted.Length);
            previousRecall = recall;
        }
        return ap;
    }
}
