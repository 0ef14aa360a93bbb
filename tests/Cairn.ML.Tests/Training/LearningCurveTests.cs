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
}
