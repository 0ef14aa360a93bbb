using System.Globalization;
using System.Text.Json.Nodes;
using Cairn.Client;
using Cairn.Tracking;
using static Cairn.ML.Training.ModelFitter;

namespace Cairn.ML.Training;

/// <summary>What a training run logs besides its artifacts: params, the dataset input, MLflow's source tags and the metrics.</summary>
internal static class TrainingLog
{
    /// <summary>Logs the evaluation metrics and, for tree trainers, the held-out metric after each number of trees (the step).</summary>
    internal static void LogMetrics(ActiveRun run, MlTask task, Fitted fitted)
    {
        LogEvaluation(run, fitted);
        LogCurve(run, task, fitted);
    }

    /// <summary>The evaluation metrics (the finite ones).</summary>
    internal static void LogEvaluation(ActiveRun run, Fitted fitted) => run.LogMetrics(fitted.Metrics.Where(m => double.IsFinite(m.Value)));

    /// <summary>The learning curve, the number of trees as the step; waits for it when it is still being computed.</summary>
    internal static void LogCurve(ActiveRun run, MlTask task, Fitted fitted)
    {
        foreach (var point in fitted.Diagnostics.Curve)
            if (double.IsFinite(point.Value)) run.LogMetric(LearningCurve.MetricName(task), point.Value, point.Trees);
    }


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
