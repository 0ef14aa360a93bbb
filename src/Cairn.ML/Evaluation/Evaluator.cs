using System.Globalization;
using Cairn.Client;
using Cairn.Metrics;
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
        [MlTask.Binary] = ["accuracy", "auc", "f1", "precision", "recall", "log_loss", "average_precision"],
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
            // A metric the model's outputs cannot give (e.g. a multiclass log-loss without class scores) is NaN, which fails its gate.
            var outcomes = requirements.Select(r => metrics.GetValueOrDefault(r.Metric, double.NaN) is var value ? new RequirementOutcome(r, value, r.Holds(value)) : null!).ToList();

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
    internal static ColumnBatch InputBatch(CsvTable table, IModelPredictor predictor, string label)
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
            : throw new InvalidParameterValueException($"{table.Path}: column '{name}' must be numeric for this model, but row {table.FirstRow + bad + 1} holds '{table[name][bad]}'.");

    /// <summary>
    /// Binary metrics as the trainer reports them (<see cref="BinaryMetrics"/>): with a raw <c>Score</c> beside the
    /// <c>Probability</c> (an ML.NET model), a row is positive when its score is above 0 and the AUC ranks the scores; with a
    /// probability only (in <c>Probability</c>, or in <c>Score</c> without it, e.g. an ONNX model), when it is above 0.5.
    /// A model that records no classes (one logged by Python's <c>mlflow.onnx</c>) is read as MLflow's evaluator reads it:
    /// labels 0 and 1, and the positive class's probability from its one probability output (see <see cref="PositiveProbability"/>).
    /// </summary>
    private static Dictionary<string, double> Binary(ColumnBatch output, string?[] actualText, List<string> classes, string file, string label)
    {
        bool[] actual;
        if (classes.Count == 0)
        {
            actual = actualText.Select((v, r) => v is not null && CsvTable.TryNumber(v, out var d) && d is 0 or 1 ? d == 1
                : bool.TryParse(v, out var b) ? b
                : throw new InvalidParameterValueException($"{file}: label '{label}' in row {r + 1} is '{v}'; a model that records no classes needs labels 0 and 1 (or false and true).")).ToArray();
        }
        else
        {
            if (classes.Count != 2) throw new InvalidParameterValueException($"The model records {classes.Count} classes (metadata cairn_classes), not the two a binary evaluation needs.");
            actual = actualText.Select((v, r) => v == classes[1] ? true : v == classes[0] ? false
                : throw new InvalidParameterValueException($"{file}: label '{label}' in row {r + 1} is '{v}', not one of the model's classes ({classes[0]}, {classes[1]}).")).ToArray();
        }
        if (!output.Contains("Probability") && !output.Contains("Score"))
        {
            var positive = PositiveProbability(output);
            return BinaryMetrics.Evaluate(actual, positive, positive, BinaryMetrics.ProbabilityThreshold).ToDictionary();
        }
        var hasProbability = output.Contains("Probability");
        var probability = hasProbability ? output.GetDoubles("Probability") : output.GetDoubles("Score");
        var (scores, threshold) = hasProbability && output.Contains("Score")
            ? (output.GetDoubles("Score"), BinaryMetrics.RawScoreThreshold)
            : (probability, BinaryMetrics.ProbabilityThreshold);
        return BinaryMetrics.Evaluate(actual, scores, probability, threshold).ToDictionary();
    }

    /// <summary>
    /// The positive class's probability from a model without Cairn's output names: the first floating-point output that holds
    /// one value per row (the probability of class 1) or two (the probabilities of classes 0 and 1, as scikit-learn's
    /// converters write them). Integer, boolean and string outputs are predicted labels and are passed over. Every value
    /// must be a probability, in [0, 1].
    /// </summary>
    internal static double[] PositiveProbability(ColumnBatch output)
    {
        foreach (var name in output.Names)
        {
            double[]? values = output[name] switch
            {
                float[] f => Array.ConvertAll(f, v => (double)v),
                double[] d => d,
                float[][] rows when rows.All(r => r.Length is 1 or 2) && rows.Select(r => r.Length).Distinct().Count() <= 1 => Array.ConvertAll(rows, r => (double)r[^1]),
                double[][] rows when rows.All(r => r.Length is 1 or 2) && rows.Select(r => r.Length).Distinct().Count() <= 1 => Array.ConvertAll(rows, r => r[^1]),
                _ => null,
            };
            if (values is null) continue;
            for (var r = 0; r < values.Length; r++)
                if (!(values[r] is >= 0 and <= 1))
                    throw new InvalidParameterValueException(
                        $"The model's output '{name}' is not a probability: row {r + 1} holds {Format(values[r])}, outside [0, 1]. A binary evaluation needs the positive class's probability.");
            return values;
        }
        throw new InvalidParameterValueException(
            $"The model's outputs ({string.Join(", ", output.Names)}) hold no probability: a binary evaluation needs a floating-point output with one value per row (the positive class's probability) or two (classes 0 and 1).");
    }

    /// <summary>
    /// Multiclass metrics as the trainer reports them (<see cref="MulticlassMetrics"/>): from the class probabilities in
    /// <c>Score</c> when the model gives one per recorded class, otherwise the accuracies from <c>PredictedLabel</c> alone.
    /// A label outside the model's classes counts as a miss; an empty label is left out.
    /// </summary>
    private static Dictionary<string, double> Multiclass(ColumnBatch output, string?[] actual, List<string> classes)
    {
        if (classes.Count == 0)
            classes = [.. actual.Concat(output.GetStrings("PredictedLabel")).OfType<string>().Where(v => v.Length > 0).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        var index = classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        var labels = Array.ConvertAll(actual, v => string.IsNullOrEmpty(v) ? -1 : index.GetValueOrDefault(v, classes.Count));
        if (output.TryGet("Score", out var s) && s is float[][] rows && rows.All(r => r.Length == classes.Count))
            return MulticlassMetrics.Evaluate(labels, rows.SelectMany(r => r).ToArray(), classes.Count).ToDictionary();
        var predicted = Array.ConvertAll(output.GetStrings("PredictedLabel"), v => v is not null && index.TryGetValue(v, out var i) ? i : -1);
        return MulticlassMetrics.FromPredictions(labels, predicted, classes.Count).ToDictionary();
    }

    /// <summary>Regression metrics as the trainer reports them (<see cref="RegressionMetrics"/>): the targets read as 32-bit floats, as ML.NET reads labels.</summary>
    private static Dictionary<string, double> Regression(ColumnBatch output, string?[] actualText, string file, string label)
    {
        var actual = actualText.Select((v, r) => v is not null && CsvTable.TryNumber(v, out var d) ? (float)d
            : throw new InvalidParameterValueException($"{file}: label '{label}' in row {r + 1} is '{v}', not a number.")).ToArray();
        var name = output.Contains("Score") ? "Score" : output.Names.First();
        var predicted = output[name] is float[][] vectors ? vectors.Select(v => (double)v[0]).ToArray() : output.GetDoubles(name);
        return RegressionMetrics.Evaluate(actual, predicted).ToDictionary();
    }

    /// <summary>A metric value as the evaluation prints it.</summary>
    internal static string Format(double value) => value.ToString("0.####", CultureInfo.InvariantCulture);
}
