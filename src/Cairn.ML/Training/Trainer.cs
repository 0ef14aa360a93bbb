using System.Globalization;
using System.Text.Json.Nodes;
using Cairn.Client;
using Cairn.ML.Models;
using Cairn.Registry;
using Cairn.Tracking;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Cairn.ML.Training;

/// <summary>What a training run produced.</summary>
/// <param name="RunId">The tracked run.</param>
/// <param name="Metrics">The evaluation metrics logged (held-out split, or the mean over cross-validation folds).</param>
/// <param name="ModelUri"><c>runs:/&lt;run_id&gt;/model</c>.</param>
/// <param name="Version">The registered model version, when one was asked for.</param>
public sealed record TrainResult(string RunId, IReadOnlyDictionary<string, double> Metrics, string ModelUri, ModelVersion? Version);

/// <summary>
/// Runs a <see cref="Recipe"/>: checks the data, trains with ML.NET, evaluates on a held-out split (or by cross-validation),
/// and logs everything to a tracked run: params, the dataset input, metrics, plots and the model package as artifact <c>model</c>
/// (with <c>data_profile.json</c>). Bad recipes and bad data fail before the run starts, so nothing is logged for them.
/// </summary>
public static class Trainer
{
    public const string ModelArtifactPath = "model";

    public static Task<TrainResult> RunAsync(Recipe recipe, CairnClient client, string? registerAs = null, CancellationToken cancellationToken = default) =>
        RunAsync(recipe, client, new TrainOptions { RegisterAs = registerAs }, cancellationToken);

    /// <summary>Trains <paramref name="recipe"/> once (a recipe with a sweep goes to <see cref="Sweep.RunAsync"/>).</summary>
    public static async Task<TrainResult> RunAsync(Recipe recipe, CairnClient client, TrainOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        recipe.Validate();
        if (options.RegisterAs is not null) RegistryValidator.ValidateName(options.RegisterAs, "--register");
        var steps = recipe.Folds > 0 ? recipe.Folds + 3 : 3;
        options.Progress?.Report(new TrainingProgress("loading data", 0, steps));
        var data = options.Data is { } loading ? await loading.ConfigureAwait(false) : TrainingData.Load(recipe);
        CheckSplit(recipe, data);
        // Needed with the model, and independent of it: computed while it trains.
        _ = data.ProfileAsync();
        _ = Plots.PrepareAsync();

        // The run starts while the model fits: the training does not need it, and the model package, which names the run,
        // waits for it. Everything that could be wrong with the recipe or the data has failed by now.
        var starting = client.StartRunAsync(recipe.Experiment, recipe.RunName, SourceTags(recipe, new Dictionary<string, string>
        {
            ["cairn.task"] = recipe.Task.ToString().ToLowerInvariant(),
            ["cairn.trainer"] = recipe.Trainer,
        }), cancellationToken: cancellationToken);
        var work = Directory.CreateTempSubdirectory("cairn-train-");
        Task? saving = null;
        // The model package is written as soon as the model is fitted, while the held-out rows are scored.
        var fitting = Task.Run(() => Fit(recipe, data,
            (fold, folds) => options.Progress?.Report(new TrainingProgress(folds > 0 ? $"training fold {fold + 1} of {folds}" : "training", 1 + fold, steps)),
            (model, scoreOrder) => saving = Task.Run(async () =>
                SaveModel(Path.Combine(work.FullName, ModelArtifactPath), recipe, data, model, scoreOrder, (await starting.ConfigureAwait(false)).RunId))),
            cancellationToken);
        ActiveRun run;
        IReadOnlyDictionary<string, double> metrics;
        try
        {
            run = await starting.ConfigureAwait(false);
            try
            {
                LogParams(run, recipe, data);
                run.LogInput(Dataset(data, recipe), "training");
                var fitted = await fitting.ConfigureAwait(false);
                metrics = fitted.Metrics;
                options.Progress?.Report(new TrainingProgress("logging the model and plots", steps - 1, steps));
                // The metrics are written while the model and the plots are; the learning curve once it is computed.
                LogEvaluation(run, fitted);
                var written = Task.Run(() => run.FlushAsync(cancellationToken), cancellationToken);
                await LogModelAsync(client, run, recipe, data, fitted, work.FullName, saving, cancellationToken).ConfigureAwait(false);
                LogCurve(run, recipe.Task, fitted);
                await written.ConfigureAwait(false);
                await run.EndAsync(RunStatus.FINISHED, cancellationToken).ConfigureAwait(false);
                options.Progress?.Report(new TrainingProgress("done", steps, steps));
            }
            catch (Exception e)
            {
                await run.EndAsync(e is OperationCanceledException ? RunStatus.KILLED : RunStatus.FAILED, CancellationToken.None).ConfigureAwait(false);
                throw;
            }
        }
        finally
        {
            // A failure (starting the run included) may leave the training going or the model still being written: let
            // them end before their folder goes.
            await Task.WhenAny(fitting).ConfigureAwait(false);
            if (saving is not null) await Task.WhenAny(saving).ConfigureAwait(false);
            try { work.Delete(recursive: true); } catch (IOException) { /* a temp folder left behind is harmless */ }
        }

        var modelUri = $"runs:/{run.RunId}/{ModelArtifactPath}";
        ModelVersion? version = null;
        if (options.RegisterAs is { } name) version = await RegisterAsync(client, name, modelUri, run.RunId, cancellationToken).ConfigureAwait(false);
        return new TrainResult(run.RunId, metrics, modelUri, version);
    }

