using Cairn.ML.Models;
using Cairn.ML.Training;
using Cairn.Tests.Training;
using Microsoft.ML;

namespace Cairn.Tests.Models;

/// <summary>
/// Batches scored by walking a chain's tree ensemble against the same batches through ML.NET's own scorer, on models
/// trained here: every output column (score, probability, label) equal to the bit, for each tree trainer and task; other
/// chains keep ML.NET's path.
/// </summary>
public sealed class TreeScoringTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string, string, bool> Recipes => new()
    {
        // Binary data has a categorical column (one-hot slots) and missing numbers (replaced by the mean): the chain's own
        // featurization builds the vectors. With numbersOnly the recipe reads x1 and x2 alone.
        { "binary", "fasttree", false }, { "binary", "lightgbm", false }, { "binary", "fastforest", false },
        { "binary", "fasttree", true }, { "regression", "fasttree", true }, { "regression", "lightgbm", true }, { "regression", "fastforest", true },
    };

    [Theory]
    [MemberData(nameof(Recipes))]
    public void Tree_walks_of_trained_recipes_equal_ml_net_scores_to_the_bit(string task, string trainer, bool numbersOnly)
    {
        // 5,000 rows: more than two chunks, so the rows are walked in parallel.
        var file = task == "binary" ? SyntheticData.Binary(_dir.Combine("binary.csv"), rows: 5000) : SyntheticData.Regression(_dir.Combine("regression.csv"), rows: 5000);
        var recipe = WriteRecipe(task, trainer, file, task == "binary" && numbersOnly ? "features: [x1, x2]" : "");
        var data = TrainingData.Load(recipe);
        var fitted = ModelFitter.Fit(recipe, data);
        var folder = _dir.Combine("package");
        ModelPackage.SaveMlNet(folder, fitted.Context, fitted.Model, fitted.InputSchema, data.Signature());
        using var predictor = new MlNetPredictor(Path.Combine(folder, ModelPackage.MlNetModelFile), data.Signature());

        Assert.NotNull(predictor.Trees);
        Assert.False(predictor.Trees.Direct);
        AssertSameOutputs(predictor, data.Batch, task == "binary" ? ["PredictedLabel", "Score", "Probability"] : ["Score"]);
        // Small batches (the row engines' ground) and single rows give the same answers.
        AssertSameOutputs(predictor, data.Batch.Select([.. Enumerable.Range(100, 40)]), null);
        AssertSameOutputs(predictor, data.Batch.Select([7]), null);
    }

    public static TheoryData<string> Trainers => ["fasttree-binary", "lightgbm-binary", "fastforest-binary", "fasttree-regression", "lightgbm-regression", "fastforest-regression"];

    [Theory]
    [MemberData(nameof(Trainers))]
    public void Tree_walks_over_concatenated_float_columns_equal_ml_net_scores_to_the_bit(string trainer)
    {
        var (folder, features) = TrainConcatenated(trainer, rows: 3000, features: 12);
        using var predictor = new MlNetPredictor(Path.Combine(folder, ModelPackage.MlNetModelFile));
        Assert.NotNull(predictor.Trees);
        Assert.True(predictor.Trees.Direct);

        var batch = Columns(new Random(5), rows: 6000, features, missing: false);
        AssertSameOutputs(predictor, batch, trainer.EndsWith("binary", StringComparison.Ordinal) ? ["PredictedLabel", "Score", "Probability"] : ["Score"]);
        AssertSameOutputs(predictor, Columns(new Random(6), rows: 1, features, missing: false), null);
        // A missing value (NaN) anywhere in the batch sends the whole batch through ML.NET, which answers it the same.
        AssertSameOutputs(predictor, Columns(new Random(7), rows: 500, features, missing: true), null);
    }

    [Fact]
    public void A_batch_missing_a_column_is_refused_naming_it_as_ml_net_refuses_it()
    {
        var (folder, features) = TrainConcatenated("fasttree-binary", rows: 800, features: 4);
        using var predictor = new MlNetPredictor(Path.Combine(folder, ModelPackage.MlNetModelFile));
        var batch = new ColumnBatch();
        for (var f = 1; f < features; f++) batch.Add($"f{f}", new float[3]);

        var walked = Assert.Throws<InvalidParameterValueException>(() => predictor.Predict(batch));
        var plain = Assert.Throws<InvalidParameterValueException>(() => predictor.PredictWithMlNet(batch));
        Assert.Contains("'f0'", walked.Message, StringComparison.Ordinal);
        Assert.Equal(plain.Message, walked.Message);
    }

    [Theory]
    [InlineData("binary", "lbfgs")]
    [InlineData("regression", "sdca")]
    public void Chains_without_a_tree_ensemble_score_through_ml_net(string task, string trainer)
    {
        var file = task == "binary" ? SyntheticData.Binary(_dir.Combine("binary.csv"), rows: 1500) : SyntheticData.Regression(_dir.Combine("regression.csv"), rows: 1500);
        var recipe = WriteRecipe(task, trainer, file, "");
        var data = TrainingData.Load(recipe);
        var fitted = ModelFitter.Fit(recipe, data);
        var folder = _dir.Combine("package");
        ModelPackage.SaveMlNet(folder, fitted.Context, fitted.Model, fitted.InputSchema, data.Signature());
        using var predictor = new MlNetPredictor(Path.Combine(folder, ModelPackage.MlNetModelFile), data.Signature());

        Assert.Null(predictor.Trees);
        AssertSameOutputs(predictor, data.Batch, null);
    }

    private static void AssertSameOutputs(MlNetPredictor predictor, ColumnBatch batch, string[]? expectedColumns)
    {
        var walked = predictor.Predict(batch);
        var plain = predictor.PredictWithMlNet(batch);
        Assert.Equal(plain.Names, walked.Names);
        if (expectedColumns is not null) Assert.Equal(expectedColumns.Order(), walked.Names.Order());
        Assert.Equal(batch.RowCount, walked.RowCount);
        foreach (var name in plain.Names)
        {
            switch (plain[name])
            {
                case float[] expected:
                    // Bit patterns, so -0 and NaN payloads count too.
                    Assert.Equal(Array.ConvertAll(expected, BitConverter.SingleToInt32Bits), Array.ConvertAll((float[])walked[name], BitConverter.SingleToInt32Bits));
                    break;
                case bool[] expected:
                    Assert.Equal(expected, (bool[])walked[name]);
                    break;
                default:
                    Assert.Fail($"Unexpected output column {name} of {plain[name].GetType().Name}");
                    break;
            }
        }
        // The scores vary: a constant model would make the comparison empty.
        Assert.True(batch.RowCount < 10 || ((float[])plain["Score"]).Distinct().Count() > 10);
    }

    private Recipe WriteRecipe(string task, string trainer, string file, string extra)
    {
        var path = _dir.Combine($"{task}-{trainer}.yaml");
        File.WriteAllText(path, $"""
            task: {task}
            data: {Path.GetFileName(file)}
            label: {(task == "regression" ? "price" : "y")}
            trainer: {trainer}
            {extra}
            """);
        return Recipe.Load(path);
    }

    /// <summary>A chain of one concatenation of float columns and a tree trainer, trained with ML.NET directly (as the serve bench does).</summary>
    private (string Folder, int Features) TrainConcatenated(string trainer, int rows, int features)
    {
        var random = new Random(3);
        var batch = Columns(random, rows, features, missing: false);
        var columns = Enumerable.Range(0, features).Select(f => (float[])batch[$"f{f}"]).ToArray();
        var labels = new bool[rows];
        var targets = new float[rows];
        for (var r = 0; r < rows; r++)
        {
            var sum = 0.0;
            for (var f = 0; f < features; f++) sum += columns[f][r] * (f % 3 - 1) * (1 + f * 0.1);
            labels[r] = sum + (random.NextDouble() - 0.5) * 0.3 > 0;
            targets[r] = (float)(sum * 3 + random.NextDouble());
        }
        var ml = new MLContext(seed: 1);
        var schema = new DataViewSchema.Builder();
        var view = new List<(string, Microsoft.ML.Data.DataViewType, Array)>();
        for (var f = 0; f < features; f++) view.Add(($"f{f}", Microsoft.ML.Data.NumberDataViewType.Single, columns[f]));
        view.Add(("Label", trainer.EndsWith("binary", StringComparison.Ordinal) ? Microsoft.ML.Data.BooleanDataViewType.Instance : Microsoft.ML.Data.NumberDataViewType.Single,
            trainer.EndsWith("binary", StringComparison.Ordinal) ? labels : targets));
        var data = new ColumnDataView(view);
        var concat = ml.Transforms.Concatenate("Features", Enumerable.Range(0, features).Select(f => $"f{f}").ToArray());
        IEstimator<ITransformer> estimator = trainer switch
        {
            "fasttree-binary" => concat.Append(ml.BinaryClassification.Trainers.FastTree(numberOfLeaves: 16, numberOfTrees: 40)),
            "lightgbm-binary" => concat.Append(ml.BinaryClassification.Trainers.LightGbm(numberOfLeaves: 16, numberOfIterations: 40)),
            "fastforest-binary" => concat.Append(ml.BinaryClassification.Trainers.FastForest(numberOfLeaves: 16, numberOfTrees: 30))
                .Append(ml.BinaryClassification.Calibrators.Platt()),
            "fasttree-regression" => concat.Append(ml.Regression.Trainers.FastTree(numberOfLeaves: 16, numberOfTrees: 40)),
            "lightgbm-regression" => concat.Append(ml.Regression.Trainers.LightGbm(numberOfLeaves: 16, numberOfIterations: 40)),
            "fastforest-regression" => concat.Append(ml.Regression.Trainers.FastForest(numberOfLeaves: 16, numberOfTrees: 30)),
            _ => throw new ArgumentException(trainer),
        };
        var model = estimator.Fit(data);
        var folder = _dir.Combine($"package-{trainer}");
        var inputs = Enumerable.Range(0, features).Select(f => new ColumnSpec($"f{f}", "float")).ToList();
        var inputSchema = new ColumnDataView(view.Take(features).ToList()).Schema;
        ModelPackage.SaveMlNet(folder, ml, model, inputSchema, inputs);
        return (folder, features);
    }

    private static ColumnBatch Columns(Random random, int rows, int features, bool missing)
    {
        var batch = new ColumnBatch();
        for (var f = 0; f < features; f++)
        {
            var values = new float[rows];
            for (var r = 0; r < rows; r++) values[r] = missing && r == rows / 2 && f == 1 ? float.NaN : (float)(random.NextDouble() * 4 - 2);
            batch.Add($"f{f}", values);
        }
        return batch;
    }
}
