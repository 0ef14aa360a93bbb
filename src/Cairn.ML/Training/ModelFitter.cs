using Cairn.ML.Models;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Cairn.ML.Training;

/// <summary>
/// Fits a recipe's model and evaluates it: on a held-out split, or by cross-validation folds and then on all rows. The chain
/// itself is fitted by <see cref="ChainFitter"/>, its held-out rows read by <see cref="HeldOut"/>.
/// </summary>
internal static class ModelFitter
{
    internal sealed record Holdout(double[] Scores, bool[] BinaryLabels, string[] Actual, string[] Predicted, double[] ActualValues, double[] PredictedValues);

    /// <summary>What one held-out evaluation adds beyond metrics: the per-tree curve and the permutation importances.</summary>
    internal sealed record Diagnostics(IReadOnlyList<CurvePoint> Curve, IReadOnlyList<FeatureImportance.Entry> Importance, int ImportanceRows)
    {
        public static readonly Diagnostics None = new([], [], 0);
    }

    /// <summary>A fitted chain with its held-out evaluation; <see cref="PendingDiagnostics"/> may still be running.</summary>
    internal sealed record Fitted(MLContext Context, ITransformer Model, DataViewSchema InputSchema, IReadOnlyDictionary<string, double> Metrics, Holdout Holdout,
        IReadOnlyList<string> ScoreOrder, Task<Diagnostics> PendingDiagnostics)
    {
        /// <summary>The learning curve and importances, waiting for them if they are still being computed.</summary>
        public Diagnostics Diagnostics => PendingDiagnostics.GetAwaiter().GetResult();
    }


    /// <summary>One fit and its held-out evaluation (no rows held out: empty metrics and holdout, no diagnostics).</summary>
    private sealed record FoldResult(ITransformer Model, Dictionary<string, double> Metrics, Holdout Holdout, IReadOnlyList<string> ScoreOrder, Task<Diagnostics> Diagnostics);

    private static int TestCount(Recipe recipe, TrainingData data) => Math.Max(1, (int)Math.Round(data.RowCount * recipe.TestFraction));

    /// <summary>Fails when the split or the folds leave no rows to train on; checked before a run starts.</summary>
    internal static void CheckSplit(Recipe recipe, TrainingData data)
    {
        if (recipe.Folds > 0 && recipe.Folds > data.RowCount)
            throw new InvalidParameterValueException($"{recipe.Source}: invalid 'cv.folds': {recipe.Folds} folds need at least {recipe.Folds} rows; the data has {data.RowCount}.");
        if (recipe.Folds == 0 && TestCount(recipe, data) >= data.RowCount)
            throw new InvalidParameterValueException($"{recipe.Source}: invalid 'split.test_fraction': it leaves no training rows out of {data.RowCount}.");
    }

    /// <summary>
    /// Two shortcuts that give the same model, scores and importances at a fraction of ML.NET's cost: <see cref="Materialize"/>
    /// computes the feature vectors once for the trainer (<see cref="ChainFitter.Fit"/>), <see cref="WalkTrees"/> scores a tree
    /// model's held-out rows and the shuffled rows of permutation importance by walking its trees directly. Tests turn them
    /// off to compare with the plain path.
    /// </summary>
    internal sealed record Shortcuts(bool Materialize, bool WalkTrees)
    {
        public static readonly Shortcuts On = new(true, true);
        public static readonly Shortcuts Off = new(false, false);
    }

