using Microsoft.ML;

namespace Cairn.ML.Training;

/// <summary>The trainers a recipe may name, their hyperparameters with ranges, and how each becomes an ML.NET estimator.</summary>
internal static class TrainerCatalog
{
    private sealed record Hyper(double Min, double Max, bool Integer, bool MinExclusive = false);

    private static readonly Hyper Trees = new(1, 10_000, true);
    private static readonly Hyper Leaves = new(2, 131_072, true);
    private static readonly Hyper LeafCount = new(1, 100_000, true);
    private static readonly Hyper Rate = new(0, 1, false, MinExclusive: true);
    private static readonly Hyper Regularization = new(0, 1e6, false);
    private static readonly Hyper Iterations = new(1, 100_000, true);

    private static readonly Dictionary<string, Dictionary<string, Hyper>> Trainers = new(StringComparer.Ordinal)
    {
        ["fasttree"] = new() { ["number_of_trees"] = Trees, ["number_of_leaves"] = Leaves, ["minimum_example_count_per_leaf"] = LeafCount, ["learning_rate"] = Rate },
        ["fastforest"] = new() { ["number_of_trees"] = Trees, ["number_of_leaves"] = Leaves, ["minimum_example_count_per_leaf"] = LeafCount },
        ["lightgbm"] = new() { ["number_of_iterations"] = Iterations, ["number_of_leaves"] = Leaves, ["minimum_example_count_per_leaf"] = LeafCount, ["learning_rate"] = Rate },
        ["sdca"] = new() { ["l2_regularization"] = Regularization, ["l1_regularization"] = Regularization, ["maximum_number_of_iterations"] = Iterations },
        ["lbfgs"] = new() { ["l2_regularization"] = Regularization, ["l1_regularization"] = Regularization, ["optimization_tolerance"] = new(0, 1, false, MinExclusive: true) },
    };

    public static void Validate(Recipe recipe)
    {
        if (!Trainers.TryGetValue(recipe.Trainer, out var allowed))
            throw Recipe.Bad(recipe.Source, "trainer.name", $"'{recipe.Trainer}' is not a trainer; expected one of {string.Join(", ", Trainers.Keys)}");
        if (recipe is { Trainer: "lbfgs", Task: MlTask.Regression })
            throw Recipe.Bad(recipe.Source, "trainer.name", "'lbfgs' does not do regression here; use fasttree, lightgbm, sdca or fastforest");
        foreach (var (name, value) in recipe.Hyperparameters)
        {
            if (!allowed.TryGetValue(name, out var rule))
                throw Recipe.Bad(recipe.Source, $"trainer.hyperparameters.{name}", $"'{recipe.Trainer}' has no such hyperparameter; expected one of {string.Join(", ", allowed.Keys)}");
            var low = rule.MinExclusive ? value <= rule.Min : value < rule.Min;
            if (low || value > rule.Max)
                throw Recipe.Bad(recipe.Source, $"trainer.hyperparameters.{name}",
                    $"{Recipe.Format(value)} is out of range; expected {(rule.MinExclusive ? "more than" : "at least")} {Recipe.Format(rule.Min)} and at most {Recipe.Format(rule.Max)}");
            if (rule.Integer && value != Math.Floor(value))
                throw Recipe.Bad(recipe.Source, $"trainer.hyperparameters.{name}", $"{Recipe.Format(value)} is not a whole number");
        }
    }

    /// <summary>The trainer estimator for <paramref name="recipe"/>, reading "Label" and "Features".</summary>
    public static IEstimator<ITransformer> Create(MLContext ml, Recipe recipe)
    {
        var h = recipe.Hyperparameters;
        int I(string name, int fallback) => h.TryGetValue(name, out var v) ? (int)v : fallback;
        double D(string name, double fallback) => h.TryGetValue(name, out var v) ? v : fallback;
        float? F(string name) => h.TryGetValue(name, out var v) ? (float)v : null;
        const string label = "Label", features = "Features";
        var trees = I("number_of_trees", 100);
        var leaves = I("number_of_leaves", 20);
        var perLeaf = I("minimum_example_count_per_leaf", 10);
        var rate = D("learning_rate", 0.2);

        return (recipe.Task, recipe.Trainer) switch
        {
            (MlTask.Binary, "fasttree") => ml.BinaryClassification.Trainers.FastTree(label, features, null, leaves, trees, perLeaf, rate),
            (MlTask.Binary, "fastforest") => ml.BinaryClassification.Trainers.FastForest(label, features, null, leaves, trees, perLeaf)
                // FastForest scores are not probabilities: calibrate so the chain has Probability, AUC and log-loss mean the same as for the others.
                .Append(ml.BinaryClassification.Calibrators.Platt(label)),
            (MlTask.Binary, "lightgbm") => ml.BinaryClassification.Trainers.LightGbm(label, features, null, leaves, perLeaf, h.ContainsKey("learning_rate") ? rate : null, I("number_of_iterations", 100)),
            (MlTask.Binary, "sdca") => ml.BinaryClassification.Trainers.SdcaLogisticRegression(label, features, null, F("l2_regularization"), F("l1_regularization"), h.ContainsKey("maximum_number_of_iterations") ? I("maximum_number_of_iterations", 0) : null),
            (MlTask.Binary, "lbfgs") => ml.BinaryClassification.Trainers.LbfgsLogisticRegression(label, features, null, (float)D("l1_regularization", 1), (float)D("l2_regularization", 1), (float)D("optimization_tolerance", 1e-7)),

            (MlTask.Multiclass, "fasttree") => ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastTree(label, features, null, leaves, trees, perLeaf, rate), label),
            (MlTask.Multiclass, "fastforest") => ml.MulticlassClassification.Trainers.OneVersusAll(ml.BinaryClassification.Trainers.FastForest(label, features, null, leaves, trees, perLeaf), label),
            (MlTask.Multiclass, "lightgbm") => ml.MulticlassClassification.Trainers.LightGbm(label, features, null, leaves, perLeaf, h.ContainsKey("learning_rate") ? rate : null, I("number_of_iterations", 100)),
            (MlTask.Multiclass, "sdca") => ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(label, features, null, F("l2_regularization"), F("l1_regularization"), h.ContainsKey("maximum_number_of_iterations") ? I("maximum_number_of_iterations", 0) : null),
            (MlTask.Multiclass, "lbfgs") => ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(label, features, null, (float)D("l1_regularization", 1), (float)D("l2_regularization", 1), (float)D("optimization_tolerance", 1e-7)),

            (MlTask.Regression, "fasttree") => ml.Regression.Trainers.FastTree(label, features, null, leaves, trees, perLeaf, rate),
            (MlTask.Regression, "fastforest") => ml.Regression.Trainers.FastForest(label, features, null, leaves, trees, perLeaf),
            (MlTask.Regression, "lightgbm") => ml.Regression.Trainers.LightGbm(label, features, null, leaves, perLeaf, h.ContainsKey("learning_rate") ? rate : null, I("number_of_iterations", 100)),
            (MlTask.Regression, "sdca") => ml.Regression.Trainers.Sdca(label, features, null, null, F("l2_regularization"), F("l1_regularization"), h.ContainsKey("maximum_number_of_iterations") ? I("maximum_number_of_iterations", 0) : null),
            _ => throw Recipe.Bad(recipe.Source, "trainer.name", $"'{recipe.Trainer}' does not support task {recipe.Task}"),
        };
    }

    /// <summary>Linear trainers need scaled features; trees do not.</summary>
    public static bool NeedsNormalization(string trainer) => trainer is "sdca" or "lbfgs";
}
