using System.Globalization;
using Cairn.Client;
using Cairn.ML.Models;
using Cairn.ML.Training;
using Cairn.Tracking;

namespace Cairn.ML.Evaluation;

/// <summary>Settings of <see cref="Evaluator.RunAsync"/>.</summary>
public sealed class EvaluationOptions
{
    /// <summary>The experiment of the evaluation run.</summary>
    public string Experiment { get; set; } = "Default";

    /// <summary>The task, when the package does not record it (e.g. a model logged by Python).</summary>
    public MlTask? Task { get; set; }

    /// <summary>The label column, when the package does not record it.</summary>
    public string? Label { get; set; }

    /// <summary>Gates such as "accuracy &gt;= 0.85".</summary>
    public IReadOnlyList<string> Requirements { get; set; } = [];
}

/// <summary>The metrics of an evaluation and whether every requirement held.</summary>
public sealed record EvaluationResult(string RunId, IReadOnlyDictionary<string, double> Metrics, IReadOnlyList<RequirementOutcome> Requirements)
{
    public bool Passed => Requirements.All(r => r.Passed);
}

/// <summary>
/// Scores a model package on a labelled CSV, logs an evaluation run (params, the dataset input, metrics, and whether the
/// requirements held) and checks the requirements. Problems with the model, the data or a requirement fail before the run starts.
/// </summary>
public static class Evaluator
{
    public static readonly IReadOnlyDictionary<MlTask, string[]> MetricNames = new Dictionary<MlTask, string[]>
    {
        [MlTask.Binary] = ["accuracy", "auc", "f1", "precision", "recall", "log_loss"],
        [MlTask.Multiclass] = ["micro_accuracy", "macro_accuracy", "log_loss"],
        [MlTask.Regression] = ["rmse", "mae", "r2"],
    };

