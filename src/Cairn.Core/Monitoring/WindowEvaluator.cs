using System.Globalization;
using Cairn.Metrics;
using Cairn.Serving;
using Cairn.Storage;

namespace Cairn.Monitoring;

/// <summary>
/// Computes monitoring windows over the prediction log: reads a window's rows and their ground truth
/// (<see cref="ReadAsync"/>), then scores them (<see cref="Compute"/>): one window for the deployment's primary routes
/// together and, when more than one model version (or a shadow) answered, one per version and route kind. Inputs are compared
/// with the reference by <see cref="DriftAnalyzer"/>, the prediction with the reference's label, and the rows with ground
/// truth by Cairn's metrics module.
/// </summary>
internal sealed class WindowEvaluator(SqlPredictionStore store)
{
    private const int PageRows = SqlPredictionStore.MaxPageRows;

    /// <summary>Reads the rows of [start, end) and their ground truth; refuses a window of more than <see cref="MonitorSettings.MaxWindowRows"/> rows.</summary>
    public async Task<WindowRows> ReadAsync(string deployment, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken = default)
    {
        if (end <= start) throw new InvalidParameterValueException("Invalid window: 'end' must be after 'start'.");
        var groups = new Dictionary<(string?, string?, bool), List<PredictionRows>>();
        long total = 0;
        await foreach (var part in store.ReadAsync(deployment, null, start, end, PageRows, cancellationToken).ConfigureAwait(false))
        {
            total += part.Count;
            if (total > MonitorSettings.MaxWindowRows)
                throw new InvalidParameterValueException(string.Create(CultureInfo.InvariantCulture,
                    $"Invalid window: deployment {deployment} logged more than {MonitorSettings.MaxWindowRows} rows between {start:O} and {end:O}; use a shorter window or 'rows'."));
            var key = (part.ModelName, part.ModelVersion, part.Shadow);
            if (!groups.TryGetValue(key, out var list)) groups[key] = list = [];
            list.Add(part);
        }
        var truth = new Dictionary<(string, int), string>();
        if (total > 0)
            foreach (var f in await store.ReadFeedbackAsync(deployment, start, end, cancellationToken).ConfigureAwait(false))
                truth[(f.RequestId, f.Row)] = f.ValueJson;
        var ordered = groups.OrderBy(g => g.Key.Item3).ThenBy(g => g.Key.Item1, StringComparer.Ordinal).ThenBy(g => VersionOrder(g.Key.Item2))
            .Select(g => new WindowGroup(g.Key.Item1, g.Key.Item2, g.Key.Item3, g.Value)).ToList();
        return new WindowRows(deployment, start, end, ordered, truth);
    }

    /// <summary>
    /// The end of a window of at least <paramref name="rows"/> primary rows from <paramref name="start"/>: one millisecond
    /// after the request that reaches the count (rows logged in that same millisecond join the window), or null when fewer
    /// rows were logged before <paramref name="notAfter"/>.
    /// </summary>
    public async Task<DateTimeOffset?> RowWindowEndAsync(string deployment, DateTimeOffset start, DateTimeOffset notAfter, int rows,
        CancellationToken cancellationToken = default)
    {
        if (rows is < 1 or > MonitorSettings.MaxWindowRows)
            throw new InvalidParameterValueException($"Invalid value '{rows}' for 'rows': it must be between 1 and {MonitorSettings.MaxWindowRows}.");
        if (notAfter <= start) return null;
        var times = new List<long>();
        long? minute = null;
        await foreach (var part in store.ReadAsync(deployment, null, start, notAfter, PageRows, cancellationToken).ConfigureAwait(false))
        {
            // Blocks come in minute order (a block lies within one minute), so once the count is reached the rest of that
            // minute is read and the rows sorted by time.
            if (minute is { } m && part.TimesMs.Length > 0 && part.TimesMs[0] / SqlPredictionStore.BlockSpanMs > m) break;
            if (part.Shadow) continue;
            times.AddRange(part.TimesMs);
            if (times.Count >= rows && minute is null) minute = part.TimesMs[^1] / SqlPredictionStore.BlockSpanMs;
            if (times.Count > MonitorSettings.MaxWindowRows + SqlPredictionStore.MaxBlockRows) break;
        }
        if (times.Count < rows) return null;
        times.Sort();
        return DateTimeOffset.FromUnixTimeMilliseconds(times[rows - 1] + 1);
    }

