using System.Text.Json.Nodes;
using Cairn.Monitoring;
using Parquet;
using Parquet.Schema;

namespace Cairn.ML.Training;

/// <summary>
/// The training rows a model package keeps for drift checks, as <c>reference_sample.parquet</c> beside
/// <c>data_profile.json</c>: every feature column and the label column under their training names, at most
/// <see cref="MaxRows"/> rows: all of them when the data is that small, otherwise a uniform sample without replacement drawn
/// with the recipe's seed (the same rows for the same data and seed), kept in file order. Numeric features are doubles (NaN
/// where missing), other features strings (null where missing), the label as written. <c>cairn drift models:/...</c> and the
/// server's monitor read it as their reference (docs/MONITORING.md). When the recipe asks (<c>reference_sketch: true</c>) and
/// the data has more rows than the sample, <c>reference_sketch.json</c> beside it holds a <see cref="QuantileSketch"/> of every
/// numeric feature over all rows, which <c>cairn drift models:/... --sketch</c> compares against.
/// </summary>
public static class ReferenceSample
{
    /// <summary>The file's name in the model package.</summary>
    public const string FileName = "reference_sample.parquet";

    /// <summary>The file of per-feature quantile sketches over all training rows (recipe field <c>reference_sketch</c>).</summary>
    public const string SketchFileName = "reference_sketch.json";

    /// <summary>The most rows the sample keeps.</summary>
    public const int MaxRows = 100_000;

    /// <summary>
    /// The rows kept of <paramref name="rows"/>, ascending: all of them up to <paramref name="maxRows"/>, otherwise
    /// <paramref name="maxRows"/> drawn uniformly without replacement (a partial Fisher–Yates shuffle seeded by <paramref name="seed"/>).
    /// </summary>
    public static int[] Rows(int rows, int seed, int maxRows = MaxRows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        if (rows <= maxRows) return Enumerable.Range(0, rows).ToArray();
        var order = new int[rows];
        for (var i = 0; i < rows; i++) order[i] = i;
        var random = new Random(seed);
        for (var i = 0; i < maxRows; i++)
        {
            var j = random.Next(i, rows);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var kept = order.AsSpan(0, maxRows).ToArray();
        Array.Sort(kept);
        return kept;
    }

    /// <summary>Writes the sample of <paramref name="data"/> (features, then the label <paramref name="label"/>) to <paramref name="path"/>.</summary>
    public static async Task WriteAsync(string path, TrainingData data, string label, int seed, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        var rows = Rows(data.RowCount, seed);
        var columns = new List<(DataField Field, Array Values)>();
        foreach (var feature in data.Features)
        {
            columns.Add(data.Batch[feature.Name] switch
            {
                double[] numbers => (new DataField<double>(feature.Name), Gather(numbers, rows)),
                string?[] strings => (new DataField<string>(feature.Name, true), Gather(strings, rows)),
                var other => throw new InvalidStateException($"Feature '{feature.Name}' is held as {other.GetType().Name}, which the reference sample cannot store."),
            });
        }
        if (!data.Features.Any(f => f.Name == label)) columns.Add((new DataField<string>(label, true), Gather(data.RawLabels, rows)));
        await using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(columns.Select(c => (Field)c.Field).ToArray()), stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        using var group = writer.CreateRowGroup();
        foreach (var (field, values) in columns)
        {
            if (values is double[] d) await group.WriteAsync<double>((DataField<double>)field, d.AsMemory(), null, null, cancellationToken).ConfigureAwait(false);
            else await group.WriteAsync((DataField<string>)field, (IReadOnlyCollection<string>)values, null).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Writes <c>{"rows", "k", "features": {name: sketch}}</c> to <paramref name="path"/>: a <see cref="QuantileSketch"/> of every
    /// numeric feature over all rows of <paramref name="data"/> (NaN left out), features sketched in parallel.
    /// </summary>
    public static void WriteSketches(string path, TrainingData data, int k = QuantileSketch.DefaultK)
    {
        ArgumentNullException.ThrowIfNull(data);
        var numeric = data.Features.Where(f => data.Batch[f.Name] is double[]).ToArray();
        var sketches = new QuantileSketch[numeric.Length];
        Parallel.For(0, numeric.Length, i =>
        {
            var sketch = new QuantileSketch(k);
            sketch.AddRange((double[])data.Batch[numeric[i].Name]);
            sketches[i] = sketch;
        });
        var features = new JsonObject();
        for (var i = 0; i < numeric.Length; i++) features[numeric[i].Name] = sketches[i].ToJson();
        File.WriteAllText(path, new JsonObject { ["rows"] = data.RowCount, ["k"] = k, ["features"] = features }.ToJsonString());
    }

    /// <summary>Reads the sketches <see cref="WriteSketches"/> wrote, by feature name; <paramref name="path"/> names the file in errors.</summary>
    public static Dictionary<string, QuantileSketch> ReadSketches(string path)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidParameterValueException($"{path}: not JSON ({e.Message}).");
        }
        if (root?["features"] is not JsonObject features) throw new InvalidParameterValueException($"{path}: no 'features' object.");
        return features.ToDictionary(f => f.Key, f => QuantileSketch.FromJson(f.Value, $"{path}: feature '{f.Key}'"), StringComparer.Ordinal);
    }

    private static T[] Gather<T>(T[] values, int[] rows)
    {
        var kept = new T[rows.Length];
        for (var i = 0; i < rows.Length; i++) kept[i] = values[rows[i]];
        return kept;
    }
}