    public static async Task<EvaluationResult> RunAsync(string model, string dataPath, CairnClient client, EvaluationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        options ??= new EvaluationOptions();
        var requirements = options.Requirements.Select(r => Requirement.Parse(r)).ToList();
        var scratch = Directory.CreateTempSubdirectory("cairn-evaluate-");
        try
        {
            var (folder, sourceRunId) = await ModelLocator.LocateAsync(model, client, scratch.FullName, cancellationToken).ConfigureAwait(false);
            using var package = ModelPackage.Load(folder);
            var metadata = package.Manifest.Metadata;
            var task = options.Task ?? (metadata.GetValueOrDefault("cairn_task") is string t && Enum.TryParse<MlTask>(t, true, out var parsed) ? parsed
                : throw new InvalidParameterValueException($"Model '{model}' does not record its task: pass --task binary|multiclass|regression."));
            var label = options.Label ?? metadata.GetValueOrDefault("cairn_label") as string
                ?? throw new InvalidParameterValueException($"Model '{model}' does not record its label column: pass --label.");
            var classes = (metadata.GetValueOrDefault("cairn_classes") as List<object>)?.Select(c => c.ToString()!).ToList() ?? [];
            foreach (var r in requirements)
                if (!MetricNames[task].Contains(r.Metric))
                    throw new InvalidParameterValueException($"Invalid value '{r.Text}' for '--require': a {task.ToString().ToLowerInvariant()} model has no metric '{r.Metric}'; expected one of {string.Join(", ", MetricNames[task])}.");

            var table = CsvTable.ReadAny(dataPath);
            if (table.IndexOf(label) < 0)
                throw new InvalidParameterValueException($"{dataPath}: the label column '{label}' is not in the file; columns: {string.Join(", ", table.Names)}.");
            var input = InputBatch(table, package.Predictor, label);
            var output = package.Predictor.Predict(input);
            var actual = table[label];
            var metrics = task switch
            {
                MlTask.Binary => Binary(output, actual, classes, dataPath, label),
                MlTask.Multiclass => Multiclass(output, actual, classes),
                _ => Regression(output, actual, dataPath, label),
            };
            var outcomes = requirements.Select(r => new RequirementOutcome(r, metrics[r.Metric], r.Holds(metrics[r.Metric]))).ToList();

            var sha = TrainingData.HashFile(dataPath);
            var run = await client.StartRunAsync(options.Experiment, null, new Dictionary<string, string>
            {
                ["cairn.evaluated_model"] = model,
                ["cairn.requirements"] = outcomes.Count == 0 ? "none" : outcomes.All(o => o.Passed) ? "passed" : "failed",
            }, cancellationToken: cancellationToken).ConfigureAwait(false);
            try
            {
                run.LogParam("model", model);
                if (sourceRunId is not null) run.LogParam("model.run_id", sourceRunId);
                run.LogParam("data", Path.GetFullPath(dataPath));
                run.LogParam("data.sha256", sha);
                run.LogParam("data.rows", table.RowCount);
                run.LogParam("task", task.ToString().ToLowerInvariant());
                for (var i = 0; i < outcomes.Count; i++) run.LogParam($"require.{i}", outcomes[i].Requirement.Text);
                run.LogInput(new Dataset(Path.GetFileNameWithoutExtension(dataPath), sha[..32], "local",
                    new System.Text.Json.Nodes.JsonObject { ["uri"] = new Uri(Path.GetFullPath(dataPath)).AbsoluteUri }.ToJsonString()), "evaluation");
                run.LogMetrics(metrics.Where(m => double.IsFinite(m.Value)));
                await run.EndAsync(RunStatus.FINISHED, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await run.EndAsync(RunStatus.FAILED, CancellationToken.None).ConfigureAwait(false);
                throw;
            }
            return new EvaluationResult(run.RunId, metrics, outcomes);
        }
        finally
        {
            try { scratch.Delete(recursive: true); } catch (IOException) { /* harmless leftover */ }
        }
    }

    /// <summary>The predictor's inputs from the CSV: typed named columns, or every non-label column for a tensor input.</summary>
    private static ColumnBatch InputBatch(CsvTable table, IModelPredictor predictor, string label)
    {
        var batch = new ColumnBatch();
        if (predictor.Inputs.Any(i => i.IsTensor && table.IndexOf(i.Name ?? "") < 0))
        {
            foreach (var name in table.Names.Where(n => n != label)) batch.Add(name, Numbers(table, name));
            return batch;
        }
        foreach (var spec in predictor.Inputs)
        {
            var name = spec.Name ?? throw new InvalidParameterValueException("The model has an unnamed input; Cairn needs named inputs to read a CSV.");
            if (table.IndexOf(name) < 0)
                throw new InvalidParameterValueException($"{table.Path}: the model's input column '{name}' is not in the file; columns: {string.Join(", ", table.Names)}.");
            batch.Add(name, spec.Type is "string" ? table[name] : Numbers(table, name));
        }
        return batch;
    }

    private static double[] Numbers(CsvTable table, string name) =>
        table.TryNumbers(name, out var numbers, out var bad) ? numbers
            : throw new InvalidParameterValueException($"{table.Path}: column '{name}' must be numeric for this model, but row {bad + 1} holds '{table[name][bad]}'.");

    private static Dictionary<string, double> Binary(ColumnBatch output, string?[] actualText, List<string> classes, string file, string label)
    {
        if (classes.Count != 2) throw new InvalidParameterValueException("The model does not record its two classes (metadata cairn_classes).");
        var actual = actualText.Select((v, r) => v == classes[1] ? true : v == classes[0] ? false
            : throw new InvalidParameterValueException($"{file}: label '{label}' in row {r + 1} is '{v}', not one of the model's classes ({classes[0]}, {classes[1]}).")).ToArray();
        var probability = output.Contains("Probability") ? output.GetDoubles("Probability") : output.GetDoubles("Score");
        var predicted = output.Contains("PredictedLabel") ? (bool[])output["PredictedLabel"] : probability.Select(p => p >= 0.5).ToArray();
        double tp = 0, fp = 0, tn = 0, fn = 0, logLoss = 0;
        for (var i = 0; i < actual.Length; i++)
        {
            if (predicted[i]) { if (actual[i]) tp++; else fp++; }
            else { if (actual[i]) fn++; else tn++; }
            var p = Math.Clamp(probability[i], 1e-15, 1 - 1e-15);
            logLoss -= actual[i] ? Math.Log2(p) : Math.Log2(1 - p);
        }
        var precision = tp + fp == 0 ? 0 : tp / (tp + fp);
        var recall = tp + fn == 0 ? 0 : tp / (tp + fn);
        return new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["accuracy"] = (tp + tn) / actual.Length,
            ["auc"] = LearningCurve.Auc(probability, actual),
            ["f1"] = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall),
            ["precision"] = precision,
            ["recall"] = recall,
            // Bits, as ML.NET reports it during training, so the two numbers compare.
            ["log_loss"] = logLoss / actual.Length,
        };
    }

    private static Dictionary<string, double> Multiclass(ColumnBatch output, string?[] actual, List<string> classes)
    {
        var predicted = output.GetStrings("PredictedLabel");
        var scores = output.TryGet("Score", out var s) ? s as float[][] : null;
        var perClass = new Dictionary<string, (int Correct, int Total)>(StringComparer.Ordinal);
        double correct = 0, logLoss = 0;
        for (var i = 0; i < actual.Length; i++)
        {
            var hit = predicted[i] == actual[i];
            if (hit) correct++;
            var (c, t) = perClass.GetValueOrDefault(actual[i] ?? "");
            perClass[actual[i] ?? ""] = (c + (hit ? 1 : 0), t + 1);
            var slot = classes.IndexOf(actual[i] ?? "");
            var p = scores is not null && slot >= 0 && slot < scores[i].Length ? scores[i][slot] : 0;
            logLoss -= Math.Log(Math.Clamp(p, 1e-15, 1));
        }
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["micro_accuracy"] = correct / actual.Length,
            ["macro_accuracy"] = perClass.Values.Average(v => (double)v.Correct / v.Total),
        };
        if (scores is not null && classes.Count > 0) metrics["log_loss"] = logLoss / actual.Length;
        return metrics;
    }

    private static Dictionary<string, double> Regression(ColumnBatch output, string?[] actualText, string file, string label)
    {
        var actual = actualText.Select((v, r) => v is not null && CsvTable.TryNumber(v, out var d) ? d
            : throw new InvalidParameterValueException($"{file}: label '{label}' in row {r + 1} is '{v}', not a number.")).ToArray();
        var name = output.Contains("Score") ? "Score" : output.Names.First();
        var predicted = output[name] is float[][] vectors ? vectors.Select(v => (double)v[0]).ToArray() : output.GetDoubles(name);
        var mean = actual.Average();
        double se = 0, ae = 0, total = 0;
        for (var i = 0; i < actual.Length; i++)
        {
            var e = predicted[i] - actual[i];
            se += e * e;
            ae += Math.Abs(e);
            total += (actual[i] - mean) * (actual[i] - mean);
        }
        return new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["rmse"] = Math.Sqrt(se / actual.Length),
            ["mae"] = ae / actual.Length,
            ["r2"] = total == 0 ? double.NaN : 1 - se / total,
        };
    }

    /// <summary>Area under the ROC curve by the rank-sum formula (ties get their mean rank).</summary>
    internal static string Format(double value) => value.ToString("0.####", CultureInfo.InvariantCulture);
}