    /// <summary>
    /// Scores a window: the deployment's primary rows together, and each model version and route kind on its own when more
    /// than one answered. <paramref name="models"/> gives what is known of each version (its reference, task, label, training
    /// metrics); for the deployment's window, that of the primary version with the most rows.
    /// </summary>
    public static IReadOnlyList<MonitorWindow> Compute(WindowRows window, MonitorSettings settings, IReadOnlyDictionary<(string?, string?), MonitorModel> models,
        long predictionLogDrops, DateTimeOffset evaluatedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(window);
        ArgumentNullException.ThrowIfNull(settings);
        var primaries = window.Groups.Where(g => !g.Shadow).ToList();
        var main = primaries.OrderByDescending(g => g.Rows).FirstOrDefault();
        var mainModel = main is null ? MonitorModel.Unknown : models.GetValueOrDefault((main.ModelName, main.ModelVersion)) ?? MonitorModel.Unknown;
        var results = new List<MonitorWindow>
        {
            One(window, null, null, false, primaries.SelectMany(g => g.Parts).ToList(), mainModel, settings, predictionLogDrops, evaluatedAt, cancellationToken),
        };
        if (window.Groups.Count > 1 || window.Groups.Any(g => g.Shadow))
            foreach (var g in window.Groups)
                results.Add(One(window, g.ModelName, g.ModelVersion, g.Shadow, g.Parts,
                    models.GetValueOrDefault((g.ModelName, g.ModelVersion)) ?? MonitorModel.Unknown, settings, predictionLogDrops, evaluatedAt, cancellationToken));
        return results;
    }

    private static MonitorWindow One(WindowRows window, string? modelName, string? modelVersion, bool shadow, IReadOnlyList<PredictionRows> parts,
        MonitorModel model, MonitorSettings settings, long drops, DateTimeOffset evaluatedAt, CancellationToken cancellationToken)
    {
        var rows = parts.Sum(p => p.Count);
        var result = new MonitorWindow
        {
            Deployment = window.Deployment,
            ModelName = modelName,
            ModelVersion = modelVersion,
            Shadow = shadow,
            Start = window.Start,
            End = window.End,
            Rows = rows,
            PredictionLogDrops = drops,
            EvaluatedAt = evaluatedAt,
            TrainingPerformance = model.TrainingMetrics,
        };
        if (rows == 0) return result;
        var inputs = Concatenate(parts, p => p.Inputs, rows);
        var outputs = Concatenate(parts, p => p.Outputs, rows);
        var task = model.Task ?? GuessTask(outputs);
        var predictionName = settings.PredictionColumn
            ?? (task == "regression" ? "Score" : outputs.ContainsKey("PredictedLabel") ? "PredictedLabel" : outputs.Keys.FirstOrDefault(k => MonitorValues.IsScalar(outputs[k])));
        var prediction = predictionName is not null && outputs.TryGetValue(predictionName, out var p) && MonitorValues.IsScalar(p) ? p : null;

        if (model.Reference is { } reference)
        {
            var label = settings.LabelColumn ?? model.Label;
            var columns = DriftColumns(inputs, reference, label, settings.MaxFeatures);
            result = result with
            {
                Reference = reference.Source,
                InputDrift = columns.Count == 0 ? null : DriftAnalyzer.Compare(columns, settings.Drift, cancellationToken: cancellationToken),
                PredictionDrift = prediction is null || label is null ? null : PredictionDrift(predictionName!, prediction, reference, label, task, settings.Drift),
            };
        }
        var (labeled, performance) = Performance(parts, window.Truth, outputs, prediction, task, model.Classes);
        return result with { LabeledRows = labeled, Performance = performance };
    }

