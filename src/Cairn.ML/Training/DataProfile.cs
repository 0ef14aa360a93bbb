using System.Text.Json;
using System.Text.Json.Nodes;
using Cairn.Data;

namespace Cairn.ML.Training;

/// <summary>
/// A profile of the training data, stored as <c>data_profile.json</c> in the model package so drift checks can compare
/// serving traffic with what the model saw. Each feature is a <see cref="ColumnProfile"/> (the profile dataset records use
/// too), written as: its kind (<c>type</c>), count, nulls (and <c>missing</c>, the same), distinct count, min/max/mean/std,
/// quantiles and histogram (numeric), top categories with frequencies (categorical, text).
/// </summary>
public static class DataProfile
{
    public const string FileName = "data_profile.json";

    /// <summary>Each feature's profile, in feature order.</summary>
    public static IReadOnlyList<ColumnProfile> Columns(TrainingData data, int topCategories = 10)
    {
        ArgumentNullException.ThrowIfNull(data);
        // Features are profiled in parallel (each selects or groups its own column), then kept in their order.
        var columns = new ColumnProfile[data.Features.Count];
        Parallel.For(0, data.Features.Count, i =>
        {
            var feature = data.Features[i];
            var kind = feature.Kind.ToString().ToLowerInvariant();
            columns[i] = feature.Kind == FeatureKind.Numeric
                ? ColumnProfiler.OfNumbers(feature.Name, kind, (double[])data.Batch[feature.Name])
                : ColumnProfiler.OfStrings(feature.Name, kind, (string?[])data.Batch[feature.Name], topCategories);
        });
        return columns;
    }

    public static JsonObject Build(TrainingData data, int topCategories = 10)
    {
        ArgumentNullException.ThrowIfNull(data);
        var features = new JsonObject();
        foreach (var column in Columns(data, topCategories)) features[column.Name] = ToJson(column);
        return new JsonObject
        {
            ["rows"] = data.RowCount,
            ["source"] = Path.GetFullPath(data.Table.Path),
            ["sha256"] = data.Sha256,
            ["features"] = features,
        };
    }

    /// <summary>A feature's entry in <c>data_profile.json</c>; the fields of earlier versions keep their names and meaning.</summary>
    public static JsonObject ToJson(ColumnProfile column)
    {
        ArgumentNullException.ThrowIfNull(column);
        var node = new JsonObject
        {
            ["type"] = column.Kind,
            ["count"] = Count(column.Count),
            ["nulls"] = Count(column.Missing),
            ["missing"] = Count(column.Missing),
            ["distinct"] = Count(column.Distinct),
            ["distinct_capped"] = column.DistinctCapped,
        };
        if (column.Min is { } min) node["min"] = min;
        if (column.Max is { } max) node["max"] = max;
        if (column.Mean is { } mean) node["mean"] = mean;
        if (column.Std is { } std) node["std"] = std;
        if (column.Quantiles is { } quantiles)
        {
            var q = new JsonObject();
            foreach (var (name, _) in ColumnProfiler.Levels) q[name] = quantiles[name];
            node["quantiles"] = q;
        }
        if (column.Histogram is { } histogram)
            node["histogram"] = new JsonObject
            {
                ["edges"] = new JsonArray(histogram.Edges.Select(e => (JsonNode?)e).ToArray()),
                ["counts"] = new JsonArray(histogram.Counts.Select(c => (JsonNode?)Count(c)).ToArray()),
            };
        if (column.Top is { } top)
            node["top"] = new JsonArray(top.Select(c => (JsonNode?)new JsonObject
            {
                ["value"] = c.Value,
                ["count"] = Count(c.Count),
                ["frequency"] = c.Frequency,
            }).ToArray());
        return node;
    }

    /// <summary>A count as the file has always written it: an int (a long only past int's range).</summary>
    private static JsonValue Count(long value) => value <= int.MaxValue ? JsonValue.Create((int)value) : JsonValue.Create(value);

    public static void Write(string path, JsonObject profile) =>
        File.WriteAllText(path, profile.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    /// <inheritdoc cref="ColumnProfiler.SelectRanks"/>
    internal static void SelectRanks(double[] a, int lo, int hi, int[] ranks, int rlo, int rhi) => ColumnProfiler.SelectRanks(a, lo, hi, ranks, rlo, rhi);

    /// <inheritdoc cref="ColumnProfiler.Quantile"/>
    public static double Quantile(double[] sorted, double q) => ColumnProfiler.Quantile(sorted, q);
}
