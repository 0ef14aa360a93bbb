using Cairn.ML.Models;
using Cairn.ML.Training;

namespace Cairn.Tests.Training;

/// <summary>
/// The trainer's two shortcuts (feature vectors computed once for the trainer; permutation importance by walking a tree
/// model directly) against ML.NET's plain path: the same model, the same metrics, the same importances.
/// </summary>
public sealed class ShortcutTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private (Recipe Recipe, TrainingData Data) Load(string task, string trainer, string file, string extra = "")
    {
        var path = _dir.Combine($"{task}-{trainer}.yaml");
        File.WriteAllText(path, $"""
            task: {task}
            data: {Path.GetFileName(file)}
            label: {(task == "regression" ? "price" : "y")}
            trainer: {trainer}
            {extra}
            """);
        var recipe = Recipe.Load(path);
        return (recipe, TrainingData.Load(recipe));
    }

    public static TheoryData<string, string, bool> Models => new()
    {
        // Binary data has a categorical column (one-hot slots) and missing numbers (replaced by the mean); with
        // numbersOnly the recipe leaves the category out, so the vectors are built straight from the numbers.
        { "binary", "fasttree", false }, { "binary", "lightgbm", false }, { "binary", "fastforest", false }, { "binary", "lbfgs", false },
        { "binary", "fasttree", true }, { "binary", "lightgbm", true }, { "binary", "fastforest", true }, { "binary", "lbfgs", true },
        { "regression", "fasttree", true }, { "regression", "lightgbm", true }, { "regression", "fastforest", true }, { "regression", "sdca", true },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void Shortcuts_give_the_model_metrics_and_importances_of_the_plain_path(string task, string trainer, bool numbersOnly)
    {
        var file = task == "binary" ? SyntheticData.Binary(_dir.Combine("binary.csv"), rows: 1500) : SyntheticData.Regression(_dir.Combine("regression.csv"), rows: 1500);
        var (recipe, data) = Load(task, trainer, file, task == "binary" && numbersOnly ? "features: [x1, x2]" : "");
        Assert.Equal(numbersOnly, data.Features.All(f => f.Kind == FeatureKind.Numeric));

        var fast = ModelFitter.Fit(recipe, data, shortcuts: ModelFitter.Shortcuts.On);
        var plain = ModelFitter.Fit(recipe, data, shortcuts: ModelFitter.Shortcuts.Off);

        // Same feature values in the same order reach the trainer, so the model and every metric are identical; held-out
        // scores walked through the trees are ML.NET's to the bit.
        Assert.Equal(plain.Metrics, fast.Metrics);
        Assert.Equal(plain.Holdout.Scores, fast.Holdout.Scores);
        Assert.Equal(plain.Holdout.PredictedValues, fast.Holdout.PredictedValues);
        Assert.Equal(plain.Diagnostics.Curve, fast.Diagnostics.Curve);
        // Walking the trees in double precision may order a few near-tied scores differently from ML.NET's float scores,
        // so the importances agree to a small tolerance, and on the order of the features that matter.
        var expected = plain.Diagnostics.Importance.ToDictionary(e => e.Feature);
        Assert.Equal(expected.Keys.Order(), fast.Diagnostics.Importance.Select(e => e.Feature).Order());
        foreach (var entry in fast.Diagnostics.Importance)
            Assert.True(Math.Abs(entry.Mean - expected[entry.Feature].Mean) < 0.005, $"{entry.Feature}: {entry.Mean} vs {expected[entry.Feature].Mean}");
        Assert.Equal(plain.Diagnostics.Importance[0].Feature, fast.Diagnostics.Importance[0].Feature);
        Assert.True(fast.Diagnostics.Importance[0].Mean > 0.05, $"top importance {fast.Diagnostics.Importance[0].Mean}");
    }

    [Theory]
    [InlineData("lightgbm")]
    [InlineData("fasttree")]
    [InlineData("fastforest")]
    public void With_nothing_missing_the_featurizer_fitted_beside_the_trainer_gives_the_plain_model_every_time(string trainer)
    {
        var file = SyntheticData.Binary(_dir.Combine("complete.csv"), rows: 1500, missing: false);
        var (recipe, data) = Load("binary", trainer, file, "features: [x1, x2]");

        var plain = ModelFitter.Fit(recipe, data, shortcuts: ModelFitter.Shortcuts.Off);
        var runs = Enumerable.Range(0, 3).Select(_ => ModelFitter.Fit(recipe, data, shortcuts: ModelFitter.Shortcuts.On)).ToList();

        // The trainer's randomness comes from the recipe's seed alone, not from what the featurizer drew beside it.
        Assert.All(runs, fast =>
        {
            Assert.Equal(plain.Metrics, fast.Metrics);
            Assert.Equal(plain.Holdout.Scores, fast.Holdout.Scores);
            Assert.Equal(plain.Diagnostics.Curve, fast.Diagnostics.Curve);
        });
    }

    [Fact]
    public void Tree_scores_walked_directly_equal_the_score_column_of_a_regression_model()
    {
        var (recipe, data) = Load("regression", "fasttree", SyntheticData.Regression(_dir.Combine("regression.csv"), rows: 800));
        var fitted = ModelFitter.Fit(recipe, data);
        var scorer = TreeEnsemble.From(fitted.Model)!;

        var scored = fitted.Model.Transform(new Cairn.ML.Models.MlNetPredictor(SaveTo(fitted, data)).ToDataView(data.Batch));
        var features = Microsoft.ML.Data.ColumnCursorExtensions.GetColumn<Microsoft.ML.Data.VBuffer<float>>(scored, "Features").Select(v => v.DenseValues().ToArray()).ToArray();
        var expected = Microsoft.ML.Data.ColumnCursorExtensions.GetColumn<float>(scored, "Score").ToArray();

        Assert.Equal(data.RowCount, features.Length);
        for (var i = 0; i < features.Length; i++) Assert.Equal(expected[i], (float)scorer.Score(features[i]), 4);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(70)]
    public void Shuffled_blocks_scored_by_rewalking_only_the_paths_a_feature_reads_equal_full_walks(int features)
    {
        // A model of two numbers; the vectors carry padding features the trees never read, so with 70 features the
        // per-path record (up to 64 features) gives way to walking every tree that splits on the shuffled feature.
        var (recipe, data) = Load("regression", "fasttree", SyntheticData.Regression(_dir.Combine("regression.csv"), rows: 600));
        var scorer = TreeEnsemble.From(ModelFitter.Fit(recipe, data).Model)!;
        var random = new Random(11);
        const int count = 300;
        var vectors = new FeatureRows([.. Enumerable.Range(0, count * features).Select(_ => (float)(random.NextDouble() * 8 - 4))], features);
        var slots = Enumerable.Range(0, features).Select(f => (f, 1)).ToArray();
        var swaps = new List<(int Feature, int[] Source)?> { null };
        for (var f = 0; f < features; f++)
            for (var r = 0; r < 2; r++)
            {
                var source = Enumerable.Range(0, count).ToArray();
                random.Shuffle(source);
                swaps.Add((f, source));
            }

        var scores = FeatureImportance.ScoreBlocks(scorer, vectors, slots, count, swaps);

        var row = new float[features];
        for (var block = 0; block < swaps.Count; block++)
            for (var i = 0; i < count; i++)
            {
                vectors[i].CopyTo(row);
                if (swaps[block] is { } swap) row[swap.Feature] = vectors[swap.Source[i]][swap.Feature];
                Assert.Equal(scorer.Score(row), scores[block * count + i]);
            }
        // The two real features matter: shuffling them changes scores, shuffling padding never does.
        Assert.Contains(Enumerable.Range(0, count), i => scores[count + i] != scores[i]);
        if (features > 2) Assert.All(Enumerable.Range(0, count), i => Assert.Equal(scores[i], scores[(1 + 2 * (features - 1)) * count + i]));
    }

    private string SaveTo(ModelFitter.Fitted fitted, TrainingData data)
    {
        var folder = _dir.Combine("package");
        Cairn.ML.Models.ModelPackage.SaveMlNet(folder, fitted.Context, fitted.Model, fitted.InputSchema, data.Signature());
        return Path.Combine(folder, Cairn.ML.Models.ModelPackage.MlNetModelFile);
    }
}
