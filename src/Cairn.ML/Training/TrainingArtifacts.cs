using Cairn.Client;
using Cairn.ML.Models;
using Microsoft.ML;
using static Cairn.ML.Training.ModelFitter;

namespace Cairn.ML.Training;

/// <summary>
/// A training run's artifacts: the model package (with <c>data_profile.json</c> and <c>reference_sample.parquet</c>) as <c>model/</c>, the evaluation plots as
/// <c>plots/</c> and the permutation importances as <c>feature_importance.json</c>.
/// </summary>
internal static class TrainingArtifacts
{
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
    internal static async Task LogModelAsync(CairnClient client, ActiveRun run, Recipe recipe, TrainingData data, Fitted fitted, string? folder, Task? modelSaved,
        CancellationToken cancellationToken)
    {
        var work = folder is null ? Directory.CreateTempSubdirectory("cairn-train-") : null;
        try
        {
            var root = folder ?? work!.FullName;
            var modelFolder = Path.Combine(root, Trainer.ModelArtifactPath);
            var plots = Path.Combine(root, "plots");
            Directory.CreateDirectory(plots);
            // The model file, the profile and the plots do not depend on each other: write them side by side.
            var profile = data.ProfileAsync();
            await Plots.PrepareAsync().ConfigureAwait(false);
            await Task.WhenAll(
                profile,
                modelSaved ?? Task.Run(() => SaveModel(modelFolder, recipe, data, fitted.Model, fitted.ScoreOrder, run.RunId), cancellationToken),
                Task.Run(() => WritePlots(plots, recipe.Task, data.Classes, fitted.Holdout, fitted.Metrics), cancellationToken),
                Task.Run(async () => WriteDiagnosticPlots(plots, recipe.Task, await fitted.PendingDiagnostics.ConfigureAwait(false)), cancellationToken),
                Task.Run(() => WriteReferenceAsync(modelFolder, recipe, data, cancellationToken), cancellationToken))
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

    /// <summary>The reference sample (<see cref="ReferenceSample"/>) beside the model files (the folder is shared with the model's save).</summary>
    private static async Task WriteReferenceAsync(string modelFolder, Recipe recipe, TrainingData data, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(modelFolder);
        await ReferenceSample.WriteAsync(Path.Combine(modelFolder, ReferenceSample.FileName), data, recipe.Label, recipe.Seed, cancellationToken).ConfigureAwait(false);
        if (recipe.ReferenceSketch && data.RowCount > ReferenceSample.MaxRows) ReferenceSample.WriteSketches(Path.Combine(modelFolder, ReferenceSample.SketchFileName), data);
    }

    /// <summary>The ML.NET model package of a fitted chain, with the task, label and class order the scorers need.</summary>
    internal static void SaveModel(string folder, Recipe recipe, TrainingData data, ITransformer model, IReadOnlyList<string> scoreOrder, string runId) =>
        ModelPackage.SaveMlNet(folder, new MLContext(recipe.Seed), model, Featurizer.InputSchema(data), data.Signature(), data.Batch, runId,
            new Dictionary<string, object?>
            {
                ["cairn_task"] = recipe.Task.ToString().ToLowerInvariant(),
                ["cairn_label"] = recipe.Label,
                ["cairn_classes"] = scoreOrder.Count > 0 ? scoreOrder.ToList() : null,
            });


    /// <summary>The importance bar chart and the learning curve, when there are any.</summary>
    internal static void WriteDiagnosticPlots(string folder, MlTask task, ModelFitter.Diagnostics diagnostics)
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

}
