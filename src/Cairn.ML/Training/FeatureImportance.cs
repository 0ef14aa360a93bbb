using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Cairn.ML.Training;

/// <summary>
/// Permutation feature importance over the recipe's own columns (a categorical or text column counts as one feature,
/// however many slots its encoding has): shuffle one column across the held-out rows, score again, and record how much
/// the task's metric drops (binary: AUC, multiclass: macro accuracy, regression: R²), averaged over a few shuffles.
/// To keep its cost small next to training, it uses at most <see cref="MaxRows"/> held-out rows (the split is already a
/// random order, so the first ones are a random sample) and <see cref="Repeats"/> shuffles per feature; with
/// cross-validation, the first fold's model and rows.
/// </summary>
public static class FeatureImportance
{
    public const int MaxRows = 1000;
    public const int Repeats = 3;
    public const string FileName = "feature_importance.json";

    /// <summary>One feature's importance: the mean and standard deviation of the metric's drop over the shuffles.</summary>
    public sealed record Entry(string Feature, double Mean, double StdDev, string Metric);

    /// <summary>The metric whose drop measures importance; larger is better for all three.</summary>
    public static string MetricOf(MlTask task) => task switch
    {
        MlTask.Binary => "auc",
        MlTask.Multiclass => "macro_accuracy",
        _ => "r2",
    };

    /// <summary>
    /// Computes the importances. <paramref name="scoreBlocks"/> scores the held-out rows once per block, all blocks in one
    /// pass (one ML.NET transform, not one per shuffle): block k takes one feature's values from other rows (<c>Source[i]</c>
    /// supplies row i) when its swap is given, and the first block, unswapped, is the baseline.
    /// </summary>
    internal static IReadOnlyList<Entry> Compute(IReadOnlyList<Feature> features, int[] testRows, MlTask task, int seed,
        Func<int[], IReadOnlyList<(string Feature, int[] Source)?>, double[]> scoreBlocks)
    {
        var rows = testRows.Length > MaxRows ? testRows[..MaxRows] : testRows;
        if (rows.Length < 2) return [];
        var random = new Random(seed);
        var swaps = new List<(string Feature, int[] Source)?> { null };
        foreach (var feature in features)
            for (var r = 0; r < Repeats; r++)
            {
                var source = (int[])rows.Clone();
                random.Shuffle(source);
                swaps.Add((feature.Name, source));
            }
        var scores = scoreBlocks(rows, swaps);
        var baseline = scores[0];
        var entries = new List<Entry>();
        for (var f = 0; f < features.Count; f++)
        {
            var drops = Enumerable.Range(0, Repeats).Select(r => baseline - scores[1 + f * Repeats + r]).ToArray();
            var mean = drops.Average();
            var std = Math.Sqrt(drops.Sum(d => (d - mean) * (d - mean)) / Math.Max(1, drops.Length - 1));
            entries.Add(new Entry(features[f].Name, mean, std, MetricOf(task)));
        }
        return entries.OrderByDescending(e => e.Mean).ToList();
    }

    /// <summary>
    /// The task's metric for each block of <paramref name="blockSize"/> consecutive rows of a scored view (the chain's output:
    /// Label plus Score, or the PredictedLabel key for multiclass).
    /// </summary>
    internal static double[] Metrics(MlTask task, IDataView scored, int blockSize, int blocks)
    {
        var result = new double[blocks];
        switch (task)
        {
            case MlTask.Binary:
            {
                var score = scored.GetColumn<float>("Score").ToArray();
                var label = scored.GetColumn<bool>("Label").ToArray();
                for (var b = 0; b < blocks; b++)
                    result[b] = LearningCurve.Auc(new ArraySegment<float>(score, b * blockSize, blockSize).Select(v => (double)v).ToArray(),
                        new ArraySegment<bool>(label, b * blockSize, blockSize));
                break;
            }
            case MlTask.Multiclass:
            {
                var actual = scored.GetColumn<uint>("Label").ToArray();
                var predicted = scored.GetColumn<uint>("PredictedLabel").ToArray();
                // Macro accuracy: the recall of each class present, averaged over those classes.
                for (var b = 0; b < blocks; b++)
                    result[b] = Enumerable.Range(b * blockSize, blockSize).GroupBy(i => actual[i]).Average(g => g.Count(i => actual[i] == predicted[i]) / (double)g.Count());
                break;
            }
            default:
            {
                var actual = scored.GetColumn<float>("Label").ToArray();
                var predicted = scored.GetColumn<float>("Score").ToArray();
                for (var b = 0; b < blocks; b++)
                {
                    var offset = b * blockSize;
                    double mean = 0, residual = 0, total = 0;
                    for (var i = offset; i < offset + blockSize; i++) mean += actual[i];
                    mean /= blockSize;
                    for (var i = offset; i < offset + blockSize; i++)
                    {
                        residual += (actual[i] - predicted[i]) * (double)(actual[i] - predicted[i]);
                        total += (actual[i] - mean) * (actual[i] - mean);
                    }
                    result[b] = total == 0 ? double.NaN : 1 - residual / total;
                }
                break;
            }
        }
        return result;
    }

    /// <summary>Writes the entries as JSON: <c>{"metric": "auc", "rows": N, "repeats": 3, "features": [{"feature", "importance", "std"}]}</c>.</summary>
    public static void Write(string path, IReadOnlyList<Entry> entries, int rows)
    {
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("metric", entries.Count > 0 ? entries[0].Metric : "");
        json.WriteString("method", "permutation");
        json.WriteNumber("rows", rows);
        json.WriteNumber("repeats", Repeats);
        json.WriteStartArray("features");
        foreach (var e in entries)
        {
            json.WriteStartObject();
            json.WriteString("feature", e.Feature);
            Number(json, "importance", e.Mean);
            Number(json, "std", e.StdDev);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value)) json.WriteNumber(name, Math.Round(value, 6));
        else json.WriteNull(name);
    }
}
