using Cairn.Monitoring;

namespace Cairn.Tests.Monitoring;

/// <summary>The sketch's stated bound (docs/MONITORING.md) held on random data, in several orders, merged or not.</summary>
public sealed class QuantileSketchTests
{
    private static double[] Data(string kind, int n, int seed)
    {
        var random = new Random(seed);
        var values = new double[n];
        for (var i = 0; i < n; i++)
        {
            var normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            values[i] = kind switch
            {
                "few values" => random.Next(7),
                "heavy tail" => Math.Exp(3 * normal),
                _ => normal,
            };
        }
        if (kind == "ascending") Array.Sort(values);
        if (kind == "descending") Array.Sort(values, (a, b) => b.CompareTo(a));
        return values;
    }

    /// <summary>Checks every rank and quantile query against the sorted data: within L·n/K.</summary>
    private static void AssertWithinBound(QuantileSketch sketch, double[] data)
    {
        var sorted = data.Where(v => !double.IsNaN(v)).Order().ToArray();
        var n = sorted.Length;
        Assert.Equal(n, sketch.Count);
        Assert.True(sketch.CompactedLevels > 0, "the test must make the sketch compact");
        Assert.True(sketch.CompactedLevels <= Math.Ceiling(Math.Log2((double)n / sketch.K)) + 1, $"{sketch.CompactedLevels} levels");
        var bound = sketch.RankError * n;
        var worst = 0.0;
        for (var i = 0; i <= 400; i++)
        {
            var x = sorted[(int)((long)(n - 1) * i / 400)];
            var atMost = UpperBound(sorted, x);
            var below = LowerBound(sorted, x);
            worst = Math.Max(worst, Math.Max(Math.Abs(sketch.CountAtMost(x) - atMost), Math.Abs(sketch.CountBelow(x) - below)));
            var q = i / 400.0;
            var y = sketch.Quantile(q);
            Assert.True(LowerBound(sorted, y) <= q * n + bound && UpperBound(sorted, y) >= q * n - bound, $"quantile {q}: {y}");
        }
        Assert.True(worst <= bound, $"rank error {worst} over the bound {bound}");
        Assert.Equal(sorted[0], sketch.Min);
        Assert.Equal(sorted[^1], sketch.Max);
    }

    private static int UpperBound(double[] sorted, double x)
    {
        var at = Array.BinarySearch(sorted, x);
        if (at < 0) return ~at;
        while (at < sorted.Length && sorted[at] == x) at++;
        return at;
    }

    private static int LowerBound(double[] sorted, double x)
    {
        var at = Array.BinarySearch(sorted, x);
        if (at < 0) return ~at;
        while (at > 0 && sorted[at - 1] == x) at--;
        return at;
    }

    [Theory]
    [InlineData("normal", 64)]
    [InlineData("normal", 1024)]
    [InlineData("ascending", 64)]
    [InlineData("descending", 128)]
    [InlineData("heavy tail", 256)]
    [InlineData("few values", 32)]
    public void Ranks_and_quantiles_stay_within_the_stated_bound(string kind, int k)
    {
        var data = Data(kind, 200_000, 5);
        var sketch = new QuantileSketch(k);
        sketch.AddRange(data);

        AssertWithinBound(sketch, data);
        Assert.True(sketch.Retained <= (sketch.CompactedLevels + 1) * k, $"{sketch.Retained} values held");
    }

    [Fact]
    public void Merged_sketches_keep_the_bound_and_exact_moments()
    {
        var data = Data("normal", 150_000, 9);
        var parts = Enumerable.Range(0, 12).Select(p =>
        {
            var part = new QuantileSketch(128);
            part.AddRange(data.AsSpan(p * 12_500, 12_500));
            return part;
        }).ToList();
        // Merged in a tree, not one after the other: the order and grouping do not matter to the bound.
        while (parts.Count > 1)
        {
            var next = new List<QuantileSketch>();
            for (var i = 0; i < parts.Count; i += 2)
            {
                if (i + 1 < parts.Count) parts[i].Merge(parts[i + 1]);
                next.Add(parts[i]);
            }
            parts = next;
        }
        var merged = parts[0];

        AssertWithinBound(merged, data);
        var mean = data.Average();
        Assert.Equal(mean, merged.Mean, 1e-12);
        Assert.Equal(Math.Sqrt(data.Sum(v => (v - mean) * (v - mean)) / data.Length), merged.StandardDeviation, 1e-12);
    }

    [Fact]
    public void A_sketch_written_as_json_reads_back_the_same_and_bad_json_is_refused()
    {
        var data = Data("heavy tail", 50_000, 2);
        var sketch = new QuantileSketch(64);
        sketch.AddRange(data);
        sketch.Add(double.NaN); // not a value

        var back = QuantileSketch.FromJson(System.Text.Json.Nodes.JsonNode.Parse(sketch.ToJson().ToJsonString()), "s.json");

        Assert.Equal(sketch.Count, back.Count);
        Assert.Equal(sketch.CompactedLevels, back.CompactedLevels);
        foreach (var q in new[] { 0.01, 0.1, 0.5, 0.9, 0.99 }) Assert.Equal(sketch.Quantile(q), back.Quantile(q));
        var tampered = sketch.ToJson();
        tampered["count"] = sketch.Count + 1;
        var error = Assert.Throws<InvalidParameterValueException>(() => QuantileSketch.FromJson(tampered, "s.json"));
        Assert.StartsWith("s.json: not a quantile sketch", error.Message);
        Assert.Throws<InvalidParameterValueException>(() => new QuantileSketch(8));
        Assert.Throws<InvalidParameterValueException>(() => sketch.Merge(new QuantileSketch(128)));
    }

    [Fact]
    public void Drift_from_sketches_is_close_to_the_exact_drift_within_the_rank_error()
    {
        var reference = Data("normal", 200_000, 1);
        var current = Data("normal", 150_000, 2).Select(v => v * 1.1 + 0.05).ToArray();
        var column = new NumericDriftColumn("x", reference, current);

        var exact = DriftAnalyzer.Compare([column], new DriftOptions(), null, TestContext.Current.CancellationToken).Features[0];
        var sketched = DriftAnalyzer.Compare([column], new DriftOptions { SketchK = 4096 }, null, TestContext.Current.CancellationToken).Features[0];

        var error = 2 * (Math.Ceiling(Math.Log2(200_000.0 / 4096)) + 1) / 4096; // both sides' rank error
        Assert.InRange(sketched.Ks!.Value.Statistic, exact.Ks!.Value.Statistic - error, exact.Ks.Value.Statistic + error);
        Assert.Equal(exact.Wasserstein!.Value, sketched.Wasserstein!.Value, 0.01);
        Assert.Equal(exact.Psi!.Value, sketched.Psi!.Value, 0.01);
        Assert.Equal(exact.Js!.Value, sketched.Js!.Value, 0.01);
        Assert.Contains("approximate", sketched.Note);
        Assert.Null(exact.Note);
        Assert.Equal(exact.ReferenceCount, sketched.ReferenceCount);
    }
}