    /// <summary>
    /// Trains and evaluates; <paramref name="onFold"/> hears (fold, folds) before each fit (folds = 0 for a split), and
    /// <paramref name="onModel"/> gets the final model (and its score order) as soon as it is fitted, before it is evaluated.
    /// </summary>
    internal static Fitted Fit(Recipe recipe, TrainingData data, Action<int, int>? onFold = null, Action<ITransformer, IReadOnlyList<string>>? onModel = null,
        Shortcuts? shortcuts = null)
    {
        shortcuts ??= Shortcuts.On;
        var ml = new MLContext(recipe.Seed);
        var rows = Enumerable.Range(0, data.RowCount).ToArray();
        new Random(recipe.Seed).Shuffle(rows);
        var holdouts = new List<Holdout>();
        var foldMetrics = new List<Dictionary<string, double>>();
        ITransformer model;
        IReadOnlyList<string> scoreOrder;
        var diagnostics = Task.FromResult(Diagnostics.None);
        CheckSplit(recipe, data);
        if (recipe.Folds > 0)
        {
            for (var fold = 0; fold < recipe.Folds; fold++)
            {
                onFold?.Invoke(fold, recipe.Folds);
                var test = rows.Where((_, i) => i % recipe.Folds == fold).ToArray();
                var train = rows.Where((_, i) => i % recipe.Folds != fold).ToArray();
                var (foldModel, m, h, _, d) = TrainAndScore(ml, recipe, data, train, test, shortcuts, diagnose: fold == 0);
                if (fold == 0) diagnostics = d;
                foldMetrics.Add(m);
                holdouts.Add(h);
                (foldModel as IDisposable)?.Dispose();
            }
            (model, _, _, scoreOrder, _) = TrainAndScore(ml, recipe, data, rows, [], shortcuts, diagnose: false, onModel: onModel);
        }
        else
        {
            onFold?.Invoke(0, 0);
            var testCount = TestCount(recipe, data);
            var (fitted, m, h, order, d) = TrainAndScore(ml, recipe, data, rows[testCount..], rows[..testCount], shortcuts, diagnose: true, background: true, onModel: onModel);
            diagnostics = d;
            scoreOrder = order;
            model = fitted;
            foldMetrics.Add(m);
            holdouts.Add(h);
        }
        var metrics = foldMetrics[0].Keys.ToDictionary(k => k, k => foldMetrics.Average(f => f[k]), StringComparer.Ordinal);
        var holdout = new Holdout(
            [.. holdouts.SelectMany(h => h.Scores)], [.. holdouts.SelectMany(h => h.BinaryLabels)],
            [.. holdouts.SelectMany(h => h.Actual)], [.. holdouts.SelectMany(h => h.Predicted)],
            [.. holdouts.SelectMany(h => h.ActualValues)], [.. holdouts.SelectMany(h => h.PredictedValues)]);
        return new Fitted(ml, model, Featurizer.InputSchema(data), metrics, holdout, scoreOrder, diagnostics);
    }

    /// <summary>
    /// Fits the chain on <paramref name="trainRows"/> and evaluates it on <paramref name="testRows"/>; with <paramref name="diagnose"/>,
    /// also the learning curve (tree trainers) and the permutation importances (unless the recipe turns them off).
    /// </summary>
    private static FoldResult TrainAndScore(
        MLContext ml, Recipe recipe, TrainingData data, int[] trainRows, int[] testRows, Shortcuts shortcuts, bool diagnose, bool background = false,
        Action<ITransformer, IReadOnlyList<string>>? onModel = null)
    {
        // Built when first needed: with numbers only, the trainer does not wait for it (see FitChain).
        var trainView = new Lazy<IDataView>(() => RowViews.Of(data, recipe.Task, trainRows));
        ITransformer? labelKeys = null;
        IReadOnlyList<string> scoreOrder = data.Classes;
        if (recipe.Task == MlTask.Multiclass)
        {
            // The label becomes a key outside the saved chain, so scoring never needs a label column.
            labelKeys = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
                .Fit(trainView.Value);
            var keyed = labelKeys.Transform(trainView.Value);
            trainView = new Lazy<IDataView>(keyed);
            // The slots of the Score vector follow the key order: record it so scorers can name each probability.
            VBuffer<ReadOnlyMemory<char>> keys = default;
            keyed.Schema["Label"].GetKeyValues(ref keys);
            scoreOrder = keys.DenseValues().Select(k => k.ToString()).ToList();
        }
        var fitted = ChainFitter.Fit(ml, recipe, data, trainView, trainRows, shortcuts.Materialize);
        var chain = fitted.Chain;
        ITransformer model = chain;
        if (recipe.Task == MlTask.Multiclass)
            model = chain.Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(chain.Transform(trainView.Value)));
        onModel?.Invoke(model, scoreOrder);
        if (testRows.Length == 0) return new FoldResult(model, [], new Holdout([], [], [], [], [], []), scoreOrder, Task.FromResult(Diagnostics.None));