    /// <summary>Logs the evaluation metrics and, for tree trainers, the held-out metric after each number of trees (the step).</summary>
    internal static void LogMetrics(ActiveRun run, MlTask task, Fitted fitted)
    {
        LogEvaluation(run, fitted);
        LogCurve(run, task, fitted);
    }

    /// <summary>The evaluation metrics (the finite ones).</summary>
    private static void LogEvaluation(ActiveRun run, Fitted fitted) => run.LogMetrics(fitted.Metrics.Where(m => double.IsFinite(m.Value)));

    /// <summary>The learning curve, the number of trees as the step; waits for it when it is still being computed.</summary>
    private static void LogCurve(ActiveRun run, MlTask task, Fitted fitted)
    {
        foreach (var point in fitted.Diagnostics.Curve)
            if (double.IsFinite(point.Value)) run.LogMetric(LearningCurve.MetricName(task), point.Value, point.Trees);
    }

    /// <summary>
    /// Logs the model package (with the data profile) as artifact <c>model</c>, the evaluation plots as <c>plots/</c> and the
    /// permutation importances as <c>feature_importance.json</c>.
    /// </summary>
    internal static async Task LogModelAsync(CairnClient client, ActiveRun run, Recipe recipe, TrainingData data, Fitted fitted, CancellationToken cancellationToken) =>
        await LogModelAsync(client, run, recipe, data, fitted, null, null, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// As above, in <paramref name="folder"/> (a temporary folder when null), where <paramref name="modelSaved"/>, when given,
    /// is already writing the model package into <c>model/</c>.
    /// </summary>
    private static async Task LogModelAsync(CairnClient client, ActiveRun run, Recipe recipe, TrainingData data, Fitted fitted, string? folder, Task? modelSaved,
        CancellationToken cancellationToken)
    {
        var work = folder is null ? Directory.CreateTempSubdirectory("cairn-train-") : null;
        try
        {
            var root = folder ?? work!.FullName;
            var modelFolder = Path.Combine(root, ModelArtifactPath);
            var plots = Path.Combine(root, "plots");
            Directory.CreateDirectory(plots);
            // The model file, the profile and the plots do not depend on each other: write them side by side.
            var profile = data.ProfileAsync();
            await Plots.PrepareAsync().ConfigureAwait(false);
            await Task.WhenAll(
                profile,
                modelSaved ?? Task.Run(() => SaveModel(modelFolder, recipe, data, fitted.Model, fitted.ScoreOrder, run.RunId), cancellationToken),
                Task.Run(() => WritePlots(plots, recipe.Task, data.Classes, fitted.Holdout, fitted.Metrics), cancellationToken),
                Task.Run(async () => WriteDiagnosticPlots(plots, recipe.Task, await fitted.PendingDiagnostics.ConfigureAwait(false)), cancellationToken))
                .ConfigureAwait(false);
            DataProfile.Write(Path.Combine(modelFolder, DataProfile.FileName), await profile.ConfigureAwait(false));
            if (fitted.Diagnostics.Importance.Count > 0)
                FeatureImportance.Write(Path.Combine(root, FeatureImportance.FileName), fitted.Diagnostics.Importance, fitted.Diagnostics.ImportanceRows);
            // model/, plots/ and feature_importance.json, in one call.
            await client.LogArtifactAsync(run.Info, root, null, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            try { work?.Delete(recursive: true); } catch (IOException) { /* a temp folder left behind is harmless */ }
        }
    }

    /// <summary>The ML.NET model package of a fitted chain, with the task, label and class order the scorers need.</summary>
    private static void SaveModel(string folder, Recipe recipe, TrainingData data, ITransformer model, IReadOnlyList<string> scoreOrder, string runId) =>
        ModelPackage.SaveMlNet(folder, new MLContext(recipe.Seed), model, FeatureSchema(data), data.Signature(), data.Batch, runId,
            new Dictionary<string, object?>
            {
                ["cairn_task"] = recipe.Task.ToString().ToLowerInvariant(),
                ["cairn_label"] = recipe.Label,
                ["cairn_classes"] = scoreOrder.Count > 0 ? scoreOrder.ToList() : null,
            });

    /// <summary>
    /// MLflow's source tags for a recipe run: type JOB, the recipe file as the source name and, when the recipe lives
    /// in a git work tree, its HEAD commit: the code version a registered model's lineage shows.
    /// </summary>
    internal static Dictionary<string, string> SourceTags(Recipe recipe, Dictionary<string, string> tags)
    {
        tags[SystemTags.SourceType] = "JOB";
        if (File.Exists(recipe.Source))
        {
            var path = Path.GetFullPath(recipe.Source);
            tags[SystemTags.SourceName] = path;
            if (Cairn.Pipelines.GitInfo.CommitOf(Path.GetDirectoryName(path)!) is { } commit) tags[SystemTags.SourceGitCommit] = commit;
        }
        return tags;
    }

    /// <summary>Creates the registered model when missing, then a version with source <paramref name="modelUri"/>.</summary>
    public static async Task<ModelVersion> RegisterAsync(CairnClient client, string name, string modelUri, string runId, CancellationToken cancellationToken = default)
    {
        try
        {
            await client.Registry.GetRegisteredModelAsync(name, cancellationToken).ConfigureAwait(false);
        }
        catch (ResourceDoesNotExistException)
        {
            try
            {
                await client.Registry.CreateRegisteredModelAsync(name, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (ResourceAlreadyExistsException)
            {
                // Another trainer registered it in between: use it.
            }
        }
        return await client.Registry.CreateModelVersionAsync(new CreateModelVersionRequest(name, modelUri, runId), cancellationToken).ConfigureAwait(false);
    }

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
    /// computes the feature vectors once for the trainer (<see cref="FitChain"/>), <see cref="WalkTrees"/> scores a tree
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
        return new Fitted(ml, model, FeatureSchema(data), metrics, holdout, scoreOrder, diagnostics);
    }

    /// <summary>
    /// Fits the chain on <paramref name="trainRows"/> and evaluates it on <paramref name="testRows"/>; with <paramref name="diagnose"/>,
    /// also the learning curve (tree trainers) and the permutation importances (unless the recipe turns them off).
    /// </summary>
    private static (ITransformer Model, Dictionary<string, double> Metrics, Holdout Holdout, IReadOnlyList<string> ScoreOrder, Task<Diagnostics> Diagnostics) TrainAndScore(
        MLContext ml, Recipe recipe, TrainingData data, int[] trainRows, int[] testRows, Shortcuts shortcuts, bool diagnose, bool background = false,
        Action<ITransformer, IReadOnlyList<string>>? onModel = null)
    {
        // Built when first needed: with numbers only, the trainer does not wait for it (see FitChain).
        var trainView = new Lazy<IDataView>(() => View(data, recipe.Task, trainRows));
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
        var fitted = FitChain(ml, recipe, data, trainView, trainRows, shortcuts.Materialize);
        var chain = fitted.Chain;
        ITransformer model = chain;
        if (recipe.Task == MlTask.Multiclass)
            model = chain.Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(chain.Transform(trainView.Value)));
        onModel?.Invoke(model, scoreOrder);
        if (testRows.Length == 0) return (model, [], new Holdout([], [], [], [], [], []), scoreOrder, Task.FromResult(Diagnostics.None));

        IDataView Score(int[] rows, IReadOnlyList<(string Feature, int[] Source)?> blocks)
        {
            var view = View(data, recipe.Task, rows, blocks);
            return chain.Transform(labelKeys is null ? view : labelKeys.Transform(view));
        }
        // With numbers only, the held-out vectors are built like the training ones, and only the trainer's model scores them;
        // the diagnostics, which need those vectors and the labels but not ML.NET's scores, start at once beside the scoring.
        var dense = fitted.Replacements is { } replacements ? DenseRows(data, recipe.Task, testRows, replacements) : null;
        var scored = dense is not null ? fitted.Predictor.Transform(dense.View()) : Score(testRows, [null]);
        // The tree ensemble, copied into arrays once: the learning curve, the importances and the scores all walk it.
        var trees = recipe.Task == MlTask.Multiclass ? null : LearningCurve.TreeScorer.From(chain);
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
                && FeatureSlots(fitted.Featurizer.GetOutputSchema(trainView.Value.Schema), data) is { } slots)
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
                return (model, metrics, new Holdout(scores, labels,
                    Array.ConvertAll(labels, l => data.Classes[l ? 1 : 0]), Array.ConvertAll(h.Predicted, l => data.Classes[l ? 1 : 0]), [], []), scoreOrder, diagnostics);
            }
            case MlTask.Multiclass:
            {
                metrics = HoldoutMetrics.Multiclass(scored);
                var decoded = ml.Transforms.Conversion.MapKeyToValue([new("actual", "Label"), new("predicted", "PredictedLabel")]).Fit(scored).Transform(scored);
                var actual = decoded.GetColumn<ReadOnlyMemory<char>>("actual").Select(v => v.ToString()).ToArray();
                var predicted = decoded.GetColumn<ReadOnlyMemory<char>>("predicted").Select(v => v.ToString()).ToArray();
                return (model, metrics, new Holdout([], [], actual, predicted, [], []), scoreOrder, diagnostics);
            }
            default:
            {
                var h = heldOut!;
                metrics = HoldoutMetrics.Regression(h.Targets!, h.Scores);
                return (model, metrics, new Holdout([], [], [], [], Array.ConvertAll(h.Targets!, v => (double)v), Array.ConvertAll(h.Scores, v => (double)v)),
                    scoreOrder, diagnostics);
            }
        }
    }

    /// <summary>
    /// The held-out rows of a binary or regression model as read in one cursor pass over the scored view: labels (or
    /// targets), scores, probabilities and predicted labels (binary), and optionally the feature vectors.
    /// </summary>
    private sealed class HeldOut
    {
        public bool[]? BinaryLabels { get; private init; }
        public float[]? Targets { get; private init; }
        public required float[] Scores { get; init; }
        public float[] Probabilities { get; private init; } = [];
        public bool[] Predicted { get; private init; } = [];
        public FeatureRows? Features { get; private init; }

        /// <summary>Whether <see cref="FromScores"/> can finish a model's scores: regression, or a binary model with a calibrator.</summary>
        public static bool Calibrated(ITransformer predictor, MlTask task) => task == MlTask.Regression || Calibrator(predictor) is not null;

        private static Microsoft.ML.Calibrators.ICalibrator? Calibrator(ITransformer predictor)
        {
            var parameters = (predictor as IPredictionTransformer<object>)?.Model;
            return parameters?.GetType().GetProperties()
                .FirstOrDefault(p => p.Name == "Calibrator" && typeof(Microsoft.ML.Calibrators.ICalibrator).IsAssignableFrom(p.PropertyType))
                ?.GetValue(parameters) as Microsoft.ML.Calibrators.ICalibrator;
        }

        /// <summary>
        /// The held-out rows from a boosted tree model's walked scores (<paramref name="walked"/>, doubles as the trees sum them):
        /// Score as ML.NET's scorer writes it (that sum as a float), Probability from the model's own calibrator,
        /// PredictedLabel where Score is above 0 (ML.NET's default threshold).
        /// </summary>
        public static HeldOut FromScores(ITransformer predictor, double[] walked, Dense rows, MlTask task)
        {
            var calibrator = task == MlTask.Binary ? Calibrator(predictor) : null;
            var count = walked.Length;
            var scores = new float[count];
            var probabilities = calibrator is null ? [] : new float[count];
            var predicted = calibrator is null ? [] : new bool[count];
            Parallel.For(0, (count + 4095) / 4096, chunk =>
            {
                for (var i = chunk * 4096; i < Math.Min(count, (chunk + 1) * 4096); i++)
                {
                    var score = (float)walked[i];
                    scores[i] = score;
                    if (calibrator is null) continue;
                    probabilities[i] = calibrator.PredictProbability(score);
                    predicted[i] = score > 0;
                }
            });
            return new HeldOut
            {
                BinaryLabels = rows.Labels as bool[],
                Targets = rows.Labels as float[],
                Scores = scores,
                Probabilities = probabilities,
                Predicted = predicted,
            };
        }

        public static HeldOut Read(IDataView scored, MlTask task, bool withFeatures)
        {
            var binary = task == MlTask.Binary;
            var names = new List<string> { "Label", "Score" };
            if (binary) names.AddRange(["Probability", "PredictedLabel"]);
            if (withFeatures) names.Add("Features");
            var capacity = (int)(scored.GetRowCount() ?? 0);
            var (boolLabels, floatLabels, scores, probabilities, predicted) =
                (new List<bool>(capacity), new List<float>(capacity), new List<float>(capacity), new List<float>(capacity), new List<bool>(capacity));
            var width = withFeatures && scored.Schema["Features"].Type is VectorDataViewType { Size: > 0 and var size } ? size : 0;
            var features = new float[(long)capacity * width];
            var row = 0;
            using var cursor = scored.GetRowCursor(names.Select(n => scored.Schema[n]));
            var getScore = cursor.GetGetter<float>(scored.Schema["Score"]);
            var getBoolLabel = binary ? cursor.GetGetter<bool>(scored.Schema["Label"]) : null;
            var getFloatLabel = binary ? null : cursor.GetGetter<float>(scored.Schema["Label"]);
            var getProbability = binary ? cursor.GetGetter<float>(scored.Schema["Probability"]) : null;
            var getPredicted = binary ? cursor.GetGetter<bool>(scored.Schema["PredictedLabel"]) : null;
            var getFeatures = withFeatures ? cursor.GetGetter<VBuffer<float>>(scored.Schema["Features"]) : null;
            bool b = default;
            float f = default;
            VBuffer<float> vector = default;
            while (cursor.MoveNext())
            {
                getScore(ref f);
                scores.Add(f);
                if (binary)
                {
                    getBoolLabel!(ref b);
                    boolLabels.Add(b);
                    getProbability!(ref f);
                    probabilities.Add(f);
                    getPredicted!(ref b);
                    predicted.Add(b);
                }
                else
                {
                    getFloatLabel!(ref f);
                    floatLabels.Add(f);
                }
                if (getFeatures is not null && width > 0)
                {
                    getFeatures(ref vector);
                    if ((long)(row + 1) * width > features.Length) Array.Resize(ref features, Math.Max(features.Length * 2, (row + 1) * width));
                    vector.CopyTo(new Span<float>(features, row * width, width));
                }
                row++;
            }
            return new HeldOut
            {
                BinaryLabels = binary ? [.. boolLabels] : null,
                Targets = binary ? null : [.. floatLabels],
                Scores = [.. scores],
                Probabilities = [.. probabilities],
                Predicted = [.. predicted],
                Features = width > 0 ? new FeatureRows(features.Length == row * width ? features : features[..(row * width)], width) : null,
            };
        }
    }

    /// <summary>
    /// The featurizer: missing numbers replaced by the column mean, categorical columns one-hot encoded, text featurized,
    /// all concatenated into <c>Features</c> (in <see cref="FeatureColumns"/> order), min-max normalized for linear trainers.
    /// </summary>
    private static IEstimator<ITransformer> Pipeline(MLContext ml, Recipe recipe, TrainingData data)
    {
        IEstimator<ITransformer> pipeline = new EstimatorChain<ITransformer>();
        var columns = FeatureColumns(data);
        var numeric = columns.Where(c => data.Features[c.Feature].Kind == FeatureKind.Numeric).Select(c => new InputOutputColumnPair(c.Column, c.Column)).ToArray();
        if (numeric.Length > 0) pipeline = pipeline.Append(ml.Transforms.ReplaceMissingValues(numeric));
        foreach (var (feature, column) in columns)
        {
            var name = data.Features[feature].Name;
            if (data.Features[feature].Kind == FeatureKind.Categorical) pipeline = pipeline.Append(ml.Transforms.Categorical.OneHotEncoding(column, name));
            else if (data.Features[feature].Kind == FeatureKind.Text) pipeline = pipeline.Append(ml.Transforms.Text.FeaturizeText(column, name));
        }
        pipeline = pipeline.Append(ml.Transforms.Concatenate("Features", columns.Select(c => c.Column).ToArray()));
        if (TrainerCatalog.NeedsNormalization(recipe.Trainer)) pipeline = pipeline.Append(ml.Transforms.NormalizeMinMax("Features"));
        return pipeline;
    }

    /// <summary>
    /// The columns the featurizer concatenates into <c>Features</c>, in order, each with the index of the recipe feature it
    /// encodes: numeric columns first, then the one-hot categorical ones, then the featurized text.
    /// </summary>
    private static List<(int Feature, string Column)> FeatureColumns(TrainingData data)
    {
        var columns = new List<(int Feature, string Column)>();
        foreach (var (kind, suffix) in new[] { (FeatureKind.Numeric, ""), (FeatureKind.Categorical, ".onehot"), (FeatureKind.Text, ".text") })
            for (var i = 0; i < data.Features.Count; i++)
                if (data.Features[i].Kind == kind) columns.Add((i, data.Features[i].Name + suffix));
        return columns;
    }

    /// <summary>
    /// Where each recipe feature's values sit in the <c>Features</c> vector of the featurizer's output schema <paramref name="featurized"/> (start, length),
    /// by recipe feature index; null when the sizes cannot be read or do not add up to the vector's size.
    /// </summary>
    private static (int Start, int Length)[]? FeatureSlots(DataViewSchema featurized, TrainingData data)
    {
        var slots = new (int Start, int Length)[data.Features.Count];
        var start = 0;
        foreach (var (feature, column) in FeatureColumns(data))
        {
            var length = featurized.GetColumnOrNull(column) is { } c ? Width(c.Type) : 0;
            if (length <= 0) return null;
            slots[feature] = (start, length);
            start += length;
        }
        return Width(featurized["Features"].Type) == start ? slots : null;

        static int Width(DataViewType type) => type switch
        {
            VectorDataViewType vector => vector.Size,
            PrimitiveDataViewType => 1,
            _ => 0,
        };
    }

    /// <summary>At most this many feature values (rows x slots) are put into a matrix for the trainer (128 MB of floats); more go the plain way.</summary>
    private const long MaxMaterializedValues = 32_000_000;

    /// <summary>
    /// A fitted featurizer and trainer (<see cref="Chain"/> is the two as one model); <see cref="Replacements"/>, when the
    /// featurizer only replaces missing numbers and concatenates them, holds the value each slot takes when missing, so
    /// feature vectors can be built straight from the data (<see cref="DenseRows"/>).
    /// </summary>
    private sealed class FittedChain(ITransformer featurizer, ITransformer predictor, float[]? replacements)
    {
        public ITransformer Featurizer { get; } = featurizer;

        public ITransformer Predictor { get; } = predictor;

        public float[]? Replacements { get; } = replacements;

        public ITransformer Chain { get; } = featurizer.Append(predictor);
    }

    /// <summary>
    /// Fits the featurizer (<see cref="Pipeline"/>) and then the recipe's trainer on its output: the model
    /// <c>featurizer.Append(trainer).Fit(view)</c> gives. The trainers read their input several times (bin boundaries, then
    /// the rows), and each read of the featurizer's output runs its transforms for every row again; so the feature vectors
    /// are computed once into a dense matrix the trainer reads: straight from the data when every feature is numeric (the
    /// featurizer then only replaces missing values, with values read from it, and when the training rows have none to
    /// replace it is fitted beside the trainer instead of before it), otherwise by one pass over its output when they fit
    /// in memory. Multiclass labels are keys whose values the chain needs later, so those take the direct path.
    /// </summary>
    private static FittedChain FitChain(MLContext ml, Recipe recipe, TrainingData data, Lazy<IDataView> trainView, int[] trainRows, bool materialize)
    {
        // The trainer gets an ML.NET context of its own: ML.NET seeds each component from its context's random source in
        // the order they are created and fitted, so with a shared one the model would depend on how much the featurizer
        // drew before it, or, fitted beside it, on which thread drew first. With its own, the recipe's seed alone decides.
        var trainer = TrainerCatalog.Create(new MLContext(recipe.Seed), recipe);
        var dense = materialize && recipe.Task != MlTask.Multiclass && (long)trainRows.Length * data.Features.Count <= MaxMaterializedValues && NumbersOnly(recipe, data);
        if (dense && !data.AnyMissingNumber)
        {
            // Nothing to replace: the matrix is the data as it is, and the featurizer (for the saved chain and for held-out
            // rows with missing values) is fitted while the trainer reads it.
            var featurizing = Task.Run(() => Pipeline(ml, recipe, data).Fit(trainView.Value));
            ITransformer predictor;
            try
            {
                predictor = trainer.Fit(DenseRows(data, recipe.Task, trainRows, null).View());
            }
            catch
            {
                Task.WaitAny(featurizing); // let it end before the failure goes up; the trainer's error is the one to report
                throw;
            }
            var fitted = featurizing.GetAwaiter().GetResult();
            return new FittedChain(fitted, predictor, NumericReplacements(fitted, recipe, data));
        }
        var features = Pipeline(ml, recipe, data).Fit(trainView.Value);
        if (dense && NumericReplacements(features, recipe, data) is { } replacements)
            return new FittedChain(features, trainer.Fit(DenseRows(data, recipe.Task, trainRows, replacements).View()), replacements);
        var featurized = features.Transform(trainView.Value);
        if (!materialize || recipe.Task == MlTask.Multiclass || featurized.Schema["Features"].Type is not VectorDataViewType { Size: > 0 and var size, ItemType: var item }
            || item != NumberDataViewType.Single || (long)trainRows.Length * size > MaxMaterializedValues)
            return new FittedChain(features, trainer.Fit(featurized), null);
        var matrix = new float[(long)trainRows.Length * size];
        using (var cursor = featurized.GetRowCursor([featurized.Schema["Features"]]))
        {
            var getFeatures = cursor.GetGetter<VBuffer<float>>(featurized.Schema["Features"]);
            VBuffer<float> vector = default;
            for (var row = 0; cursor.MoveNext(); row++)
            {
                getFeatures(ref vector);
                vector.CopyTo(new Span<float>(matrix, row * size, size));
            }
        }
        // The view's rows are trainRows in order, so its labels are the data's.
        return new FittedChain(features, trainer.Fit(new Dense(new FeatureRows(matrix, size), data.LabelArray(recipe.Task, trainRows), recipe.Task).View()), null);
    }

    /// <summary>
    /// For a featurizer that only replaces missing numbers and concatenates them (every feature numeric, no normalizer),
    /// the value each slot gets when missing: one row of missing values run through the fitted featurizer. Null otherwise.
    /// </summary>
    private static float[]? NumericReplacements(ITransformer featurizer, Recipe recipe, TrainingData data)
    {
        if (!NumbersOnly(recipe, data)) return null;
        var missing = new ColumnDataView(data.Features.Select(f => (f.Name, (DataViewType)NumberDataViewType.Single, (Array)new[] { float.NaN })).ToList());
        var vector = featurizer.Transform(missing).GetColumn<VBuffer<float>>("Features").Single();
        return vector.Length == data.Features.Count ? vector.DenseValues().ToArray() : null;
    }

    /// <summary>
    /// Rows as the trainer's input: their feature vectors (numbers in feature order, missing ones replaced: what the
    /// numeric-only featurizer gives, without running it row by row) and their labels.
    /// </summary>
    private sealed class Dense(FeatureRows features, Array labels, MlTask task)
    {
        public FeatureRows Features { get; } = features;

        /// <summary><c>bool[]</c> (binary) or <c>float[]</c> (regression).</summary>
        public Array Labels { get; } = labels;

        /// <summary><c>Features</c> and <c>Label</c> as an ML.NET view.</summary>
        public ColumnDataView View() => new([("Features", new VectorDataViewType(NumberDataViewType.Single, Features.Width), Features.Values),
            ("Label", task == MlTask.Binary ? BooleanDataViewType.Instance : NumberDataViewType.Single, Labels)]);
    }

    /// <summary>Whether the featurizer only replaces missing numbers and concatenates them: every feature numeric, no normalizer.</summary>
    private static bool NumbersOnly(Recipe recipe, TrainingData data) =>
        data.Features.All(f => f.Kind == FeatureKind.Numeric) && !TrainerCatalog.NeedsNormalization(recipe.Trainer);

    /// <summary>The rows' feature vectors and labels; <paramref name="replacements"/> fills missing numbers (null: there are none).</summary>
    private static Dense DenseRows(TrainingData data, MlTask task, int[] rows, float[]? replacements)
    {
        var width = data.Features.Count;
        var matrix = new float[(long)rows.Length * width];
        Parallel.For(0, width, j =>
        {
            var column = (double[])data.Batch[data.Features[j].Name];
            for (var i = 0; i < rows.Length; i++)
            {
                var value = (float)column[rows[i]];
                matrix[(long)i * width + j] = float.IsNaN(value) && replacements is not null ? replacements[j] : value;
            }
        });
        return new Dense(new FeatureRows(matrix, width), data.LabelArray(task, rows), task);
    }

    private static IDataView View(TrainingData data, MlTask task, int[] rows) => View(data, task, rows, [null]);

    /// <summary>
    /// The rows as an ML.NET view, once per block, blocks one after another; a block's swap takes one feature's values
    /// from other rows (<c>Source[i]</c> for row i). One block without a swap is the plain view of the rows.
    /// </summary>
    private static IDataView View(TrainingData data, MlTask task, int[] rows, IReadOnlyList<(string Feature, int[] Source)?> blocks)
    {
        int[] Source(int block, string feature) => blocks[block] is { } swap && swap.Feature == feature ? swap.Source : rows;
        // Columns side by side: each gathers its rows from the data in the shuffled order, which is mostly cache misses.
        var built = new (string, DataViewType, Array)[data.Features.Count];
        Parallel.For(0, data.Features.Count, f =>
        {
            var feature = data.Features[f];
            var column = data.Batch[feature.Name];
            if (feature.Kind == FeatureKind.Numeric)
            {
                var values = (double[])column;
                var block = new float[rows.Length * blocks.Count];
                for (var b = 0; b < blocks.Count; b++)
                {
                    var source = Source(b, feature.Name);
                    for (var i = 0; i < rows.Length; i++) block[b * rows.Length + i] = (float)values[source[i]];
                }
                built[f] = (feature.Name, NumberDataViewType.Single, block);
            }
            else
            {
                var values = (string?[])column;
                var block = new ReadOnlyMemory<char>[rows.Length * blocks.Count];
                for (var b = 0; b < blocks.Count; b++)
                {
                    var source = Source(b, feature.Name);
                    for (var i = 0; i < rows.Length; i++) block[b * rows.Length + i] = (values[source[i]] ?? "").AsMemory();
                }
                built[f] = (feature.Name, TextDataViewType.Instance, block);
            }
        });
        var columns = built.ToList();
        DataViewType labelType = task switch
        {
            MlTask.Binary => BooleanDataViewType.Instance,
            MlTask.Multiclass => TextDataViewType.Instance,
            _ => NumberDataViewType.Single,
        };
        var labels = data.LabelArray(task, rows);
        var allLabels = Array.CreateInstance(labels.GetType().GetElementType()!, labels.Length * blocks.Count);
        for (var b = 0; b < blocks.Count; b++) Array.Copy(labels, 0, allLabels, b * labels.Length, labels.Length);
        columns.Add(("Label", labelType, allLabels));
        return new ColumnDataView(columns);
    }

    private static DataViewSchema FeatureSchema(TrainingData data)
    {
        var builder = new DataViewSchema.Builder();
        foreach (var feature in data.Features)
            builder.AddColumn(feature.Name, feature.Kind == FeatureKind.Numeric ? NumberDataViewType.Single : TextDataViewType.Instance);
        return builder.ToSchema();
    }

    /// <summary>The importance bar chart and the learning curve, when there are any.</summary>
    internal static void WriteDiagnosticPlots(string folder, MlTask task, Diagnostics diagnostics)
    {
        if (diagnostics.Importance.Count > 0) Plots.FeatureImportance(Path.Combine(folder, "feature_importance.png"), diagnostics.Importance);
        if (diagnostics.Curve.Count > 1) Plots.LearningCurve(Path.Combine(folder, "learning_curve.png"), diagnostics.Curve, task == MlTask.Binary ? "AUC" : "RMSE");
    }

    internal static void WritePlots(string folder, MlTask task, IReadOnlyList<string> classes, Holdout holdout, IReadOnlyDictionary<string, double> metrics)
    {
        switch (task)
        {
            case MlTask.Binary:
                Plots.RocCurve(Path.Combine(folder, "roc_curve.png"), holdout.Scores, holdout.BinaryLabels, metrics.GetValueOrDefault("auc"));
                Plots.PrCurve(Path.Combine(folder, "pr_curve.png"), holdout.Scores, holdout.BinaryLabels, metrics.GetValueOrDefault("average_precision"));
                Plots.ConfusionMatrix(Path.Combine(folder, "confusion_matrix.png"), classes, Confusion(classes, holdout));
                break;
            case MlTask.Multiclass:
                Plots.ConfusionMatrix(Path.Combine(folder, "confusion_matrix.png"), classes, Confusion(classes, holdout));
                break;
            default:
                Plots.PredictedVsActual(Path.Combine(folder, "predicted_vs_actual.png"), holdout.ActualValues, holdout.PredictedValues);
                break;
        }
    }

    private static long[,] Confusion(IReadOnlyList<string> classes, Holdout holdout)
    {
        var index = classes.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
        var counts = new long[classes.Count, classes.Count];
        for (var i = 0; i < holdout.Actual.Length; i++)
            if (index.TryGetValue(holdout.Actual[i], out var a) && index.TryGetValue(holdout.Predicted[i], out var p)) counts[a, p]++;
        return counts;
    }

    /// <summary>The recipe's params; a sweep's parent leaves out what its trials vary (<paramref name="swept"/>).</summary>
    internal static void LogParams(ActiveRun run, Recipe recipe, TrainingData data, IReadOnlySet<string>? swept = null)
    {
        run.LogParam("task", recipe.Task.ToString().ToLowerInvariant());
        if (swept?.Contains("trainer") != true) run.LogParam("trainer", recipe.Trainer);
        run.LogParam("label", recipe.Label);
        run.LogParam("data", recipe.Data);
        run.LogParam("data.rows", data.RowCount);
        run.LogParam("data.sha256", data.Sha256);
        var features = string.Join(",", data.Features.Select(f => $"{f.Name}:{f.Kind.ToString().ToLowerInvariant()}"));
        run.LogParam("features", features.Length > TrackingLimits.MaxParamValueLength ? features[..TrackingLimits.MaxParamValueLength] : features);
        run.LogParam("seed", recipe.Seed);
        if (recipe.Folds > 0) run.LogParam("cv.folds", recipe.Folds);
        else run.LogParam("split.test_fraction", recipe.TestFraction);
        foreach (var (name, value) in recipe.Hyperparameters)
            if (swept?.Contains(name) != true) run.LogParam(name, value);
    }

    internal static Dataset Dataset(TrainingData data, Recipe recipe)
    {
        var full = Path.GetFullPath(recipe.Data);
        var schema = new JsonArray(data.Features.Select(f => (JsonNode?)new JsonObject
        {
            ["type"] = f.Kind == FeatureKind.Numeric ? "double" : "string", ["name"] = f.Name, ["required"] = true,
        }).Append(new JsonObject { ["type"] = recipe.Task == MlTask.Regression ? "double" : "string", ["name"] = recipe.Label, ["required"] = true }).ToArray());
        return new Dataset(
            Name: Path.GetFileNameWithoutExtension(full),
            // MLflow caps a digest at 36 characters: the first 32 hex digits of the SHA-256 (the whole hash is the data.sha256 param).
            Digest: data.Sha256[..32],
            SourceType: "local",
            Source: new JsonObject { ["uri"] = new Uri(full).AbsoluteUri }.ToJsonString(),
            Schema: new JsonObject { ["mlflow_colspec"] = schema }.ToJsonString(),
            Profile: new JsonObject { ["num_rows"] = data.RowCount, ["num_elements"] = (long)data.RowCount * (data.Features.Count + 1), ["sha256"] = data.Sha256 }.ToJsonString());
    }

    internal static string Format(double value) => value.ToString("0.####", CultureInfo.InvariantCulture);
}