    /// <summary>Each column of the parts laid end to end (a column a part lacks is missing in its rows; tensors are left out).</summary>
    private static Dictionary<string, Array> Concatenate(IReadOnlyList<PredictionRows> parts, Func<PredictionRows, IReadOnlyList<KeyValuePair<string, Array>>> pick, int rows)
    {
        var names = new List<string>();
        var numeric = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var part in parts)
            foreach (var (name, values) in pick(part))
            {
                if (!MonitorValues.IsScalar(values)) continue;
                var isNumber = values is double[] or float[] or long[] or int[];
                if (numeric.TryGetValue(name, out var was)) numeric[name] = was && isNumber;
                else
                {
                    numeric[name] = isNumber;
                    names.Add(name);
                }
            }
        var result = new Dictionary<string, Array>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (numeric[name])
            {
                var all = new double[rows];
                Array.Fill(all, double.NaN);
                var at = 0;
                foreach (var part in parts)
                {
                    var column = pick(part).FirstOrDefault(c => c.Key == name).Value;
                    if (column is not null) MonitorValues.Numbers(column)!.CopyTo(all, at);
                    at += part.Count;
                }
                result[name] = all;
            }
            else
            {
                // A bool column keeps its values (true/false) so a binary label compares as one; text stays text.
                var all = new string?[rows];
                var at = 0;
                var bools = true;
                foreach (var part in parts)
                {
                    var column = pick(part).FirstOrDefault(c => c.Key == name).Value;
                    if (column is not null)
                    {
                        bools &= column is bool[];
                        MonitorValues.Texts(column)!.CopyTo(all, at);
                    }
                    at += part.Count;
                }
                result[name] = bools ? Array.ConvertAll(all, v => v == "true") : all;
            }
        }
        return result;
    }

    private static string GuessTask(Dictionary<string, Array> outputs) =>
        outputs.ContainsKey("Probability") || outputs.GetValueOrDefault("PredictedLabel") is bool[] ? "binary"
        : outputs.ContainsKey("PredictedLabel") ? "multiclass"
        : "regression";

    private static List<DriftColumn> DriftColumns(Dictionary<string, Array> inputs, MonitorReference reference, string? label, int maxFeatures)
    {
        var columns = new List<DriftColumn>();
        foreach (var (name, values) in inputs)
        {
            if (columns.Count >= maxFeatures) break;
            if (name == label || !reference.Columns.ContainsKey(name)) continue;
            if (values is double[] current && reference.Numbers(name) is { } refNumbers)
                columns.Add(new NumericDriftColumn(name, refNumbers, current));
            else
                columns.Add(new CategoricalDriftColumn(name, reference.Texts(name)!, Texts(values)));
        }
        return columns;
    }

    private static string?[] Texts(Array values) => values is bool[] b ? Array.ConvertAll(b, v => v ? "true" : "false") : MonitorValues.Texts(values)!;

    private static FeatureDrift? PredictionDrift(string name, Array prediction, MonitorReference reference, string label, string task, DriftOptions options)
    {
        if (!reference.Columns.ContainsKey(label)) return null;
        if (task == "regression" && prediction is double[] current && reference.Numbers(label) is { } target)
        {
            var (method, threshold) = options.Rule(name, numeric: true);
            return DriftAnalyzer.Numeric(new NumericDriftColumn(name, target, current), method, threshold);
        }
        var refTexts = reference.Texts(label)!;
        var curTexts = Texts(prediction);
        if (task == "binary")
        {
            // A binary label may be written true/false or 1/0 on either side.
            refTexts = Array.ConvertAll(refTexts, v => MonitorValues.BooleanText(v) ?? v);
            curTexts = Array.ConvertAll(curTexts, v => MonitorValues.BooleanText(v) ?? v);
        }
        var (m, t) = options.Rule(name, numeric: false);
        return DriftAnalyzer.Categorical(new CategoricalDriftColumn(name, refTexts, curTexts), m, t);
    }

    /// <summary>The rows with ground truth, and the metrics of the window's task over them.</summary>
    private static (long Labeled, IReadOnlyDictionary<string, double> Metrics) Performance(IReadOnlyList<PredictionRows> parts,
        IReadOnlyDictionary<(string, int), string> truth, Dictionary<string, Array> outputs, Array? prediction, string task, IReadOnlyList<string>? classes)
    {
        var empty = new Dictionary<string, double>();
        if (truth.Count == 0) return (0, empty);
        var matched = new List<(int Index, string Json)>();
        var at = 0;
        foreach (var part in parts)
        {
            for (var i = 0; i < part.Count; i++)
                if (truth.TryGetValue((part.RequestIds[i], part.RowIndexes[i]), out var json)) matched.Add((at + i, json));
            at += part.Count;
        }
        if (matched.Count == 0) return (0, empty);
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        switch (task)
        {
            case "regression":
                if (prediction is not double[] scores) break;
                var targets = matched.Select(m => (float)MonitorValues.TruthNumber(m.Json)).ToArray();
                var predicted = matched.Select(m => scores[m.Index]).ToArray();
                foreach (var (k, v) in RegressionMetrics.Evaluate(targets, predicted).ToDictionary()) metrics[k] = v;
                break;
            case "binary":
                var labels = new List<bool>();
                var rowScores = new List<double>();
                var rowProbabilities = new List<double>();
                var score = outputs.GetValueOrDefault("Score") as double[];
                var probability = outputs.GetValueOrDefault("Probability") as double[];
                var hard = prediction as bool[] ?? (prediction is string?[] s ? Array.ConvertAll(s, v => MonitorValues.BooleanText(v) == "true") : null);
                var positive = classes is { Count: 2 } ? classes[1] : null;
                foreach (var (index, json) in matched)
                {
                    var text = MonitorValues.TruthText(json);
                    var label = MonitorValues.BooleanText(text) is { } b ? b == "true" : positive is not null && text == positive;
                    if (text is null) continue;
                    labels.Add(label);
                    // The raw score decides at 0 (ML.NET's threshold); without one the probability decides at 0.5; without
                    // either the predicted label does (as a score of +1 or -1).
                    rowScores.Add(score?[index] ?? (probability is not null ? probability[index] - BinaryMetrics.ProbabilityThreshold : hard is not null ? (hard[index] ? 1 : -1) : double.NaN));
                    rowProbabilities.Add(probability?[index] ?? (hard is not null ? (hard[index] ? 1 : 0) : double.NaN));
                }
                var binary = BinaryMetrics.Evaluate(labels.ToArray(), rowScores.ToArray(), rowProbabilities.ToArray());
                foreach (var name in (string[])["accuracy", "precision", "recall", "f1", "auc"])
                    metrics[name] = binary.ToDictionary()[name];
                break;
            default:
                if (prediction is null) break;
                var predictedTexts = Texts(prediction);
                var order = (classes ?? []).Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
                int Index(string? c)
                {
                    if (c is null) return -1;
                    if (!order.TryGetValue(c, out var i)) order[c] = i = order.Count;
                    return i;
                }
                var truthIndexes = matched.Select(m => Index(MonitorValues.TruthText(m.Json))).ToArray();
                var predictedIndexes = matched.Select(m => Index(predictedTexts[m.Index])).ToArray();
                // The model's classes when the package names them (a label outside them is a class the model does not know: a miss,
                // left out of the macro average, as the metrics module defines it); else every class seen on either side.
                var classCount = classes is { Count: > 0 } ? classes.Count : Math.Max(1, order.Count);
                var multi = MulticlassMetrics.FromPredictions(truthIndexes, predictedIndexes, classCount);
                metrics["accuracy"] = multi.MicroAccuracy;
                metrics["micro_accuracy"] = multi.MicroAccuracy;
                metrics["macro_accuracy"] = multi.MacroAccuracy;
                break;
        }
        // A metric without a value here (AUC of one class, R² of constant targets) is left out rather than stored as NaN.
        return (matched.Count, metrics.Where(m => double.IsFinite(m.Value)).ToDictionary(StringComparer.Ordinal));
    }

    private static long VersionOrder(string? version) => long.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : long.MaxValue;
}
