using Cairn.ML.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Cairn.Tests.Training;

/// <summary>The rebuilt per-tree curve must end exactly where ML.NET's own evaluation of the whole model ends.</summary>
public sealed class LearningCurveTests
{
    private sealed class Row
    {
        [VectorType(3)] public float[] Features { get; set; } = [];
        public bool Label { get; set; }
        public float Target { get; set; }
    }

    private static (IDataView Train, IDataView Test) Data(MLContext ml)
    {
        var random = new Random(5);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var rows = Enumerable.Range(0, 3000).Select(_ =>
        {
            float a = (float)Normal(), b = (float)Normal(), c = (float)Normal();
            var logit = 2 * a - 1.5 * b * b + 0.8 * Normal();
            return new Row { Features = [a, b, c], Label = logit > -1, Target = (float)(3 * a - 2 * b * b + 0.5 * Normal()) };
        }).ToList();
        return (ml.Data.LoadFromEnumerable(rows.Take(2000)), ml.Data.LoadFromEnumerable(rows.Skip(2000)));
    }

    public static TheoryData<string> BinaryTrainers => ["fasttree", "lightgbm", "fastforest"];

    [Theory]
    [MemberData(nameof(BinaryTrainers))]
    public void Binary_curve_ends_at_the_auc_of_the_whole_model_and_improves_on_the_first_trees(string trainer)
    {
        var ml = new MLContext(1);
        var (train, test) = Data(ml);
        IEstimator<ITransformer> estimator = trainer switch
        {
            "fasttree" => ml.BinaryClassification.Trainers.FastTree(numberOfTrees: 40),
            "lightgbm" => ml.BinaryClassification.Trainers.LightGbm(numberOfIterations: 40),
            _ => ml.BinaryClassification.Trainers.FastForest(numberOfTrees: 40).Append(ml.BinaryClassification.Calibrators.Platt()),
        };
        var model = estimator.Fit(train);
        var scored = model.Transform(test);

        var curve = LearningCurve.Compute(model, scored, MlTask.Binary);

        Assert.InRange(curve.Count, 30, 40); // LightGbm may stop adding trees before 40
        Assert.Equal(Enumerable.Range(1, curve.Count), curve.Select(p => p.Trees));
        var expected = ml.BinaryClassification.Evaluate(scored).AreaUnderRocCurve;
        Assert.Equal(expected, curve[^1].Value, 6);
        Assert.True(curve[^1].Value > curve[0].Value, $"first {curve[0].Value}, last {curve[^1].Value}");
    }

    [Theory]
    [InlineData("fasttree")]
    [InlineData("fastforest")]
    [InlineData("lightgbm")]
    public void Regression_curve_ends_at_the_rmse_of_the_whole_model(string trainer)
    {
        var ml = new MLContext(1);
        var (train, test) = Data(ml);
        IEstimator<ITransformer> estimator = trainer switch
        {
            "fasttree" => ml.Regression.Trainers.FastTree("Target", numberOfTrees: 120),
            "lightgbm" => ml.Regression.Trainers.LightGbm("Target", numberOfIterations: 120),
            _ => ml.Regression.Trainers.FastForest("Target", numberOfTrees: 120),
        };
        var model = estimator.Fit(train);
        var scored = model.Transform(test);
        var renamed = ml.Transforms.CopyColumns("Label", "Target").Fit(scored).Transform(scored);

        var curve = LearningCurve.Compute(model, renamed, MlTask.Regression);

        Assert.InRange(curve.Count, 30, LearningCurve.MaxPoints); // up to 120 trees, every third
        Assert.InRange(curve[^1].Trees, 90, 120);
        var expected = ml.Regression.Evaluate(scored, "Target").RootMeanSquaredError;
        Assert.Equal(expected, curve[^1].Value, 4);
        Assert.True(curve[^1].Value < curve[0].Value, $"first {curve[0].Value}, last {curve[^1].Value}");
    }

    [Fact]
    public void Linear_models_have_no_curve()
    {
        var ml = new MLContext(1);
        var (train, test) = Data(ml);
        var model = ml.BinaryClassification.Trainers.SdcaLogisticRegression().Fit(train);

        Assert.Empty(LearningCurve.Compute(model, model.Transform(test), MlTask.Binary));
    }

    [Fact]
    public void Auc_counts_ties_as_half()
    {
        // Positives at 0.9 and 0.5, negatives at 0.5 and 0.1: pairs (0.9>0.5), (0.9>0.1), (0.5=0.5 half), (0.5>0.1) = 3.5 of 4.
        Assert.Equal(0.875, LearningCurve.Auc([0.9, 0.5, 0.5, 0.1], [true, true, false, false]));
        Assert.True(double.IsNaN(LearningCurve.Auc([0.3, 0.4], [true, true])));
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

            Assert.Equal(RankSumAuc(scores, labels), LearningCurve.Auc(scores, labels), 12);
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

        LearningCurve.Sort(values);

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
}
