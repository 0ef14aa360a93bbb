using Cairn.ML.Models;
using System.Text.Json;
using Cairn.Metrics;
using RegressionMetrics = Cairn.Metrics.RegressionMetrics;
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
    /// Computes the importances over the first <c>min(testCount, MaxRows)</c> held-out rows. <paramref name="scoreBlocks"/>
    /// gets that row count and the blocks, and returns the task's metric for each block, all blocks scored in one pass: block k
    /// takes one feature's values from other rows (<c>Source[i]</c>, a position among those rows, supplies row i) when its swap
    /// is given; the first block, unswapped, is the baseline.
    /// </summary>
    internal static IReadOnlyList<Entry> Compute(IReadOnlyList<Feature> features, int testCount, MlTask task, int seed,
        Func<int, IReadOnlyList<(int Feature, int[] Source)?>, double[]> scoreBlocks)
    {
        var count = Math.Min(testCount, MaxRows);
        if (count < 2) return [];
        var random = new Random(seed);
        var swaps = new List<(int Feature, int[] Source)?> { null };
        for (var f = 0; f < features.Count; f++)
            for (var r = 0; r < Repeats; r++)
            {
                var source = new int[count];
                for (var i = 0; i < count; i++) source[i] = i;
                random.Shuffle(source);
                swaps.Add((f, source));
            }
        var scores = scoreBlocks(count, swaps);
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
    /// Scores the blocks of a tree model without ML.NET: each row's feature vector (as the chain's <c>Features</c> column
    /// holds it) with the swapped feature's slots (<paramref name="slots"/>: start and length per recipe feature) copied from
    /// its source row, walked through the trees. Shuffling a feature's slots is shuffling the feature itself, since every
    /// transform before the trainer works row by row and slot by slot. A tree that never splits on the feature gives the
    /// same output as on the unshuffled row, and so does a tree whose path for that row reads none of the feature's slots;
    /// only the others are walked again. The outputs are added in tree order either way, so the scores are the ones
    /// <see cref="TreeEnsemble.Score"/> gives.
    /// </summary>
    internal static double[] ScoreBlocks(TreeEnsemble scorer, FeatureRows vectors, (int Start, int Length)[] slots, int count,
        IReadOnlyList<(int Feature, int[] Source)?> swaps)
    {
        var trees = scorer.Trees;
        var width = vectors.Width;
        // With up to 64 features, the first walk also records which features each row's path through each tree reads;
        // only those (row, tree) pairs can change when a feature is shuffled. Otherwise, every tree splitting on it is walked.
        var featureOfSlot = slots.Length <= 64 ? new int[width] : null;
        if (featureOfSlot is not null)
            for (var f = 0; f < slots.Length; f++) featureOfSlot.AsSpan(slots[f].Start, slots[f].Length).Fill(f);
        var outputs = new double[count * trees.Length];
        var read = featureOfSlot is null ? null : new ulong[count * trees.Length];
        Parallel.For(0, count, i =>
        {
            for (var t = 0; t < trees.Length; t++)
                outputs[i * trees.Length + t] = featureOfSlot is null ? trees[t].Output(vectors[i]) : trees[t].Output(vectors[i], featureOfSlot, out read![i * trees.Length + t]);
        });
        var splitsOn = read is null ? slots.Select(s => trees.Select(t => t.SplitsOn(s.Start, s.Length)).ToArray()).ToArray() : null;
        var scores = new double[count * swaps.Count];
        Parallel.For(0, swaps.Count, () => new float[width], (block, _, row) =>
        {
            var swap = swaps[block];
            var bit = swap is { } w ? 1UL << w.Feature : 0;
            var splits = swap is { } v && splitsOn is not null ? splitsOn[v.Feature] : null;
            for (var i = 0; i < count; i++)
            {
                if (swap is { } s)
                {
                    vectors[i].CopyTo(row);
                    var (start, length) = slots[s.Feature];
                    vectors[s.Source[i]].Slice(start, length).CopyTo(row.AsSpan(start, length));
                }
                double sum = 0;
                for (var t = 0; t < trees.Length; t++)
                {
                    var again = swap is not null && (read is not null ? (read[i * trees.Length + t] & bit) != 0 : splits![t]);
                    sum += scorer.Weights[t] * (again ? trees[t].Output(row) : outputs[i * trees.Length + t]);
                }
                scores[block * count + i] = scorer.Combine(sum);
            }
            return row;
        }, _ => { });
        return scores;
    }

    /// <summary>
    /// The task's metric for each block of <paramref name="blockSize"/> consecutive scores; every block holds the same rows,
    /// whose labels (binary) or targets (regression) are given once. The metrics are <see cref="Cairn.Metrics"/>'s, as the
    /// trainer reports them: the AUC, and R² from sums as ML.NET has it.
    /// </summary>
    internal static double[] BlockMetrics(MlTask task, double[] scores, bool[]? labels, float[]? targets, int blockSize, int blocks)
    {
        var result = new double[blocks];
        for (var b = 0; b < blocks; b++)
        {
            var block = scores.AsSpan(b * blockSize, blockSize);
            result[b] = task == MlTask.Binary
                ? BinaryCurves.Auc(block, labels.AsSpan(0, blockSize))
                : RegressionMetrics.Evaluate(targets.AsSpan(0, blockSize), block).R2;
        }
        return result;
    }

    /// <summary>
    /// The task's metric for each block of <paramref name="blockSize"/> consecutive rows of a scored view (the chain's output:
    /// Label plus Score, or the PredictedLabel key for multiclass).
    /// </summary>
    internal static double[] Metrics(MlTask task, IDataView scored, int blockSize, int blocks)
    {
        switch (task)
        {
            case MlTask.Binary:
                return BlockMetrics(task, Array.ConvertAll(scored.GetColumn<float>("Score").ToArray(), v => (double)v),
                    scored.GetColumn<bool>("Label").Take(blockSize).ToArray(), null, blockSize, blocks);
            case MlTask.Regression:
                return BlockMetrics(task, Array.ConvertAll(scored.GetColumn<float>("Score").ToArray(), v => (double)v),
                    null, scored.GetColumn<float>("Label").Take(blockSize).ToArray(), blockSize, blocks);
            default:
            {
                // Keys count from 1 (0 is missing, left out); macro accuracy from the predicted classes, as the trainer reports it.
                var actual = scored.GetColumn<uint>("Label").Select(k => (int)k - 1).ToArray();
                var predicted = scored.GetColumn<uint>("PredictedLabel").Select(k => (int)k - 1).ToArray();
                var classCount = (int)((KeyDataViewType)scored.Schema["Label"].Type).Count;
                var result = new double[blocks];
                for (var b = 0; b < blocks; b++)
                    result[b] = MulticlassMetrics.FromPredictions(actual.AsSpan(b * blockSize, blockSize), predicted.AsSpan(b * blockSize, blockSize), classCount).MacroAccuracy;
                return result;
            }
        }
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