        IDataView Score(int[] rows, IReadOnlyList<(string Feature, int[] Source)?> blocks)
        {
            var view = RowViews.Of(data, recipe.Task, rows, blocks);
            return chain.Transform(labelKeys is null ? view : labelKeys.Transform(view));
        }
        // With numbers only, the held-out vectors are built like the training ones, and only the trainer's model scores them;
        // the diagnostics, which need those vectors and the labels but not ML.NET's scores, start at once beside the scoring.
        var dense = fitted.Replacements is { } replacements ? DenseRows.Build(data, recipe.Task, testRows, replacements) : null;
        var scored = dense is not null ? fitted.Predictor.Transform(dense.View()) : Score(testRows, [null]);
        // The tree ensemble, copied into arrays once: the learning curve, the importances and the scores all walk it.
        var trees = recipe.Task == MlTask.Multiclass ? null : TreeEnsemble.From(chain);
        Diagnostics Diagnose(FeatureRows? features, bool[]? binaryLabels, float[]? targets, LearningCurve.Checkpoints? walked = null)
        {
            // Independent of each other: the curve walks the trees (or reads the walk already done), the importances score
            // shuffled copies. Side by side.
            var curve = Task.Run(() => trees is null || features is null ? []
                : LearningCurve.Points(walked ?? LearningCurve.Walk(trees, features), binaryLabels, targets));
            var importance = recipe.FeatureImportance ? Importance(features, binaryLabels, targets) : [];
            return new Diagnostics(curve.GetAwaiter().GetResult(), importance, recipe.FeatureImportance ? Math.Min(testRows.Length, FeatureImportance.MaxRows) : 0);
        }
        IReadOnlyList<FeatureImportance.Entry> Importance(FeatureRows? features, bool[]? binaryLabels, float[]? targets)
        {
            // A tree model's shuffled rows are scored by walking its trees over the held-out feature vectors, which costs a
            // fraction of scoring them through ML.NET's transforms; other models go through the chain.
            if (shortcuts.WalkTrees && features is { Count: > 0 } && trees is not null
                && Featurizer.FeatureSlots(fitted.Featurizer.GetOutputSchema(trainView.Value.Schema), data) is { } slots)
                return FeatureImportance.Compute(data.Features, testRows.Length, recipe.Task, recipe.Seed, (count, swaps) =>
                    FeatureImportance.BlockMetrics(recipe.Task, FeatureImportance.ScoreBlocks(trees, features, slots, count, swaps),
                        binaryLabels, targets, count, swaps.Count));
            return FeatureImportance.Compute(data.Features, testRows.Length, recipe.Task, recipe.Seed, (count, swaps) =>
            {
                var rows = testRows[..count];
                return FeatureImportance.Metrics(recipe.Task, Score(rows, swaps.Select(swap => swap is { } w
                    ? ((string, int[])?)(data.Features[w.Feature].Name, Array.ConvertAll(w.Source, p => rows[p])) : null).ToList()), count, swaps.Count);
            });
        }
        // With a split the diagnostics go on in the background while the metrics are computed and the model is written;
        // a cross-validation fold's model is disposed right after, so its diagnostics finish first.
        Task<Diagnostics> Start(Func<Diagnostics> diagnose) => background ? Task.Run(diagnose) : Task.FromResult(diagnose());
        var diagnostics = Task.FromResult(Diagnostics.None);
        // A boosted tree model on rows built directly: one walk of the held-out rows through the trees gives both the
        // learning curve and the scores (its last checkpoint; ML.NET's float scores to the bit), instead of ML.NET's scorer.
        var walked = shortcuts.WalkTrees && dense is not null && trees is { Averaged: false } && HeldOut.Calibrated(fitted.Predictor, recipe.Task)
            ? LearningCurve.Walk(trees, dense.Features) : null;
        if (diagnose && dense is not null) diagnostics = Start(() => Diagnose(dense.Features, dense.Labels as bool[], dense.Labels as float[], walked));
        // One pass over the scored held-out rows collects what the metrics and the plots need (and, when they were not
        // built directly, the feature vectors); the metrics come from those arrays, computed as ML.NET's evaluators do.
        var heldOut = recipe.Task == MlTask.Multiclass ? null
            : (walked is not null ? HeldOut.FromScores(fitted.Predictor, walked.Final, dense!, recipe.Task) : null)
              ?? HeldOut.Read(scored, recipe.Task, withFeatures: diagnose && dense is null);
        if (diagnose && dense is null) diagnostics = Start(() => Diagnose(heldOut?.Features, heldOut?.BinaryLabels, heldOut?.Targets));
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        switch (recipe.Task)
        {
            case MlTask.Binary:
            {
                var h = heldOut!;
                var labels = h.BinaryLabels!;
                metrics = HoldoutMetrics.Binary(labels, h.Scores, h.Probabilities);
                var scores = Array.ConvertAll(h.Probabilities, v => (double)v);
                return new FoldResult(model, metrics, new Holdout(scores, labels,
                    Array.ConvertAll(labels, l => data.Classes[l ? 1 : 0]), Array.ConvertAll(h.Predicted, l => data.Classes[l ? 1 : 0]), [], []), scoreOrder, diagnostics);
            }
            case MlTask.Multiclass:
            {
                metrics = HoldoutMetrics.Multiclass(scored);
                var decoded = ml.Transforms.Conversion.MapKeyToValue([new("actual", "Label"), new("predicted", "PredictedLabel")]).Fit(scored).Transform(scored);
                var actual = decoded.GetColumn<ReadOnlyMemory<char>>("actual").Select(v => v.ToString()).ToArray();
                var predicted = decoded.GetColumn<ReadOnlyMemory<char>>("predicted").Select(v => v.ToString()).ToArray();
                return new FoldResult(model, metrics, new Holdout([], [], actual, predicted, [], []), scoreOrder, diagnostics);
            }
            default:
            {
                var h = heldOut!;
                metrics = HoldoutMetrics.Regression(h.Targets!, h.Scores);
                return new FoldResult(model, metrics, new Holdout([], [], [], [], Array.ConvertAll(h.Targets!, v => (double)v), Array.ConvertAll(h.Scores, v => (double)v)),
                    scoreOrder, diagnostics);
            }
        }
    }

}
