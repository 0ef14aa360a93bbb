using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cairn.ML.Training;

/// <summary>
/// A profile of the training data, stored as <c>data_profile.json</c> in the model package so drift checks can compare
/// serving traffic with what the model saw: per feature its kind, count, nulls and min/max/mean/std/quantiles
/// (numeric) or distinct count and top categories with frequencies (categorical, text).
/// </summary>
public static class DataProfile
{
    public const string FileName = "data_profile.json";

    public static JsonObject Build(TrainingData data, int topCategories = 10)
    {
        // Features are profiled in parallel (each sorts or groups its own column), then assembled in their order.
        var nodes = new JsonObject[data.Features.Count];
        Parallel.For(0, data.Features.Count, i => nodes[i] = Profile(data, data.Features[i], topCategories));
        var features = new JsonObject();
        for (var i = 0; i < nodes.Length; i++) features[data.Features[i].Name] = nodes[i];
        return new JsonObject
        {
            ["rows"] = data.RowCount,
            ["source"] = Path.GetFullPath(data.Table.Path),
            ["sha256"] = data.Sha256,
            ["features"] = features,
        };
    }

    private static JsonObject Profile(TrainingData data, Feature feature, int topCategories)
    {
        var node = new JsonObject { ["type"] = feature.Kind.ToString().ToLowerInvariant() };
        if (feature.Kind == Training.FeatureKind.Numeric)
        {
            var all = (double[])data.Batch[feature.Name];
            var values = new double[all.Length];
            var count = 0;
            foreach (var v in all)
                if (!double.IsNaN(v)) values[count++] = v;
            Array.Resize(ref values, count);
            node["count"] = values.Length;
            node["nulls"] = all.Length - values.Length;
            if (values.Length > 0)
            {
                double sum = 0, squares = 0, min = double.PositiveInfinity, max = double.NegativeInfinity;
                foreach (var v in values)
                {
                    sum += v;
                    min = Math.Min(min, v);
                    max = Math.Max(max, v);
                }
                var mean = sum / values.Length;
                foreach (var v in values) squares += (v - mean) * (v - mean);
                // The order statistics the quantiles interpolate between, put in place without sorting the whole column.
                var ranks = QuantileLevels.SelectMany(q => QuantileRanks(values.Length, q)).Distinct().Order().ToArray();
                SelectRanks(values, 0, values.Length - 1, ranks, 0, ranks.Length);
                node["min"] = min;
                node["max"] = max;
                node["mean"] = mean;
                node["std"] = Math.Sqrt(squares / values.Length);
                node["quantiles"] = new JsonObject
                {
                    ["p05"] = Quantile(values, 0.05), ["p25"] = Quantile(values, 0.25), ["p50"] = Quantile(values, 0.5),
                    ["p75"] = Quantile(values, 0.75), ["p95"] = Quantile(values, 0.95),
                };
            }
        }
        else
        {
            var all = (string?[])data.Batch[feature.Name];
            var present = all.Where(v => v is not null).ToList();
            node["count"] = present.Count;
            node["nulls"] = all.Length - present.Count;
            var groups = present.GroupBy(v => v!, StringComparer.Ordinal).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).ToList();
            node["distinct"] = groups.Count;
            node["top"] = new JsonArray(groups.Take(topCategories).Select(g => (JsonNode?)new JsonObject
            {
                ["value"] = g.Key,
                ["count"] = g.Count(),
                ["frequency"] = (double)g.Count() / Math.Max(present.Count, 1),
            }).ToArray());
        }
        return node;
    }

    public static void Write(string path, JsonObject profile) =>
        File.WriteAllText(path, profile.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    private static readonly double[] QuantileLevels = [0.05, 0.25, 0.5, 0.75, 0.95];

    /// <summary>The two ranks <see cref="Quantile"/> reads for level <paramref name="q"/> of <paramref name="n"/> values.</summary>
    private static int[] QuantileRanks(int n, double q)
    {
        var low = (int)Math.Floor(q * (n - 1));
        return [low, Math.Min(low + 1, n - 1)];
    }

    /// <summary>
    /// Puts the elements of ranks <c>ranks[rlo..rhi)</c> (ascending, within [lo, hi]) where a sort would put them: a quickselect
    /// for several ranks at once, each pass partitioning three ways around a median-of-three pivot and going on only into
    /// the parts that hold a wanted rank. Linear time for a handful of ranks, against a sort's n log n.
    /// </summary>
    internal static void SelectRanks(double[] a, int lo, int hi, int[] ranks, int rlo, int rhi)
    {
        while (rlo < rhi)
        {
            if (hi - lo < 32)
            {
                Array.Sort(a, lo, hi - lo + 1);
                return;
            }
            double x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi];
            var pivot = Math.Max(Math.Min(x, y), Math.Min(Math.Max(x, y), z));
            int lt = lo, i = lo, gt = hi;
            while (i <= gt)
            {
                var v = a[i];
                if (v < pivot)
                {
                    a[i++] = a[lt];
                    a[lt++] = v;
                }
                else if (v > pivot)
                {
                    a[i] = a[gt];
                    a[gt--] = v;
                }
                else i++;
            }
            // [lo, lt) below the pivot, [lt, gt] equal to it (already in place), (gt, hi] above it.
            var below = rlo;
            while (below < rhi && ranks[below] < lt) below++;
            var above = below;
            while (above < rhi && ranks[above] <= gt) above++;
            SelectRanks(a, lo, lt - 1, ranks, rlo, below);
            (lo, rlo) = (gt + 1, above);
        }
    }

    /// <summary>Linear interpolation between closest ranks (numpy's default) on sorted values (or values whose ranks it reads are in place).</summary>
    public static double Quantile(double[] sorted, double q)
    {
        if (sorted.Length == 1) return sorted[0];
        var position = q * (sorted.Length - 1);
        var low = (int)Math.Floor(position);
        var high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
    }
}
